//! Dates for the `before` / `after` operators: a number is Unix milliseconds; a string must be
//! RFC 3339 with a date, a time and a zone (`2017-12-06T00:00:00.000-07:00`), as LaunchDarkly's
//! SDKs require. Anything else is no date, so the clause does not match.

use serde_json::Value;

/// Unix milliseconds of a date value.
pub fn millis(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => rfc3339(s),
        _ => None,
    }
}

fn rfc3339(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let digits = |from: usize, n: usize| -> Option<i64> {
        let part = b.get(from..from + n)?;
        part.iter().all(u8::is_ascii_digit).then(|| std::str::from_utf8(part).ok()?.parse().ok())?
    };
    let sep = |at: usize, c: u8| b.get(at) == Some(&c);
    if !(sep(4, b'-') && sep(7, b'-') && matches!(b.get(10), Some(b'T' | b't')) && sep(13, b':') && sep(16, b':')) {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut at = 19;
    let mut fraction: f64 = 0.0;
    if sep(at, b'.') {
        let n = b[at + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        fraction = format!("0.{}", &s[at + 1..at + 1 + n]).parse().ok()?;
        at += 1 + n;
    }
    let offset_minutes = match b.get(at) {
        Some(b'Z' | b'z') => {
            at += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            // `+07:00`, or `+07` (LaunchDarkly's SDKs accept the hour alone).
            let h = digits(at + 1, 2)?;
            let m = if sep(at + 3, b':') { digits(at + 4, 2)? } else { 0 };
            at += if sep(at + 3, b':') { 6 } else { 3 };
            let total = h * 60 + m;
            if *sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => return None,
    };
    if at != b.len() {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds as f64 * 1000.0 + (fraction * 1000.0).floor())
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_and_rfc3339() {
        assert_eq!(millis(&json!(1512543600000u64)), Some(1512543600000.0));
        assert_eq!(millis(&json!("2017-12-06T00:00:00.000-07:00")), Some(1512543600000.0));
        assert_eq!(millis(&json!("2017-12-06T07:00:00Z")), Some(1512543600000.0));
        assert_eq!(millis(&json!("1970-01-01T00:00:00.5Z")), Some(500.0));
        for bad in ["2017-12-06", "2017-12-06X00:00:00.000-07:00", "00:00:00.000-07.00", "badstring", "", "1512543600000", "2017-02-30T00:00:00Z"] {
            assert_eq!(millis(&json!(bad)), None, "{bad}");
        }
        assert_eq!(millis(&json!(true)), None);
    }
}
