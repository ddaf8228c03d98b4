//! Go's value syntax, as imagor's flags parse it: `strconv.ParseBool`,
//! `strconv.ParseInt(s, 0, 64)`, `time.ParseDuration` and `net.ParseCIDR`
//! (imagor's `CIDRSliceFlag`). Errors are the texts Go's `flag` package
//! prints after `invalid value "…" for flag -name: `.

use std::net::IpAddr;
use std::time::Duration;

use crate::duration::{format_duration, parse_go_duration};

/// `flag`'s error for a value that does not parse (`errParse`).
pub const PARSE_ERROR: &str = "parse error";
/// `flag`'s error for an integer outside the 64-bit range (`errRange`).
pub const RANGE_ERROR: &str = "value out of range";

/// `strconv.ParseBool`: `1 t T TRUE true True 0 f F FALSE false False`.
pub fn parse_bool(s: &str) -> Result<bool, &'static str> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(PARSE_ERROR),
    }
}

/// `strconv.ParseInt(s, 0, 64)`: optional sign, base prefixes `0x`, `0o`,
/// `0b` (any case), a leading `0` for octal, `_` between digits. The error
/// is [`PARSE_ERROR`] or [`RANGE_ERROR`], as `flag` reports them.
pub fn parse_int(s: &str) -> Result<i64, &'static str> {
    let (neg, unsigned) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let magnitude = parse_uint(unsigned)?;
    const CUTOFF: u64 = 1 << 63;
    if !neg && magnitude >= CUTOFF || neg && magnitude > CUTOFF {
        return Err(RANGE_ERROR);
    }
    if neg {
        Ok((magnitude as i64).wrapping_neg())
    } else {
        Ok(magnitude as i64)
    }
}

/// `strconv.ParseUint(s, 0, 64)`.
fn parse_uint(s0: &str) -> Result<u64, &'static str> {
    let bytes = s0.as_bytes();
    if bytes.is_empty() {
        return Err(PARSE_ERROR);
    }
    let (base, digits): (u64, &[u8]) = if bytes[0] == b'0' {
        match bytes.get(1).map(u8::to_ascii_lowercase) {
            Some(b'b') if bytes.len() >= 3 => (2, &bytes[2..]),
            Some(b'o') if bytes.len() >= 3 => (8, &bytes[2..]),
            Some(b'x') if bytes.len() >= 3 => (16, &bytes[2..]),
            _ => (8, &bytes[1..]),
        }
    } else {
        (10, bytes)
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for &c in digits {
        let d = match c {
            b'_' => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => u64::from(c - b'0'),
            c if c.is_ascii_alphabetic() => u64::from(c.to_ascii_lowercase() - b'a') + 10,
            _ => return Err(PARSE_ERROR),
        };
        if d >= base {
            return Err(PARSE_ERROR);
        }
        n = n
            .checked_mul(base)
            .and_then(|n| n.checked_add(d))
            .ok_or(RANGE_ERROR)?;
    }
    if underscores && !underscore_ok(s0) {
        return Err(PARSE_ERROR);
    }
    Ok(n)
}

/// `strconv.underscoreOK`: underscores only between digits (a base prefix
/// counts as a digit).
fn underscore_ok(s: &str) -> bool {
    let mut s = s.as_bytes();
    if let Some(b'-' | b'+') = s.first() {
        s = &s[1..];
    }
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(s[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = s[1].eq_ignore_ascii_case(&b'x');
    }
    for &c in &s[i..] {
        if c.is_ascii_digit() || hex && c.is_ascii_hexdigit() {
            saw = b'0';
            continue;
        }
        if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
            continue;
        }
        if saw == b'_' {
            return false;
        }
        saw = b'!';
    }
    saw != b'_'
}

/// `time.ParseDuration`, in nanoseconds (Go's `time.Duration`). One optional
/// sign, then what [`parse_go_duration`] reads; no surrounding spaces.
///
/// The magnitude comes from the crate's float-based parser, so it matches
/// Go to the nanosecond for ordinary values but may differ by a nanosecond
/// or refuse a value within a few hundred nanoseconds of Go's ±292-year
/// limit.
pub fn parse_duration(s: &str) -> Result<i64, &'static str> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    // Go reads the string as is: no trimming, and after the one sign the
    // next character must be a digit or a dot.
    if !rest.starts_with(|c: char| c.is_ascii_digit() || c == '.') || rest.trim() != rest {
        return Err(PARSE_ERROR);
    }
    let nanos = parse_go_duration(rest).map_err(|_| PARSE_ERROR)?.as_nanos();
    match (neg, i64::try_from(nanos)) {
        (false, Ok(n)) => Ok(n),
        (true, Ok(n)) => Ok(-n),
        (true, Err(_)) if nanos == 1 << 63 => Ok(i64::MIN),
        _ => Err(PARSE_ERROR),
    }
}

/// Go's `time.Duration.String()` of `nanos` (`168h0m0s`, `-1.5s`, `0s`).
pub fn format_duration_nanos(nanos: i64) -> String {
    let text = format_duration(Duration::from_nanos(nanos.unsigned_abs()));
    if nanos < 0 {
        format!("-{text}")
    } else {
        text
    }
}

