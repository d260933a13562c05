//! ALB condition patterns: `*` matches any run of characters (none included), `?` exactly one.

/// A compiled pattern. Patterns without wildcards compare directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    Exact(Vec<u8>),
    Wildcard(Vec<u8>),
}

impl Pattern {
    /// Compiles a pattern; `fold_case` lowercases it for case-insensitive matching (hosts).
    pub fn new(pattern: &str, fold_case: bool) -> Self {
        let bytes = if fold_case {
            pattern.to_ascii_lowercase().into_bytes()
        } else {
            pattern.as_bytes().to_vec()
        };
        if bytes.iter().any(|b| *b == b'*' || *b == b'?') {
            Pattern::Wildcard(bytes)
        } else {
            Pattern::Exact(bytes)
        }
    }

    /// Matches `text`, which must already be lowercased for case-insensitive patterns.
    pub fn matches(&self, text: &[u8]) -> bool {
        match self {
            Pattern::Exact(p) => p == text,
            Pattern::Wildcard(p) => glob(p, text),
        }
    }
}

/// Iterative glob with single-star backtracking: linear in practice, never exponential.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        // A `*` is a wildcard even where the text holds a `*` too.
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|b| *b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Pattern::new(p, false).matches(t.as_bytes())
    }

    #[test]
    fn alb_wildcards() {
        assert!(m("/*", "/"));
        assert!(m("/*", "/a/b/c"));
        assert!(m("/foo", "/foo"));
        assert!(!m("/foo", "/foobar"));
        assert!(m("/foo/*", "/foo/"));
        assert!(m("/foo/*", "/foo/bar/baz"));
        assert!(!m("/foo/*", "/foobar"));
        assert!(m("/a?c", "/abc"));
        assert!(!m("/a?c", "/ac"));
        assert!(m("/img/*.png", "/img/x/y.png"));
        assert!(!m("/img/*.png", "/img/x/y.jpg"));
        assert!(m("*a*a*a*", "xaxaxax"));
        assert!(!m("/Foo", "/foo"), "paths are case-sensitive");
    }

    #[test]
    fn hosts_fold_case() {
        let p = Pattern::new("*.Example.com", true);
        assert!(p.matches(b"www.example.com"));
        assert!(p.matches(b"a.b.example.com"));
        assert!(!p.matches(b"example.com"));
    }

    #[test]
    fn a_star_in_the_text_does_not_use_up_the_patterns_star() {
        // Found by the alb_patterns fuzz target: `*` met a `*` in the text as a literal.
        assert!(m("*", "*d"));
        assert!(m("/api/*", "/api/*x"));
        assert!(m("a*c", "a*bc"));
    }
}
