//! Response headers of a successful image, as imagor sets them:
//! `Cache-Control` / `Expires` from the TTL and the `max_age` / `expire`
//! filters, `Content-Disposition` from `attachment()`, and `ETag` /
//! `Last-Modified` with imagor's conditional-request rules.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::blob::Stat;
use crate::path::Params;
use crate::request::Request;

/// imagor's `getTtl`: the configured TTL, replaced by the last valid
/// `max_age(seconds)`, capped by the nearest `expire(unix ms)` (rounded up
/// to the second), never negative. Computed as Go does, in nanoseconds of
/// an `int64`: `max_age` past about 292 years wraps (usually to a negative,
/// so no caching), and `expire`'s distance from now saturates.
pub(super) fn ttl(p: &Params, default_ttl: Duration, now: SystemTime) -> Duration {
    const SECOND: i64 = 1_000_000_000;
    let mut ttl = i64::try_from(default_ttl.as_nanos()).unwrap_or(i64::MAX);
    let mut expire: Option<i64> = None;
    let now_ns = unix_nanos(now);
    for f in &p.filters {
        // Go's `strconv.ParseInt(f.Args, 10, 64)`: no spaces allowed.
        match f.name.as_str() {
            "max_age" => {
                if let Ok(secs) = f.args.parse::<i64>() {
                    if secs >= 0 {
                        ttl = secs.wrapping_mul(SECOND);
                    }
                }
            }
            "expire" => {
                if let Ok(ms) = f.args.parse::<i64>() {
                    // `time.UnixMilli(ms).Sub(now)` saturates; then
                    // `+ time.Second - 1` wraps and `Truncate(time.Second)`
                    // rounds toward zero.
                    let until = (ms as i128 * 1_000_000 - now_ns)
                        .clamp(i64::MIN as i128, i64::MAX as i128)
                        as i64;
                    let up = until.wrapping_add(SECOND - 1);
                    let left = up - up % SECOND;
                    expire = Some(expire.map_or(left, |e| e.min(left)));
                }
            }
            _ => {}
        }
    }
    if let Some(e) = expire {
        if e < ttl {
            ttl = e;
        }
    }
    Duration::from_nanos(ttl.max(0) as u64)
}

/// imagor's `setCacheHeaders`: `Expires` and `Cache-Control`.
pub(super) fn cache(
    headers: &mut Vec<(String, String)>,
    req: &Request,
    mut ttl: Duration,
    swr: Duration,
    private: bool,
    now: SystemTime,
) {
    let request_cc = req.header("cache-control").unwrap_or("");
    if request_cc.contains("no-cache") {
        ttl = Duration::ZERO;
    }
    let private = private || request_cc.contains("private");
    // A TTL from `ttl` is under 293 years; one from elsewhere may not be.
    let expires = now.checked_add(ttl).unwrap_or(now);
    headers.push(("Expires".into(), http_date(expires)));
    let value = if ttl.is_zero() {
        "private, no-cache, no-store, must-revalidate".to_owned()
    } else {
        let t = ttl.as_secs();
        let mut v = if private {
            "private".to_owned()
        } else {
            format!("public, s-maxage={t}")
        };
        v.push_str(&format!(", max-age={t}, no-transform"));
        if !swr.is_zero() && swr < ttl {
            v.push_str(&format!(", stale-while-revalidate={}", swr.as_secs()));
        }
        v
    };
    headers.push(("Cache-Control".into(), value));
}

/// imagor's `getContentDisposition`: `inline`, or `attachment` with the
/// file name given (else the image's), its extension made the output's.
pub(super) fn content_disposition(p: &Params, output_ext: &str) -> String {
    let Some(f) = p.filters.iter().find(|f| f.name == "attachment") else {
        return "inline".to_owned();
    };
    let mut name = if f.args.is_empty() {
        p.image.rsplit('/').next().unwrap_or("").to_owned()
    } else {
        f.args.clone()
    };
    name = name.replace('"', "%22");
    let keep_jpeg = output_ext == ".jpg" && name.ends_with(".jpeg");
    if !output_ext.is_empty() && !keep_jpeg {
        name = format!(
            "{}{output_ext}",
            name.strip_suffix(output_ext).unwrap_or(&name)
        );
    }
    format!("attachment; filename=\"{name}\"")
}

