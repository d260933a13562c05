//! Header fields of HTTP/1.1 heads for the own client and server paths: fields parsed by httparse
//! made into a `HeaderMap` whose values share the bytes read, and field lines written.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};

/// Where a field's name and value lie in the buffer that was parsed.
pub struct Span {
    name: (usize, usize),
    value: (usize, usize),
}

/// Where `part`, a slice of `buf`, lies in it.
pub fn position(buf: &[u8], part: &[u8]) -> (usize, usize) {
    let start = part.as_ptr() as usize - buf.as_ptr() as usize;
    (start, start + part.len())
}

/// The fields' positions in `buf`, which they were parsed from.
pub fn spans(buf: &[u8], fields: &[httparse::Header<'_>]) -> Vec<Span> {
    fields
        .iter()
        .map(|f| Span {
            name: position(buf, f.name.as_bytes()),
            value: position(buf, f.value),
        })
        .collect()
}

/// Appends one field line (`name: value` and CRLF) to a head being written.
pub fn push_field(head: &mut Vec<u8>, name: &str, value: &[u8]) {
    head.extend_from_slice(name.as_bytes());
    head.extend_from_slice(b": ");
    head.extend_from_slice(value);
    head.extend_from_slice(b"\r\n");
}

/// The fields as a map over `head` (the parsed buffer, frozen), with room for `more`; `None` when
/// one of them is not a field the `http` types accept.
pub fn header_map(head: &Bytes, spans: &[Span], more: usize) -> Option<HeaderMap> {
    let mut headers = HeaderMap::with_capacity(spans.len() + more);
    for span in spans {
        let name = HeaderName::from_bytes(&head[span.name.0..span.name.1]).ok()?;
        let value = HeaderValue::from_maybe_shared(head.slice(span.value.0..span.value.1)).ok()?;
        headers.append(name, value);
    }
    Some(headers)
}
