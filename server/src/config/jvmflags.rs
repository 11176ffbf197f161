//! System properties from `JVMFLAGS` / `SERVER_JVMFLAGS`.
//!
//! zkServer.sh expands these variables unquoted, so the shell splits them on blanks;
//! each `-Dkey=value` word becomes a Java system property (`-Dkey` alone means "").

use std::collections::BTreeMap;

/// Environment variables that zkServer.sh passes to the server JVM, in the order it
/// appends them (later words override earlier ones).
pub const JVMFLAGS_VARS: [&str; 2] = ["JVMFLAGS", "SERVER_JVMFLAGS"];

/// Collects `-D` system properties from the given flag strings.
pub fn parse_system_properties(flags: &[String]) -> BTreeMap<String, String> {
    let mut props = BTreeMap::new();
    for word in flags.iter().flat_map(|f| f.split_whitespace()) {
        let Some(def) = word.strip_prefix("-D") else {
            continue;
        };
        let (key, value) = match def.split_once('=') {
            Some((k, v)) => (k, v),
            None => (def, ""),
        };
        if !key.is_empty() {
            props.insert(key.to_string(), value.to_string());
        }
    }
    props
}

/// Reads the flag variables from the process environment.
pub fn env_jvmflags() -> Vec<String> {
    JVMFLAGS_VARS
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn collects_d_flags_and_ignores_others() {
        let flags = vec![
            "-Xmx1g -Dzookeeper.snapCount=10 -Dreadonlymode.enabled".to_string(),
            "  -Dzookeeper.snapCount=20\t-Djute.maxbuffer=4194304 -server -D".to_string(),
        ];
        let props = parse_system_properties(&flags);
        assert_eq!(
            props.get("zookeeper.snapCount").map(String::as_str),
            Some("20")
        );
        assert_eq!(
            props.get("readonlymode.enabled").map(String::as_str),
            Some("")
        );
        assert_eq!(
            props.get("jute.maxbuffer").map(String::as_str),
            Some("4194304")
        );
        assert_eq!(props.len(), 3);
    }

    #[test]
    fn value_may_contain_equals() {
        let flags =
            vec!["-Dzookeeper.DigestAuthenticationProvider.superDigest=super:abc=".to_string()];
        let props = parse_system_properties(&flags);
        assert_eq!(
            props
                .get("zookeeper.DigestAuthenticationProvider.superDigest")
                .map(String::as_str),
            Some("super:abc=")
        );
    }
}
