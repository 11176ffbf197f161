//! Java's text forms that 4lw answers use: `Double.toString`, `Long.toHexString`,
//! `InetSocketAddress.toString` and `Date.toString` (in UTC).

use std::net::{IpAddr, SocketAddr};

/// `Double.toString` for the values 4lw prints (always a fraction part, `E` notation
/// outside [1e-3, 1e7)).
pub fn java_double(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".to_string()
        } else if v > 0.0 {
            "Infinity".to_string()
        } else {
            "-Infinity".to_string()
        };
    }
    let abs = v.abs();
    if abs == 0.0 || (1e-3..1e7).contains(&abs) {
        let s = format!("{v}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let s = format!("{v:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        format!("{mantissa}E{exp}")
    }
}

/// Rounds to 4 decimals, as Apache's latency averages are.
pub fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// `Long.toHexString`: two's complement for negatives.
pub fn hex(v: i64) -> String {
    format!("{:x}", v as u64)
}

/// `InetSocketAddress.toString` of a resolved address without host name:
/// `/127.0.0.1:2181`, IPv6 in Java's uncompressed form without brackets.
pub fn java_socket_addr(addr: &SocketAddr) -> String {
    match addr.ip() {
        IpAddr::V4(ip) => format!("/{ip}:{}", addr.port()),
        IpAddr::V6(ip) => {
            let segs: Vec<String> = ip.segments().iter().map(|s| format!("{s:x}")).collect();
            format!("/{}:{}", segs.join(":"), addr.port())
        }
    }
}

/// `java.util.Date.toString` in UTC: `Sun Nov 22 01:03:47 UTC 2026`.
pub fn java_date_utc(epoch_ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = epoch_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    format!(
        "{weekday} {} {day:02} {:02}:{:02}:{:02} UTC {year}",
        MONTHS[(month - 1) as usize],
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn doubles_like_java() {
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(10.8571), "10.8571");
        assert_eq!(java_double(0.75), "0.75");
        assert_eq!(java_double(73.5), "73.5");
        assert_eq!(java_double(2.0), "2.0");
        assert_eq!(java_double(1.5e7), "1.5E7");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(round4(76.0 / 7.0)), "10.8571");
        assert_eq!(java_double(round4(3.0 / 7.0)), "0.4286");
    }

    #[test]
    fn hex_like_java() {
        assert_eq!(hex(0x1000005bcf70000), "1000005bcf70000");
        assert_eq!(hex(-1), "ffffffffffffffff");
        assert_eq!(hex(0), "0");
    }

    #[test]
    fn socket_addrs_like_java() {
        assert_eq!(
            java_socket_addr(&"127.0.0.1:44184".parse().unwrap()),
            "/127.0.0.1:44184"
        );
        assert_eq!(
            java_socket_addr(&"[::1]:50356".parse().unwrap()),
            "/0:0:0:0:0:0:0:1:50356"
        );
    }

    #[test]
    fn dates_like_java() {
        // 2026-11-22T01:03:47Z, a Sunday (captured from Apache `dump`).
        assert_eq!(
            java_date_utc(1_795_309_427_000),
            "Sun Nov 22 01:03:47 UTC 2026"
        );
        assert_eq!(java_date_utc(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(
            java_date_utc(951_782_400_000),
            "Tue Feb 29 00:00:00 UTC 2000"
        );
    }
}
