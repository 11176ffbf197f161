//! Millisecond timestamps printed the way Java does, in UTC, without a date crate.

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
    weekday: usize,
}

/// Converts Unix milliseconds to a UTC calendar date (proleptic Gregorian).
fn civil(ms: i64) -> Civil {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Days-from-civil inverse (H. Hinnant's algorithm), era = 400 years.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: (sod / 3600) as u32,
        min: (sod % 3600 / 60) as u32,
        sec: (sod % 60) as u32,
        weekday: (days + 4).rem_euclid(7) as usize,
    }
}

/// `java.util.Date.toString()` in UTC: "Sun Nov 22 01:03:45 UTC 2026".
pub fn java_date(ms: i64) -> String {
    let c = civil(ms);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[c.weekday],
        MONTHS[(c.month - 1) as usize],
        c.day,
        c.hour,
        c.min,
        c.sec,
        c.year
    )
}

/// `DateFormat.getDateTimeInstance(SHORT, LONG)` in UTC (en_US): "11/22/26, 1:03:45 AM UTC".
pub fn java_short_date_time(ms: i64) -> String {
    let c = civil(ms);
    let (h12, ampm) = match c.hour {
        0 => (12, "AM"),
        h @ 1..=11 => (h, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    format!(
        "{}/{}/{:02}, {}:{:02}:{:02} {} UTC",
        c.month,
        c.day,
        c.year.rem_euclid(100),
        h12,
        c.min,
        c.sec,
        ampm
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_java() {
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        // 2026-11-22T01:03:45Z
        assert_eq!(java_date(1_795_309_425_000), "Sun Nov 22 01:03:45 UTC 2026");
        assert_eq!(
            java_short_date_time(1_795_309_425_000),
            "11/22/26, 1:03:45 AM UTC"
        );
        assert_eq!(
            java_short_date_time(951_825_600_000),
            "2/29/00, 12:00:00 PM UTC"
        );
    }
}
