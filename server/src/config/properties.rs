//! `java.util.Properties.load` syntax, the format of zoo.cfg and of dynamic config files.
//!
//! Comments start with `#` or `!`; a key ends at the first unescaped `=`, `:` or blank;
//! a line ending in an odd number of backslashes continues on the next one; `\uXXXX`
//! and the usual escapes are decoded. Later duplicates override earlier ones, but keep
//! the position of the first occurrence so error order is stable.

use super::error::ConfigError;

/// Ordered key/value pairs as `Properties` would hold them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    entries: Vec<(String, String)>,
}

impl Properties {
    /// Parses properties text (already decoded to chars; files are read as ISO-8859-1).
    pub fn parse(text: &str) -> Result<Properties, ConfigError> {
        let mut props = Properties::default();
        let lines: Vec<&str> = split_natural_lines(text);
        let mut i = 0;
        while i < lines.len() {
            let start_line = i + 1;
            let first = lines[i].trim_start_matches(is_blank);
            i += 1;
            if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
                continue;
            }
            // Join continuation lines: a line ending in an odd number of backslashes.
            let mut logical = String::from(first);
            while ends_with_odd_backslashes(&logical) && i <= lines.len() {
                logical.pop();
                if i == lines.len() {
                    break;
                }
                logical.push_str(lines[i].trim_start_matches(is_blank));
                i += 1;
            }
            let (key, value) = split_key_value(&logical);
            let key = unescape(key, start_line)?;
            let value = unescape(value, start_line)?;
            props.set(key, value);
        }
        Ok(props)
    }

    /// Sets a key, keeping the first position of an overridden key.
    pub fn set(&mut self, key: String, value: String) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Decodes file bytes the way `Properties.load(InputStream)` does: ISO-8859-1.
pub fn decode_latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\u{c}'
}

fn split_natural_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            b'\r' => {
                out.push(&text[start..i]);
                if i + 1 < bytes.len() && bytes[i + 1] == b'\n' {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// Splits a logical line at the first unescaped separator; returns raw (escaped) parts.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut key_end = line.len();
    let mut sep_is_blank = false;
    for (idx, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        if c == '\\' {
            escaped = true;
            continue;
        }
        if c == '=' || c == ':' {
            key_end = idx;
            break;
        }
        if is_blank(c) {
            key_end = idx;
            sep_is_blank = true;
            break;
        }
    }
    let key = &line[..key_end];
    let mut rest = &line[key_end..];
    if !rest.is_empty() {
        if sep_is_blank {
            rest = rest.trim_start_matches(is_blank);
            if rest.starts_with('=') || rest.starts_with(':') {
                rest = &rest[1..];
            }
        } else {
            rest = &rest[1..];
        }
        rest = rest.trim_start_matches(is_blank);
    }
    (key, rest)
}

fn unescape(raw: &str, line: usize) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = (hex.len() == 4)
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .and_then(char::from_u32)
                    .ok_or(ConfigError::MalformedEscape { line })?;
                out.push(code);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(text: &str) -> Properties {
        Properties::parse(text).unwrap()
    }

    #[test]
    fn separators_comments_and_blanks() {
        let props = p("# comment\n! also comment\n\n  a=1\nb 2\nc:3\nd = 4 \ne\t:\t5\nf\n");
        assert_eq!(props.get("a"), Some("1"));
        assert_eq!(props.get("b"), Some("2"));
        assert_eq!(props.get("c"), Some("3"));
        // Properties keeps trailing blanks; callers trim like QuorumPeerConfig.
        assert_eq!(props.get("d"), Some("4 "));
        assert_eq!(props.get("e"), Some("5"));
        assert_eq!(props.get("f"), Some(""));
        assert_eq!(props.len(), 6);
    }

    #[test]
    fn later_duplicates_override() {
        let props = p("a=1\nb=2\na=3\n");
        assert_eq!(props.get("a"), Some("3"));
        let keys: Vec<_> = props.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec!["a", "b"]);
    }

    #[test]
    fn continuation_lines() {
        let props = p("server.1=host1:2888:\\\n      3888\nx=a\\\\\ny=b\n");
        assert_eq!(props.get("server.1"), Some("host1:2888:3888"));
        // An even number of backslashes is an escaped backslash, not a continuation.
        assert_eq!(props.get("x"), Some("a\\"));
        assert_eq!(props.get("y"), Some("b"));
    }

    #[test]
    fn continuation_at_end_of_file() {
        let props = p("a=b\\");
        assert_eq!(props.get("a"), Some("b"));
    }

    #[test]
    fn escapes_and_crlf() {
        let props = p("k\\=x=v\\u0041\\t\r\nother\\ key=1\rlast=2");
        assert_eq!(props.get("k=x"), Some("vA\t"));
        assert_eq!(props.get("other key"), Some("1"));
        assert_eq!(props.get("last"), Some("2"));
    }

    #[test]
    fn malformed_unicode_escape_is_an_error() {
        let err = Properties::parse("a=1\nb=\\u00zz\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn comment_lines_do_not_continue() {
        let props = p("# comment \\\na=1\n");
        assert_eq!(props.get("a"), Some("1"));
    }

    #[test]
    fn latin1_decoding() {
        assert_eq!(decode_latin1(&[b'a', 0xE9]), "a\u{e9}");
    }
}
