//! Which network addresses a webhook may be sent to: never loopback, private, link-local
//! (cloud metadata lives there), shared, multicast or otherwise reserved ones, so a
//! configured URL cannot reach into the server's own network (SSRF).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why this address may not receive webhooks; `None` when it is a public unicast address.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Some("loopback address")
    } else if a == 169 && b == 254 {
        Some("link-local address (cloud metadata lives here)")
    } else if ip.is_private() {
        Some("private network address")
    } else if a == 0 {
        Some("\"this network\" address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT) address")
    } else if a == 192 && b == 0 && c == 0 {
        Some("IETF protocol address")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("benchmarking network address")
    } else if ip.is_multicast() {
        Some("multicast address")
    } else if a >= 240 {
        Some("reserved or broadcast address")
    } else if ip.is_documentation() {
        Some("documentation address")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|x| *x == 0) {
        let [.., hi, lo] = s;
        return forbidden_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    if ip.is_loopback() {
        Some("loopback address")
    } else if ip.is_unspecified() {
        Some("unspecified address")
    } else if s[0] & 0xfe00 == 0xfc00 {
        Some("unique local (private) address")
    } else if s[0] & 0xffc0 == 0xfe80 || s[0] & 0xffc0 == 0xfec0 {
        Some("link-local address")
    } else if ip.is_multicast() {
        Some("multicast address")
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        Some("documentation address")
    } else if s[..6].iter().all(|x| *x == 0) {
        Some("IPv4-compatible address")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> Option<&'static str> {
        forbidden(s.parse().unwrap())
    }

    #[test]
    fn internal_addresses_are_refused() {
        for a in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "ff02::1",
        ] {
            assert!(f(a).is_some(), "{a} should be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for a in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(f(a), None, "{a} should pass");
        }
    }
}
