//! AWS Signature Version 4, as RadosGW checks it for the admin ops API.
//!
//! `verify` is what the server runs; `sign` exists for simcloud's own tests and demos (the
//! pollsters crate has its own signer, so the two are checked against each other).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::util::{pct_decode, pct_encode};

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// No `Authorization` header, or not `AWS4-HMAC-SHA256`.
    #[error("missing or unsupported Authorization header")]
    Missing,
    /// The header could not be parsed.
    #[error("malformed Authorization header: {0}")]
    Malformed(&'static str),
    /// Unknown access key.
    #[error("unknown access key {0}")]
    UnknownKey(String),
    /// Wrong region or service in the credential scope.
    #[error("credential scope {0} does not match region/service")]
    Scope(String),
    /// The signature does not match.
    #[error("signature does not match")]
    Mismatch,
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut m = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// Hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn canonical_uri(path: &str) -> String {
    let p = if path.is_empty() { "/" } else { path };
    p.split('/')
        .map(|seg| pct_encode(&pct_decode(seg)))
        .collect::<Vec<_>>()
        .join("/")
}

fn canonical_query(q: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = q
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (pct_encode(&pct_decode(k)), pct_encode(&pct_decode(v)))
        })
        .collect();
    pairs.sort();
    pairs
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The signature of a request (hex), given its parts and the signed header values.
#[allow(clippy::too_many_arguments)]
pub fn signature(
    method: &str,
    path: &str,
    query: Option<&str>,
    signed: &[(String, String)],
    payload_hash: &str,
    amz_date: &str,
    region: &str,
    service: &str,
    secret: &str,
) -> String {
    let names: Vec<&str> = signed.iter().map(|(k, _)| k.as_str()).collect();
    let mut canon_headers = String::new();
    for (k, v) in signed {
        let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
        canon_headers.push_str(&format!("{k}:{v}\n"));
    }
    let creq = format!(
        "{method}\n{}\n{}\n{canon_headers}\n{}\n{payload_hash}",
        canonical_uri(path),
        canonical_query(query),
        names.join(";")
    );
    let date = amz_date.get(..8).unwrap_or("");
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let sts = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(creq.as_bytes())
    );
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, service.as_bytes());
    let k = hmac(&k, b"aws4_request");
    hex::encode(hmac(&k, sts.as_bytes()))
}

/// Signs a request: returns the `Authorization` header value. `headers` must include
/// `host` and `x-amz-date` (lower-case names).
#[allow(clippy::too_many_arguments)]
pub fn sign(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
    access: &str,
    secret: &str,
    region: &str,
    service: &str,
) -> String {
    let mut signed: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    signed.sort();
    let amz_date = signed
        .iter()
        .find(|(k, _)| k == "x-amz-date")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let sig = signature(
        method,
        path,
        query,
        &signed,
        &sha256_hex(body),
        &amz_date,
        region,
        service,
        secret,
    );
    let names: Vec<&str> = signed.iter().map(|(k, _)| k.as_str()).collect();
    format!(
        "AWS4-HMAC-SHA256 Credential={access}/{}/{region}/{service}/aws4_request, SignedHeaders={}, Signature={sig}",
        amz_date.get(..8).unwrap_or(""),
        names.join(";")
    )
}