/// `net.ParseCIDR(s)`, returning the network as Go's `(*net.IPNet).String()`
/// prints it: the address masked to the prefix (`10.1.2.3/8` ⇒
/// `10.0.0.0/8`), an IPv4-mapped IPv6 network written as IPv4
/// (`::ffff:10.0.0.0/104` ⇒ `10.0.0.0/8`). The error is Go's
/// `invalid CIDR address: <s>`.
pub fn parse_cidr(s: &str) -> Result<String, String> {
    let err = || format!("invalid CIDR address: {s}");
    let (addr, mask) = s.split_once('/').ok_or_else(err)?;
    let ip: IpAddr = addr.parse().map_err(|_| err())?;
    // Go's dtoi: one or more decimal digits, nothing else.
    if mask.is_empty() || !mask.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let prefix = mask
        .bytes()
        .try_fold(0u32, |n, b| {
            n.checked_mul(10)?.checked_add(u32::from(b - b'0'))
        })
        .filter(|&n| n <= if ip.is_ipv4() { 32 } else { 128 })
        .ok_or_else(err)?;
    Ok(match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4) & u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
            format!("{}/{prefix}", std::net::Ipv4Addr::from(bits))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            let net = std::net::Ipv6Addr::from(bits);
            match net.to_ipv4_mapped() {
                // Only possible with prefix >= 96: Go's IP.To4 accepts it
                // and String() prints the IPv4 form and the last 32 bits.
                Some(v4) => format!("{v4}/{}", prefix - 96),
                None => format!("{net}/{prefix}"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_as_go_parse_int_base_0() {
        let ok = [
            ("0", 0),
            ("-0", 0),
            ("+7", 7),
            ("010", 8),
            ("0x1F", 31),
            ("0X1f", 31),
            ("0o17", 15),
            ("0b101", 5),
            ("1_000", 1000),
            ("0x_ff", 255),
            ("-0b1_0", -2),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
        ];
        for (s, want) in ok {
            assert_eq!(parse_int(s), Ok(want), "{s}");
        }
        let syntax = [
            "", "-", "+", "abc", "08", "0x", "0b2", "1__0", "_1", "1_", "0_", "+-1", " 1", "1 ",
            "1.0", "1e3", "0o8",
        ];
        for s in syntax {
            assert_eq!(parse_int(s), Err(PARSE_ERROR), "{s:?}");
        }
        for s in [
            "9223372036854775808",
            "-9223372036854775809",
            "0xffffffffffffffffff",
        ] {
            assert_eq!(parse_int(s), Err(RANGE_ERROR), "{s}");
        }
    }

    #[test]
    fn bools_as_go_parse_bool() {
        for s in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(s), Ok(true));
        }
        for s in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(s), Ok(false));
        }
        for s in ["", "yes", "tRUE", "2", " true", "on"] {
            assert_eq!(parse_bool(s), Err(PARSE_ERROR), "{s:?}");
        }
    }

    #[test]
    fn durations_as_go_parse_duration() {
        let ok = [
            ("0", 0),
            ("-0", 0),
            ("+0", 0),
            ("30s", 30_000_000_000),
            ("1h30m", 5_400_000_000_000),
            ("1.5h", 5_400_000_000_000),
            (".5s", 500_000_000),
            ("5.s", 5_000_000_000),
            ("300ms", 300_000_000),
            ("2µs", 2_000),
            ("-1s", -1_000_000_000),
            ("+2m", 120_000_000_000),
            ("1ns", 1),
        ];
        for (s, want) in ok {
            assert_eq!(parse_duration(s), Ok(want), "{s}");
        }
        let bad = [
            "", "-", "1", "10", "0.0", "00", " 1s", "1s ", "1 s", "--1s", "+-1s", "++1s", "1d",
            ".s", "abc", "1e3s", "-.s", "3000000h",
        ];
        for s in bad {
            assert_eq!(parse_duration(s), Err(PARSE_ERROR), "{s:?}");
        }
    }

    #[test]
    fn durations_print_as_go() {
        assert_eq!(format_duration_nanos(0), "0s");
        assert_eq!(format_duration_nanos(168 * 3_600_000_000_000), "168h0m0s");
        assert_eq!(format_duration_nanos(30_000_000_000), "30s");
        assert_eq!(format_duration_nanos(-1_500_000_000), "-1.5s");
        assert_eq!(format_duration_nanos(300_000_000), "300ms");
    }

    #[test]
    fn cidrs_as_go_ipnet_string() {
        let ok = [
            ("127.0.0.0/8", "127.0.0.0/8"),
            ("10.1.2.3/8", "10.0.0.0/8"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("1.2.3.4/32", "1.2.3.4/32"),
            ("1.2.3.4/032", "1.2.3.4/32"),
            ("::1/128", "::1/128"),
            ("fe80::1/10", "fe80::/10"),
            ("2001:db8::1/32", "2001:db8::/32"),
            ("::ffff:10.1.2.3/104", "10.0.0.0/8"),
            ("::ffff:1.2.3.4/96", "0.0.0.0/0"),
            ("::ffff:1.2.3.4/80", "::/80"),
        ];
        for (s, want) in ok {
            assert_eq!(parse_cidr(s).as_deref(), Ok(want), "{s}");
        }
        for s in [
            "",
            "1.2.3.4",
            "1.2.3.4/",
            "1.2.3.4/33",
            "::1/129",
            "1.2.3.4/+8",
            "1.2.3.4/ 8",
            " 1.2.3.4/8",
            "01.2.3.4/8",
            "fe80::1%eth0/64",
            "1.2.3/8",
            "host/8",
            "1.2.3.4/8/8",
        ] {
            assert_eq!(
                parse_cidr(s),
                Err(format!("invalid CIDR address: {s}")),
                "{s:?}"
            );
        }
    }
}
