//! Entry points for the fuzz targets in `fuzz/`: Pylon's own HTTP/1.1 request and response
//! parsers and the ALB wildcard patterns, reached without sockets. Each checks what must hold
//! for any input, and panics (a finding) when it does not. Not part of Pylon's interface.

use crate::message::pattern::Pattern;

/// Requests as a client sends them to a listener.
pub fn requests(data: &[u8]) {
    let refused = crate::accept::decode_requests(data);
    assert!(
        refused.len() <= data.len() / 16 + 1,
        "more requests than bytes allow"
    );
}

/// A response as a target sends it (the first byte says whether it answers a HEAD request).
pub fn response(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    if let Ok((status, body, _ended)) = crate::upstream::decode_response(rest, first & 1 == 1) {
        assert!((200..1000).contains(&status), "status {status}");
        assert!(body <= rest.len(), "more body than bytes read");
    }
}

/// An ALB pattern and a text: the pattern is split from the text at the first NUL byte.
pub fn pattern(data: &[u8]) {
    let (pattern, text) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(pattern) = std::str::from_utf8(pattern) else {
        return;
    };
    for fold_case in [false, true] {
        // Case-insensitive patterns are matched against lowercased text.
        let subject = |t: &[u8]| {
            if fold_case {
                t.to_ascii_lowercase()
            } else {
                t.to_vec()
            }
        };
        let compiled = Pattern::new(pattern, fold_case);
        let _ = compiled.matches(&subject(text));
        // Without wildcards a pattern matches exactly itself.
        if !pattern.contains(['*', '?']) {
            let itself = subject(pattern.as_bytes());
            assert!(
                compiled.matches(&itself),
                "{pattern:?} does not match itself"
            );
        }
        // `*` matches anything, and a leading `*` anything that ends with the rest.
        assert!(Pattern::new("*", fold_case).matches(&subject(text)));
        let rest = pattern.replace(['*', '?'], "");
        let mut ending = text.to_vec();
        ending.extend(rest.as_bytes());
        let suffix = Pattern::new(&format!("*{rest}"), fold_case);
        assert!(suffix.matches(&subject(&ending)), "*{rest:?}");
    }
}