/// imagor's `checkStatNotModified`: add `ETag` and `Last-Modified` from
/// the stat and tell whether to answer 304. The ETag is imagor's unquoted
/// `<unix mtime hex>-<size hex>` unless the storage has its own; matches
/// are exact string comparisons; `If-Modified-Since` is 304 when the
/// resource is strictly older, `If-Unmodified-Since` when it is newer
/// (imagor answers 304 there, not 412).
pub(super) fn conditional(headers: &mut Vec<(String, String)>, req: &Request, stat: &Stat) -> bool {
    if req
        .header("cache-control")
        .is_some_and(|c| c.contains("no-cache"))
    {
        return false;
    }
    // Go's zero time (year 1) is what "no time" is there; a file's time
    // of 1970-01-01 or earlier is a time like any other.
    let mtime = stat.modified.map(unix_nanos);
    let etag = match &stat.etag {
        Some(e) if !e.is_empty() => Some(e.clone()),
        _ => match mtime {
            Some(n) if stat.size > 0 => Some(format!(
                "{}-{:x}",
                go_hex(n.div_euclid(1_000_000_000)),
                stat.size
            )),
            _ => None,
        },
    };
    let mut etag_match = false;
    if let Some(etag) = etag {
        etag_match = req.header("if-none-match") == Some(etag.as_str());
        headers.push(("ETag".into(), etag));
    }
    let mut not_modified = false;
    if let Some(nanos) = mtime {
        headers.push((
            "Last-Modified".into(),
            http_date_from_secs(nanos.div_euclid(1_000_000_000) as i64),
        ));
        if let Some(ims) = req.header("if-modified-since").and_then(parse_http_date) {
            not_modified = nanos < ims as i128 * 1_000_000_000;
        }
        if !not_modified {
            if let Some(ius) = req.header("if-unmodified-since").and_then(parse_http_date) {
                not_modified = nanos > ius as i128 * 1_000_000_000;
            }
        }
    }
    etag_match || not_modified
}

/// Go's `fmt.Sprintf("%x", n)` of a signed number: a minus sign and the
/// magnitude (Rust's `{:x}` of a negative number is its two's complement).
fn go_hex(n: i128) -> String {
    if n < 0 {
        format!("-{:x}", n.unsigned_abs())
    } else {
        format!("{n:x}")
    }
}

fn unix_nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// An HTTP date (`Mon, 02 Jan 2006 15:04:05 GMT`), always in UTC.
pub(crate) fn http_date(t: SystemTime) -> String {
    http_date_from_secs((unix_nanos(t).div_euclid(1_000_000_000)) as i64)
}

