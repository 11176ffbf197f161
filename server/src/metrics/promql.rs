//! Pulls the metric names out of a PromQL expression, so dashboard queries can be checked
//! against what the server exports. Not a full PromQL parser: a tokenizer that knows which
//! identifiers are functions, keywords, label names, durations or Grafana variables.

use std::collections::BTreeSet;

/// Keywords and aggregation modifiers that look like identifiers.
const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
    "atan2",
    // Aggregation operators may take `by (...)` before their parenthesis.
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
];

fn ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn ident_char(c: char) -> bool {
    ident_start(c) || c.is_ascii_digit()
}

/// Metric names referenced by `expr`.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let cs: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    // Depth of `{...}` (label matchers) and whether the previous keyword opens a label list.
    let mut in_braces = 0usize;
    let mut label_list = false;
    let mut label_paren_depth = 0usize;
    let mut paren_depth = 0usize;
    while i < cs.len() {
        let c = cs[i];
        match c {
            '"' | '\'' | '`' => {
                // Skip a string literal (with backslash escapes except in backticks).
                i += 1;
                while i < cs.len() && cs[i] != c {
                    if cs[i] == '\\' && c != '`' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            '[' => {
                // Range or subquery duration: skip to the closing bracket.
                while i < cs.len() && cs[i] != ']' {
                    i += 1;
                }
                i += 1;
            }
            '{' => {
                in_braces += 1;
                i += 1;
            }
            '}' => {
                in_braces = in_braces.saturating_sub(1);
                i += 1;
            }
            '(' => {
                paren_depth += 1;
                if label_list {
                    label_paren_depth = paren_depth;
                    label_list = false;
                }
                i += 1;
            }
            ')' => {
                if label_paren_depth == paren_depth {
                    label_paren_depth = 0;
                }
                paren_depth = paren_depth.saturating_sub(1);
                i += 1;
            }
            '$' => {
                // Grafana variable: `$name`, `${name}` or `[[name]]`-style; skip it.
                i += 1;
                if i < cs.len() && cs[i] == '{' {
                    while i < cs.len() && cs[i] != '}' {
                        i += 1;
                    }
                    i += 1;
                } else {
                    while i < cs.len() && ident_char(cs[i]) {
                        i += 1;
                    }
                }
            }
            c if c.is_ascii_digit()
                || (c == '.' && cs.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                // A number, possibly with exponent or duration units (`5m`, `1e3`).
                while i < cs.len() && (cs[i].is_ascii_alphanumeric() || cs[i] == '.') {
                    i += 1;
                }
            }
            c if ident_start(c) => {
                let start = i;
                while i < cs.len() && ident_char(cs[i]) {
                    i += 1;
                }
                let word: String = cs[start..i].iter().collect();
                let mut j = i;
                while j < cs.len() && cs[j].is_whitespace() {
                    j += 1;
                }
                let next = cs.get(j).copied();
                let lower = word.to_ascii_lowercase();
                if in_braces > 0 || label_paren_depth > 0 {
                    // A label name inside matchers or a by/without/on/ignoring list.
                } else if matches!(
                    lower.as_str(),
                    "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
                ) {
                    label_list = next == Some('(');
                } else if KEYWORDS.contains(&lower.as_str()) || next == Some('(') {
                    // Keyword or function call (`rate(`, `sum(`, `histogram_quantile(`).
                } else {
                    names.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(e: &str) -> Vec<String> {
        metric_names(e).into_iter().collect()
    }

    #[test]
    fn finds_metric_names_only() {
        assert_eq!(
            names("histogram_quantile(0.99, sum by (le, op) (rate(request_latency_ms_bucket{job=~\"$job\", op!=\"ping\"}[5m])))"),
            vec!["request_latency_ms_bucket"]
        );
        assert_eq!(
            names("sum(rate(fsynctime_sum[1m])) / sum(rate(fsynctime_count[1m] offset 5m))"),
            vec!["fsynctime_count", "fsynctime_sum"]
        );
        assert_eq!(
            names("max without (instance) (znode_count) > bool 1e3 and on (pod) up == 1"),
            vec!["up", "znode_count"]
        );
        assert_eq!(
            names("readlatency{quantile=\"0.99\", instance=~\"${instance:regex}\"}"),
            vec!["readlatency"]
        );
        assert_eq!(
            names("increase(election_time_count[$__rate_interval]) * 2"),
            vec!["election_time_count"]
        );
        assert!(names("vector(1)").is_empty());
    }
}
