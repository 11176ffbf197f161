//! Path rules of Apache's `PathUtils`, and small helpers to split a path.

use crate::proto::ErrorCode;

/// Checks a znode path as Apache's `PathUtils.validatePath` does: absolute, no trailing
/// slash (except the root), no empty, "." or ".." segments, and no control, surrogate,
/// private-use or specials characters. Any violation is BadArguments.
pub fn validate_path(path: &str) -> Result<(), ErrorCode> {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') {
        return Err(ErrorCode::BadArguments);
    }
    if bytes.len() == 1 {
        return Ok(());
    }
    if bytes.last() == Some(&b'/') {
        return Err(ErrorCode::BadArguments);
    }
    for segment in path[1..].split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(ErrorCode::BadArguments);
        }
    }
    if path.chars().any(forbidden_char) {
        return Err(ErrorCode::BadArguments);
    }
    Ok(())
}

/// A sequential create is validated as Apache does it: on the prefix with a digit
/// appended, so "/q/job-" and "/q/" are both acceptable prefixes.
pub fn validate_path_sequential(path: &str) -> Result<(), ErrorCode> {
    let mut p = String::with_capacity(path.len() + 1);
    p.push_str(path);
    p.push('1');
    validate_path(&p)
}

/// Java checks UTF-16 code units; characters beyond the BMP are surrogate pairs there and
/// so fall in the forbidden U+D800–U+F8FF range.
fn forbidden_char(c: char) -> bool {
    let c = c as u32;
    c == 0
        || (0x01..=0x1f).contains(&c)
        || (0x7f..=0x9f).contains(&c)
        || (0xd800..=0xf8ff).contains(&c)
        || c >= 0xfff0
}

/// The parent of a path: "/a/b" → "/a", "/a" → "/"; the root is its own parent.
pub fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The last segment of a path: "/a/b" → "b".
pub(crate) fn name_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Length as Java's `String.length()` counts it (UTF-16 code units), which is what
/// Apache's approximate data size adds up.
pub(crate) fn java_len(s: &str) -> u64 {
    if s.is_ascii() {
        s.len() as u64
    } else {
        s.chars().map(|c| c.len_utf16() as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_normal_paths() {
        for p in [
            "/",
            "/a",
            "/a/b",
            "/zookeeper/config",
            "/a.b",
            "/..a",
            "/a/...",
            "/é",
        ] {
            assert_eq!(validate_path(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn rejects_bad_paths() {
        for p in [
            "",
            "a",
            "/a/",
            "//",
            "/a//b",
            "/.",
            "/..",
            "/a/./b",
            "/a/../b",
            "/a\0b",
            "/a\u{1}",
            "/a\u{7f}",
            "/a\u{9f}",
            "/\u{e000}",
            "/\u{fff0}",
            "/\u{1f600}",
        ] {
            assert_eq!(validate_path(p), Err(ErrorCode::BadArguments), "{p:?}");
        }
    }

    #[test]
    fn sequential_prefix_may_end_with_slash() {
        assert_eq!(validate_path_sequential("/q/"), Ok(()));
        assert_eq!(validate_path_sequential("/q/job-"), Ok(()));
        assert_eq!(
            validate_path_sequential("/q//"),
            Err(ErrorCode::BadArguments)
        );
        assert_eq!(validate_path_sequential("/q/."), Ok(())); // checks "/q/.1"
        assert_eq!(validate_path_sequential("q-"), Err(ErrorCode::BadArguments));
    }

    #[test]
    fn splits_paths() {
        assert_eq!(parent_of("/a/b"), "/a");
        assert_eq!(parent_of("/a"), "/");
        assert_eq!(parent_of("/"), "/");
        assert_eq!(name_of("/a/b"), "b");
        assert_eq!(java_len("/a"), 2);
        assert_eq!(java_len("/\u{1f600}"), 3);
    }
}
