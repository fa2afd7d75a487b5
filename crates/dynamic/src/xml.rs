//! The `xml` response handler: XML → JSON the way Python's `xmltodict.parse` shapes it, so
//! definitions written for upstream address the same paths.
//!
//! - The document is `{root_tag: content}`.
//! - An element without attributes and children is its stripped text, or `null` when empty.
//! - Otherwise a mapping: attributes as `@name`, children by tag (a repeated tag becomes a
//!   list, in document order), and non-empty stripped text as `#text`.
//! - Namespace prefixes are kept as written (`ns:tag`), as xmltodict does by default.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde_json::{Map, Value as Json};

struct Frame {
    tag: String,
    attrs: Vec<(String, Json)>,
    children: Vec<(String, Json)>,
    text: String,
}

fn frame(e: &BytesStart<'_>) -> Result<Frame, String> {
    let tag = String::from_utf8_lossy(e.name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let k = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let v = a.unescape_value().map_err(|e| e.to_string())?.into_owned();
        attrs.push((format!("@{k}"), Json::String(v)));
    }
    Ok(Frame {
        tag,
        attrs,
        children: Vec::new(),
        text: String::new(),
    })
}

fn finish(f: Frame) -> (String, Json) {
    let text = f.text.trim();
    if f.attrs.is_empty() && f.children.is_empty() {
        let v = if text.is_empty() {
            Json::Null
        } else {
            Json::String(text.to_owned())
        };
        return (f.tag, v);
    }
    let mut m = Map::new();
    // Keys whose value is a list *we* built from repeated tags (a child's own value is
    // never a list, but keep the distinction explicit).
    let mut repeated: Vec<String> = Vec::new();
    for (k, v) in f.attrs.into_iter().chain(f.children) {
        match m.get_mut(&k) {
            Some(Json::Array(list)) if repeated.contains(&k) => list.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Json::Array(vec![first, v]);
                repeated.push(k);
            }
            None => {
                m.insert(k, v);
            }
        }
    }
    if !text.is_empty() {
        m.insert("#text".into(), Json::String(text.to_owned()));
    }
    (f.tag, Json::Object(m))
}

/// Parse an XML document into xmltodict's JSON shape.
pub(crate) fn parse(body: &[u8]) -> Result<Json, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<(String, Json)> = None;
    loop {
        match reader
            .read_event()
            .map_err(|e| format!("at byte {}: {e}", reader.buffer_position()))?
        {
            Event::Start(e) => {
                if root.is_some() {
                    return Err("more than one root element".into());
                }
                if stack.len() >= 128 {
                    return Err("elements nested too deeply".into());
                }
                stack.push(frame(&e)?);
            }
            Event::Empty(e) => {
                let done = finish(frame(&e)?);
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None if root.is_none() => root = Some(done),
                    None => return Err("more than one root element".into()),
                }
            }
            Event::End(_) => {
                let f = stack.pop().ok_or("unbalanced end tag")?;
                let done = finish(f);
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Text(t) => {
                if let Some(f) = stack.last_mut() {
                    f.text.push_str(&t.unescape().map_err(|e| e.to_string())?);
                } else if !t.unescape().map_err(|e| e.to_string())?.trim().is_empty() {
                    return Err("text outside the root element".into());
                }
            }
            Event::CData(t) => {
                if let Some(f) = stack.last_mut() {
                    f.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("unclosed element".into());
    }
    let (tag, v) = root.ok_or("no root element")?;
    let mut m = Map::new();
    m.insert(tag, v);
    Ok(Json::Object(m))
}

#[cfg(test)]
mod tests {
    use super::parse;
    use serde_json::json;

    #[test]
    fn xmltodict_shapes() {
        let doc = br#"<?xml version="1.0"?>
<servers count="2">
  <server id="a"><name>web</name><status>ACTIVE</status></server>
  <server id="b"><name>db</name><status/></server>
  <note>hi &amp; bye</note>
  <mixed kind="x">text</mixed>
</servers>"#;
        assert_eq!(
            parse(doc).unwrap(),
            json!({"servers": {
                "@count": "2",
                "server": [
                    {"@id": "a", "name": "web", "status": "ACTIVE"},
                    {"@id": "b", "name": "db", "status": null}
                ],
                "note": "hi & bye",
                "mixed": {"@kind": "x", "#text": "text"}
            }})
        );
        assert_eq!(
            parse(b"<a><b>1</b><b>2</b><b>3</b></a>").unwrap(),
            json!({"a": {"b": ["1", "2", "3"]}})
        );
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"not xml").is_err());
        assert!(parse(b"").is_err());
    }
}
