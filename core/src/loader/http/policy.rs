//! Which IP addresses the HTTP loader may connect to: the SSRF policy.
//!
//! Three classes are blocked by default and can each be lifted (imagor's
//! `-http-loader-block-*-networks` flags, which imagor leaves off):
//!
//! | class | IPv4 | IPv6 |
//! |---|---|---|
//! | loopback | `127.0.0.0/8`, `0.0.0.0/8` | `::1`, `::` |
//! | private | `10/8`, `172.16/12`, `192.168/16`, CGNAT `100.64/10` | unique-local `fc00::/7` |
//! | link-local | `169.254/16` (cloud metadata) | `fe80::/10` |
//!
//! Multicast, broadcast and the reserved `240.0.0.0/4` are never HTTP
//! origins and are always refused. Extra networks (`block_networks`, CIDR)
//! add to the blocks.
//!
//! An IPv6 address that carries an IPv4 address is checked as both:
//! IPv4-mapped `::ffff:0:0/96`, IPv4-compatible `::/96`, NAT64
//! `64:ff9b::/96` and its local-use `64:ff9b:1::/48` (RFC 6052 layout),
//! 6to4 `2002::/16`, Teredo `2001::/32` (server and inverted client
//! address) and ISATAP (`…:0:5efe:a.b.c.d` / `…:200:5efe:a.b.c.d` in the
//! interface identifier).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// Loopback or unspecified (`127/8`, `0/8`, `::1`, `::`).
    Loopback,
    /// A private network (RFC 1918, CGNAT, unique-local).
    Private,
    /// Link-local, including cloud metadata (`169.254.169.254`).
    LinkLocal,
    /// Multicast, broadcast or reserved: never an HTTP origin.
    NotUnicast,
    /// One of the configured `block_networks`.
    Network,
}

impl Blocked {
    /// A short name for messages (`loopback`, `private network`, ...).
    pub fn describe(self) -> &'static str {
        match self {
            Blocked::Loopback => "loopback address",
            Blocked::Private => "private network address",
            Blocked::LinkLocal => "link-local address",
            Blocked::NotUnicast => "multicast, broadcast or reserved address",
            Blocked::Network => "address in a blocked network",
        }
    }
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

impl std::error::Error for Blocked {}

/// The address policy of one HTTP loader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// Refuse loopback addresses.
    pub block_loopback: bool,
    /// Refuse private network addresses.
    pub block_private: bool,
    /// Refuse link-local addresses.
    pub block_link_local: bool,
    /// Refuse these networks too.
    pub block_networks: Vec<IpNet>,
}

impl Default for NetworkPolicy {
    /// Every class blocked, no extra networks.
    fn default() -> Self {
        NetworkPolicy {
            block_loopback: true,
            block_private: true,
            block_link_local: true,
            block_networks: Vec::new(),
        }
    }
}

impl NetworkPolicy {
    /// `Ok` when the loader may connect to `ip`, else why not. The address
    /// and every IPv4 address embedded in it are checked.
    pub fn check(&self, ip: IpAddr) -> Result<(), Blocked> {
        let mut targets = vec![ip];
        if let IpAddr::V6(v6) = ip {
            targets.extend(embedded_ipv4(v6).into_iter().flatten().map(IpAddr::V4));
        }
        for target in targets {
            self.check_one(target)?;
        }
        Ok(())
    }

    fn check_one(&self, ip: IpAddr) -> Result<(), Blocked> {
        if let Some(class) = classify(ip) {
            let blocked = match class {
                Blocked::Loopback => self.block_loopback,
                Blocked::Private => self.block_private,
                Blocked::LinkLocal => self.block_link_local,
                Blocked::NotUnicast | Blocked::Network => true,
            };
            if blocked {
                return Err(class);
            }
        }
        if self.block_networks.iter().any(|n| n.contains(&ip)) {
            return Err(Blocked::Network);
        }
        Ok(())
    }
}

