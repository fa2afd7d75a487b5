//! Masking of secrets inside URLs, for every message and summary that shows one.

/// Replace the password of `scheme://user:password@host...` URLs (and every host of an
/// oslo.messaging multi-host URL) with `***`. Anything that does not look like a URL with
/// credentials is returned unchanged.
pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // Authority ends at the first '/', '?' or '#'.
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let masked: Vec<String> = authority
        .split(',')
        .map(|hostpart| match hostpart.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:***@{host}"),
                None => format!("{userinfo}@{host}"),
            },
            None => hostpart.to_owned(),
        })
        .collect();
    let mut tail = tail.to_owned();
    // Query options that carry secrets (tooz: sentinel_password; publishers: password).
    for key in ["password", "sentinel_password", "secret", "token"] {
        tail = mask_query(&tail, key);
    }
    format!("{scheme}://{}{tail}", masked.join(","))
}

fn mask_query(tail: &str, key: &str) -> String {
    let Some(qpos) = tail.find('?') else {
        return tail.to_owned();
    };
    let (path, query) = tail.split_at(qpos + 1);
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k == key => format!("{k}=***"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{path}{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::mask_url;

    #[test]
    fn masks_passwords_everywhere() {
        assert_eq!(
            mask_url("redis://:s3cr%40t@ctl:6379/2"),
            "redis://:***@ctl:6379/2"
        );
        assert_eq!(
            mask_url("rabbit://nova:pw1@10.0.0.1:5672,nova:pw2@10.0.0.2:5672/vh"),
            "rabbit://nova:***@10.0.0.1:5672,nova:***@10.0.0.2:5672/vh"
        );
        assert_eq!(
            mask_url("redis://s1:26379?sentinel=m&sentinel_password=sp&x=1"),
            "redis://s1:26379?sentinel=m&sentinel_password=***&x=1"
        );
        assert_eq!(mask_url("gnocchi://"), "gnocchi://");
        assert_eq!(mask_url("not a url"), "not a url");
        assert_eq!(mask_url("http://u@h/p"), "http://u@h/p");
    }
}