fn http_date_from_secs(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `2006-01-02T15:04:05.000Z` in UTC (zap's ISO 8601 time encoder).
#[cfg(feature = "server")]
pub(crate) fn iso8601_millis(t: SystemTime) -> String {
    let nanos = unix_nanos(t);
    let secs = nanos.div_euclid(1_000_000_000) as i64;
    let millis = nanos.rem_euclid(1_000_000_000) / 1_000_000;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Parse an HTTP date in Go's `http.TimeFormat` to Unix seconds (years
/// before 1970 included: imagor's tests send year 1).
pub(crate) fn parse_http_date(text: &str) -> Option<i64> {
    let t = text.trim();
    let (weekday, rest) = t.split_once(", ")?;
    if !DAYS.contains(&weekday) {
        return None;
    }
    let mut parts = rest.split(' ');
    // As Go's layout: a two-digit day, a four-digit year, a one- or
    // two-digit hour, two-digit minutes and seconds; digits only, so no
    // header can make the arithmetic below overflow.
    let number = |text: &str, digits: std::ops::RangeInclusive<usize>| -> Option<i64> {
        (digits.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())?
    };
    let day = number(parts.next()?, 2..=2)?;
    let month_name = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month_name)? as i64 + 1;
    let year = number(parts.next()?, 4..=4)?;
    let mut hms = parts.next()?.split(':');
    let h = number(hms.next()?, 1..=2)?;
    let mi = number(hms.next()?, 2..=2)?;
    let s = number(hms.next()?, 2..=2)?;
    if hms.next().is_some()
        || parts.next()? != "GMT"
        || !(1..=days_in_month(year, month)).contains(&day)
        || h > 23
        || mi > 59
        || s > 59
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + mi * 60 + s)
}

/// The days of `month` (1-12) in `year`, as Go's `time.Parse` checks them.
fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's days-from-civil (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_refuse_what_go_refuses() {
        assert_eq!(
            parse_http_date("Mon, 02 Jan 2006 15:04:05 GMT"),
            Some(1_136_214_245)
        );
        assert_eq!(
            parse_http_date("Mon, 02 Jan 2006 5:04:05 GMT"),
            Some(1_136_214_245 - 10 * 3600)
        );
        assert!(parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT").is_some());
        for bad in [
            "Mon, 02 Jan 99999999999999999 15:04:05 GMT",
            "Mon, 02 Jan 20061 15:04:05 GMT",
            "Mon, 2 Jan 2006 15:04:05 GMT",
            "Mon, 02 Jan 2006 -15:04:05 GMT",
            "Mon, 02 Jan 2006 15:04:05:01 GMT",
            "Mon, 02 Jan +2006 15:04:05 GMT",
            "Mon, 02 Jan 2006 15:4:05 GMT",
            "Xyz, 02 Jan 2006 15:04:05 GMT",
            "Mon, 31 Feb 2006 15:04:05 GMT",
            "Mon, 29 Feb 2100 15:04:05 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    /// imagor's ETag is `%x` of the signed Unix seconds: a file last
    /// modified before 1970 gets `-12cff780-…`, not 32 hex digits of two's
    /// complement; one modified at the epoch has its ETag and
    /// `Last-Modified` (only Go's year-1 zero time has neither).
    #[test]
    fn etags_of_times_at_and_before_the_epoch_are_imagors() {
        let cases = [
            (
                UNIX_EPOCH - Duration::from_secs(315_619_200),
                "-12cff780-1bd8f",
                "Fri, 01 Jan 1960 00:00:00 GMT",
            ),
            (UNIX_EPOCH, "0-1bd8f", "Thu, 01 Jan 1970 00:00:00 GMT"),
            (
                UNIX_EPOCH - Duration::from_millis(500),
                "-1-1bd8f",
                "Wed, 31 Dec 1969 23:59:59 GMT",
            ),
        ];
        for (modified, etag, last_modified) in cases {
            let stat = Stat {
                size: 0x1bd8f,
                modified: Some(modified),
                etag: None,
            };
            let mut headers = Vec::new();
            let req = Request {
                headers: vec![("if-none-match".into(), etag.into())],
                ..Request::default()
            };
            assert!(conditional(&mut headers, &req, &stat), "{etag}");
            assert_eq!(
                headers,
                vec![
                    ("ETag".to_owned(), etag.to_owned()),
                    ("Last-Modified".to_owned(), last_modified.to_owned()),
                ]
            );
        }
    }

    #[test]
    fn http_dates_round_trip() {
        let t = UNIX_EPOCH + Duration::from_secs(1_136_214_245);
        assert_eq!(http_date(t), "Mon, 02 Jan 2006 15:04:05 GMT");
        assert_eq!(
            parse_http_date("Mon, 02 Jan 2006 15:04:05 GMT"),
            Some(1_136_214_245)
        );
        assert_eq!(
            parse_http_date("Mon, 01 Jan 0001 00:00:00 GMT"),
            Some(-62_135_596_800)
        );
        assert_eq!(
            http_date_from_secs(-62_135_596_800),
            "Mon, 01 Jan 0001 00:00:00 GMT"
        );
        assert_eq!(parse_http_date("garbage"), None);
        // Every month, not only January.
        for (i, month) in MONTHS.iter().enumerate() {
            let text = format!("Sat, 15 {month} 2025 12:00:00 GMT");
            let secs = parse_http_date(&text).expect("parses");
            let back = http_date_from_secs(secs);
            assert_eq!(back[5..], text[5..], "month {}", i + 1);
        }
        assert_eq!(
            parse_http_date("Mon, 30 Nov 2026 22:28:25 GMT"),
            Some(1_796_077_705)
        );
    }

    #[test]
    fn ttl_follows_max_age_and_expire() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let ms = 1_700_000_000_000i64;
        let p = |path: &str| crate::path::parse(path);
        let day = Duration::from_secs(169);
        assert_eq!(
            ttl(&p("filters:max_age(300)/a.jpg"), day, now).as_secs(),
            300
        );
        assert_eq!(
            ttl(&p("filters:max_age(-5)/a.jpg"), day, now).as_secs(),
            169
        );
        assert_eq!(
            ttl(&p("filters:max_age(abc)/a.jpg"), day, now).as_secs(),
            169
        );
        let exp = format!("filters:expire({}):max_age(60)/a.jpg", ms + 1000);
        assert_eq!(ttl(&p(&exp), day, now).as_secs(), 1);
        let exp = format!("filters:expire({})/a.jpg", ms + 170_000);
        assert_eq!(ttl(&p(&exp), day, now).as_secs(), 169);
        // Go's int64 nanoseconds: the largest max_age wraps to -1 s, so no
        // caching; 2^62 s wraps to 0; a max_age just under the wrap stays.
        for (secs, want) in [
            ("9223372036854775807", 0),
            ("4611686018427387904", 0),
            ("9223372036", 9_223_372_036),
            ("9223372037", 0),
        ] {
            let path = format!("filters:max_age({secs})/a.jpg");
            assert_eq!(ttl(&p(&path), day, now).as_secs(), want, "{secs}");
        }
        assert_eq!(ttl(&p("filters:max_age( 300)/a.jpg"), day, now), day);
        // expire(i64::MAX): the distance saturates, + 1 s wraps negative.
        let far = format!("filters:expire({})/a.jpg", i64::MAX);
        assert_eq!(ttl(&p(&far), day, now), Duration::ZERO);
        let past = format!("filters:expire({})/a.jpg", i64::MIN);
        assert_eq!(ttl(&p(&past), day, now), Duration::ZERO);
        // Whatever the TTL, the headers are written.
        let mut headers = Vec::new();
        let req = Request::default();
        cache(
            &mut headers,
            &req,
            Duration::MAX,
            Duration::ZERO,
            false,
            now,
        );
        assert_eq!(headers[0].0, "Expires");
    }

    #[test]
    fn dispositions() {
        let p = crate::path::parse("filters:attachment()/testdata/gopher.png");
        assert_eq!(
            content_disposition(&p, ".png"),
            "attachment; filename=\"gopher.png\""
        );
        let p = crate::path::parse("filters:attachment(foo.png)/demo1.jpg");
        assert_eq!(
            content_disposition(&p, ".jpg"),
            "attachment; filename=\"foo.png.jpg\""
        );
        let p = crate::path::parse("filters:attachment(foo.jpeg)/demo1.jpg");
        assert_eq!(
            content_disposition(&p, ".jpg"),
            "attachment; filename=\"foo.jpeg\""
        );
        assert_eq!(
            content_disposition(&crate::path::parse("a.jpg"), ".jpg"),
            "inline"
        );
    }
}