/// Verifies a request's SigV4 `Authorization`; returns the access key on success.
/// `secret_for` maps an access key to its secret.
#[allow(clippy::too_many_arguments)]
pub fn verify(
    method: &str,
    path: &str,
    query: Option<&str>,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
    region: &str,
    service: &str,
    secret_for: &dyn Fn(&str) -> Option<String>,
) -> Result<String, SigError> {
    let auth = header("authorization").ok_or(SigError::Missing)?;
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256")
        .ok_or(SigError::Missing)?
        .trim();
    let mut cred = None;
    let mut signed_names = None;
    let mut sig = None;
    for part in rest.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or(SigError::Malformed("expected key=value parts"))?;
        match k {
            "Credential" => cred = Some(v),
            "SignedHeaders" => signed_names = Some(v),
            "Signature" => sig = Some(v),
            _ => {}
        }
    }
    let cred = cred.ok_or(SigError::Malformed("no Credential"))?;
    let names = signed_names.ok_or(SigError::Malformed("no SignedHeaders"))?;
    let sig = sig.ok_or(SigError::Malformed("no Signature"))?;
    let mut c = cred.splitn(5, '/');
    let access = c.next().unwrap_or("");
    let date = c.next().unwrap_or("");
    let (reg, svc, term) = (c.next(), c.next(), c.next());
    if reg != Some(region) || svc != Some(service) || term != Some("aws4_request") {
        return Err(SigError::Scope(cred.to_owned()));
    }
    let secret = secret_for(access).ok_or_else(|| SigError::UnknownKey(access.to_owned()))?;
    let amz_date = header("x-amz-date").ok_or(SigError::Malformed("no x-amz-date"))?;
    if !amz_date.starts_with(date) {
        return Err(SigError::Malformed(
            "credential date differs from x-amz-date",
        ));
    }
    let signed: Vec<(String, String)> = names
        .split(';')
        .map(|n| (n.to_owned(), header(n).unwrap_or_default()))
        .collect();
    let payload = header("x-amz-content-sha256")
        .filter(|v| v != "UNSIGNED-PAYLOAD")
        .unwrap_or_else(|| sha256_hex(body));
    let expect = signature(
        method, path, query, &signed, &payload, &amz_date, region, service, &secret,
    );
    // Compare without early exit.
    let eq = expect.len() == sig.len()
        && expect
            .bytes()
            .zip(sig.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if eq {
        Ok(access.to_owned())
    } else {
        Err(SigError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AWS SigV4 test-suite case "get-vanilla-query-order-key-case".
    #[test]
    fn aws_test_vector() {
        let signed = vec![
            ("host".to_string(), "example.amazonaws.com".to_string()),
            ("x-amz-date".to_string(), "20150830T123600Z".to_string()),
        ];
        let sig = signature(
            "GET",
            "/",
            Some("Param2=value2&Param1=value1"),
            &signed,
            &sha256_hex(b""),
            "20150830T123600Z",
            "us-east-1",
            "service",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        );
        assert_eq!(
            sig,
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        );
    }

    #[test]
    fn sign_then_verify() {
        let hdrs = [
            ("host", "127.0.0.1:8080"),
            ("x-amz-date", "20240102T030405Z"),
        ];
        let auth = sign(
            "GET",
            "/admin/bucket",
            Some("uid=a%24b&stats=true"),
            &hdrs,
            b"",
            "ak",
            "sk",
            "us-east-1",
            "s3",
        );
        let header = |n: &str| -> Option<String> {
            match n {
                "authorization" => Some(auth.clone()),
                "host" => Some("127.0.0.1:8080".into()),
                "x-amz-date" => Some("20240102T030405Z".into()),
                _ => None,
            }
        };
        let secret = |a: &str| (a == "ak").then(|| "sk".to_string());
        assert_eq!(
            verify(
                "GET",
                "/admin/bucket",
                Some("stats=true&uid=a$b"),
                &header,
                b"",
                "us-east-1",
                "s3",
                &secret
            ),
            Ok("ak".into())
        );
        assert_eq!(
            verify(
                "GET",
                "/admin/usage",
                Some("uid=a%24b&stats=true"),
                &header,
                b"",
                "us-east-1",
                "s3",
                &secret
            ),
            Err(SigError::Mismatch)
        );
        let wrong = |_: &str| Some("nope".to_string());
        assert_eq!(
            verify(
                "GET",
                "/admin/bucket",
                Some("uid=a%24b&stats=true"),
                &header,
                b"",
                "us-east-1",
                "s3",
                &wrong
            ),
            Err(SigError::Mismatch)
        );
    }
}
