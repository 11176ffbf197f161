//! The `ip` scheme: an ACL id is an address, optionally with a "/bits" prefix length.

use std::net::IpAddr;

fn parse(expr: &str) -> Option<(IpAddr, u32)> {
    let (addr, bits) = match expr.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u32>().ok()?)),
        None => (expr, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    if bits > max {
        return None;
    }
    Some((addr, bits))
}

fn to_bits(a: IpAddr) -> (u128, u32) {
    match a {
        IpAddr::V4(v) => (u32::from(v) as u128, 32),
        IpAddr::V6(v) => (u128::from(v), 128),
    }
}

/// Is `expr` a valid ip ACL id?
pub fn valid_ip_acl(expr: &str) -> bool {
    parse(expr).is_some()
}

/// Does the client address `addr` fall inside the ACL expression `expr`?
pub fn ip_matches(addr: &str, expr: &str) -> bool {
    let (Ok(addr), Some((net, bits))) = (addr.parse::<IpAddr>(), parse(expr)) else {
        return false;
    };
    let (a, alen) = to_bits(addr);
    let (n, nlen) = to_bits(net);
    if alen != nlen {
        return false;
    }
    if bits == 0 {
        return true;
    }
    let shift = alen - bits;
    (a >> shift) == (n >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_matching() {
        assert!(ip_matches("10.1.2.3", "10.0.0.0/8"));
        assert!(!ip_matches("11.1.2.3", "10.0.0.0/8"));
        assert!(ip_matches("127.0.0.1", "127.0.0.1"));
        assert!(!ip_matches("127.0.0.2", "127.0.0.1"));
        assert!(ip_matches("::1", "::1/128"));
        assert!(!ip_matches("::1", "127.0.0.1"));
        assert!(ip_matches("1.2.3.4", "0.0.0.0/0"));
        assert!(!valid_ip_acl("10.0.0.0/33"));
        assert!(!valid_ip_acl("nonsense"));
    }
}