/// The special class of an address itself (embedded addresses aside).
pub fn classify(ip: IpAddr) -> Option<Blocked> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Blocked> {
    let [a, b, ..] = ip.octets();
    match (a, b) {
        (127, _) | (0, _) => Some(Blocked::Loopback),
        (10, _) | (192, 168) => Some(Blocked::Private),
        (172, 16..=31) | (100, 64..=127) => Some(Blocked::Private),
        (169, 254) => Some(Blocked::LinkLocal),
        (224..=255, _) => Some(Blocked::NotUnicast),
        _ => None,
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<Blocked> {
    let s = ip.segments();
    if ip.is_loopback() || ip.is_unspecified() {
        Some(Blocked::Loopback)
    } else if s[0] & 0xfe00 == 0xfc00 {
        Some(Blocked::Private)
    } else if s[0] & 0xffc0 == 0xfe80 {
        Some(Blocked::LinkLocal)
    } else if s[0] & 0xff00 == 0xff00 {
        Some(Blocked::NotUnicast)
    } else {
        None
    }
}

/// The IPv4 addresses an IPv6 address carries (up to two: Teredo has a
/// server and a client address).
pub fn embedded_ipv4(ip: Ipv6Addr) -> [Option<Ipv4Addr>; 2] {
    let o = ip.octets();
    let v4 = |i: usize| Ipv4Addr::new(o[i], o[i + 1], o[i + 2], o[i + 3]);
    let zero = |r: std::ops::Range<usize>| o[r].iter().all(|b| *b == 0);
    // IPv4-mapped ::ffff:a.b.c.d and IPv4-compatible ::a.b.c.d.
    if zero(0..10) && ((o[10] == 0xff && o[11] == 0xff) || (o[10] == 0 && o[11] == 0)) {
        return [Some(v4(12)), None];
    }
    // NAT64 well-known prefix 64:ff9b::/96.
    if o[..4] == [0, 0x64, 0xff, 0x9b] && zero(4..12) {
        return [Some(v4(12)), None];
    }
    // NAT64 local-use 64:ff9b:1::/48: RFC 6052 puts the IPv4 address in
    // bits 48..63 and 72..87 (bits 64..71 are the zero "u" octet).
    if o[..6] == [0, 0x64, 0xff, 0x9b, 0, 1] {
        return [Some(Ipv4Addr::new(o[6], o[7], o[9], o[10])), None];
    }
    // 6to4 2002:aabb:ccdd::/48.
    if o[0] == 0x20 && o[1] == 0x02 {
        return [Some(v4(2)), None];
    }
    // Teredo 2001:0::/32: server in bits 32..63, client inverted in 96..127.
    if o[..4] == [0x20, 0x01, 0, 0] {
        let c = Ipv4Addr::new(!o[12], !o[13], !o[14], !o[15]);
        return [Some(v4(4)), Some(c)];
    }
    // ISATAP interface identifier 0000:5efe or 0200:5efe (u/l bit set).
    if (o[8] == 0 || o[8] == 2) && o[9] == 0 && o[10] == 0x5e && o[11] == 0xfe {
        return [Some(v4(12)), None];
    }
    [None, None]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<(), Blocked> {
        NetworkPolicy::default().check(text.parse().expect("ip"))
    }

    #[test]
    fn the_appendix_a_addresses_are_blocked() {
        use Blocked::*;
        for (ip, class) in [
            ("127.0.0.1", Loopback),
            ("127.0.0.2", Loopback),
            ("0.0.0.0", Loopback),
            ("::1", Loopback),
            ("::", Loopback),
            ("::ffff:127.0.0.1", Loopback),
            ("::127.0.0.1", Loopback),
            ("64:ff9b::7f00:1", Loopback),
            ("2002:7f00:1::", Loopback),
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", Loopback),
            ("169.254.169.254", LinkLocal),
            ("169.254.170.2", LinkLocal),
            ("fe80::1", LinkLocal),
            ("::ffff:169.254.169.254", LinkLocal),
            ("64:ff9b::a9fe:a9fe", LinkLocal),
            ("2002:a9fe:a9fe::", LinkLocal),
            ("fd00:ec2::254", Private),
            ("10.0.0.1", Private),
            ("172.16.0.1", Private),
            ("192.168.1.1", Private),
            ("100.64.0.1", Private),
            ("fd00::1", Private),
            ("64:ff9b:1:a00:0:100::", Private),
            ("2001:db8::5efe:a00:1", Private),
            ("224.0.0.1", NotUnicast),
            ("255.255.255.255", NotUnicast),
            ("ff02::1", NotUnicast),
        ] {
            assert_eq!(check(ip), Err(class), "{ip}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:2800:220:1:248:1893:25c8:1946",
            "64:ff9b::808:808",
            "2002:808:808::",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(check(ip), Ok(()), "{ip}");
        }
    }

    #[test]
    fn classes_lift_one_by_one_and_extra_networks_add() {
        let mut p = NetworkPolicy {
            block_loopback: false,
            ..NetworkPolicy::default()
        };
        assert_eq!(p.check("127.0.0.1".parse().unwrap()), Ok(()));
        assert_eq!(p.check("::ffff:127.0.0.1".parse().unwrap()), Ok(()));
        assert_eq!(p.check("10.1.1.1".parse().unwrap()), Err(Blocked::Private));
        p.block_networks = vec![
            "127.0.0.0/8".parse().unwrap(),
            "8.8.8.0/24".parse().unwrap(),
        ];
        assert_eq!(p.check("127.0.0.1".parse().unwrap()), Err(Blocked::Network));
        assert_eq!(
            p.check("64:ff9b::808:808".parse().unwrap()),
            Err(Blocked::Network)
        );
        // Never lifted.
        let open = NetworkPolicy {
            block_loopback: false,
            block_private: false,
            block_link_local: false,
            block_networks: Vec::new(),
        };
        assert_eq!(
            open.check("255.255.255.255".parse().unwrap()),
            Err(Blocked::NotUnicast)
        );
        assert_eq!(open.check("169.254.169.254".parse().unwrap()), Ok(()));
    }
}
