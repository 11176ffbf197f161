//! A strict parser of the Prometheus text exposition format (0.0.4), so tests can check
//! what `/metrics` serves the way a Prometheus server would read it.

use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ExpositionError {
    #[error("line {line}: {msg}")]
    Syntax { line: usize, msg: String },
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed exposition: family types by name, and every sample in order.
#[derive(Debug, Default)]
pub struct Exposition {
    pub types: BTreeMap<String, String>,
    pub samples: Vec<Sample>,
}

impl Exposition {
    /// The value of the unlabelled sample `name`, or the one whose labels include `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
    }
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    is_name_start(c) || c.is_ascii_digit()
}

fn valid_name(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next().is_some_and(is_name_start) && cs.all(is_name_char)
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

/// The family a sample belongs to, given the declared types (summary/histogram suffixes).
fn family_of<'a>(name: &'a str, types: &BTreeMap<String, String>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    for suffix in ["_count", "_sum", "_bucket"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if matches!(
                types.get(base).map(String::as_str),
                Some("summary" | "histogram")
            ) {
                return Some(base);
            }
        }
    }
    None
}

/// Parses `text`; every sample must belong to a family declared by a preceding `# TYPE`.
pub fn parse(text: &str) -> Result<Exposition, ExpositionError> {
    let mut out = Exposition::default();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let err = |msg: &str| ExpositionError::Syntax {
            line: lineno,
            msg: msg.to_string(),
        };
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let mut parts = rest.trim_start().splitn(3, ' ');
            match parts.next() {
                Some("TYPE") => {
                    let name = parts.next().ok_or_else(|| err("TYPE without a name"))?;
                    let ty = parts.next().ok_or_else(|| err("TYPE without a type"))?;
                    if !valid_name(name) {
                        return Err(err("bad metric name in TYPE"));
                    }
                    if !matches!(
                        ty,
                        "counter" | "gauge" | "summary" | "histogram" | "untyped"
                    ) {
                        return Err(err("unknown metric type"));
                    }
                    if out.types.insert(name.to_string(), ty.to_string()).is_some() {
                        return Err(err("duplicate TYPE"));
                    }
                }
                Some("HELP") => {
                    let name = parts.next().ok_or_else(|| err("HELP without a name"))?;
                    if !valid_name(name) {
                        return Err(err("bad metric name in HELP"));
                    }
                }
                _ => {}
            }
            continue;
        }
        let sample = parse_sample(line).map_err(|m| err(&m))?;
        let family = family_of(&sample.name, &out.types)
            .ok_or_else(|| err(&format!("sample {} has no TYPE", sample.name)))?;
        let ty = out.types.get(family).map(String::as_str);
        if ty == Some("summary") && sample.name == family && !sample.labels.contains_key("quantile")
        {
            return Err(err("summary sample without a quantile label"));
        }
        if ty == Some("histogram")
            && sample.name.ends_with("_bucket")
            && !sample.labels.contains_key("le")
        {
            return Err(err("histogram bucket without an le label"));
        }
        out.samples.push(sample);
    }
    Ok(out)
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(|c: char| !is_name_char(c)).unwrap_or(line.len());
    let name = &line[..name_end];
    if !valid_name(name) {
        return Err(format!("bad sample name in {line:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(r) = rest.strip_prefix('{') {
        let mut r = r;
        loop {
            r = r.trim_start_matches(',');
            if let Some(after) = r.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = r.find('=').ok_or("label without '='")?;
            let key = &r[..eq];
            if !valid_name(key) {
                return Err(format!("bad label name {key:?}"));
            }
            let v = r[eq + 1..]
                .strip_prefix('"')
                .ok_or("label value not quoted")?;
            let mut value = String::new();
            let mut chars = v.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, c @ ('\\' | '"'))) => value.push(c),
                        _ => return Err("bad escape in label value".into()),
                    },
                    Some((j, '"')) => break j,
                    Some((_, c)) => value.push(c),
                    None => return Err("unterminated label value".into()),
                }
            };
            labels.insert(key.to_string(), value);
            r = &v[end + 1..];
        }
    }
    let mut fields = rest.split_whitespace();
    let value = fields
        .next()
        .and_then(parse_value)
        .ok_or_else(|| format!("bad sample value in {line:?}"))?;
    if let Some(ts) = fields.next() {
        ts.parse::<i64>().map_err(|_| "bad timestamp".to_string())?;
    }
    if fields.next().is_some() {
        return Err("trailing fields".into());
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_typed_samples() {
        let t = "# HELP x_total some help\n# TYPE x_total counter\nx_total 3\n\
                 # TYPE lat summary\nlat{quantile=\"0.5\"} NaN\nlat_sum 1.5\nlat_count 2\n\
                 # TYPE h histogram\nh_bucket{op=\"a\\\"b\",le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n";
        let e = parse(t).unwrap();
        assert_eq!(e.value("x_total", &[]), Some(3.0));
        assert!(e.value("lat", &[("quantile", "0.5")]).unwrap().is_nan());
        assert_eq!(
            e.value("h_bucket", &[("op", "a\"b"), ("le", "+Inf")]),
            Some(1.0)
        );
        assert_eq!(e.types.get("h").map(String::as_str), Some("histogram"));
    }

    #[test]
    fn rejects_malformed_input() {
        assert!(parse("x 1\n").is_err(), "sample without TYPE");
        assert!(parse("# TYPE x gauge\nx one\n").is_err());
        assert!(parse("# TYPE x gauge\nx{a=b} 1\n").is_err());
        assert!(parse("# TYPE x gauge\nx{a=\"b} 1\n").is_err());
        assert!(parse("# TYPE x wobble\n").is_err());
        assert!(parse("# TYPE x gauge\n# TYPE x gauge\n").is_err());
        assert!(parse("# TYPE s summary\ns 1\n").is_err());
        assert!(parse("# TYPE h histogram\nh_bucket 1\n").is_err());
        assert!(parse("# TYPE x gauge\nx 1 2 3\n").is_err());
    }
}
