//! Who a client is, for rate limits and login slow-downs: the peer address, or behind a
//! configured trusted proxy the address it forwarded; IPv6 clients grouped by /64 (one
//! subscriber's whole prefix), so rotating through a prefix does not reset a limit.

use std::net::IpAddr;

/// The client's address: `peer`, unless `peer` is one of `trusted` proxies, in which case the
/// right-most address of `X-Forwarded-For` that is not itself a trusted proxy (the one the
/// first trusted hop saw). A malformed header leaves `peer`.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    let mut hops = header.split(',').rev().map(str::trim);
    hops.by_ref()
        .map(|h| h.parse::<IpAddr>())
        .find(|h| !matches!(h, Ok(ip) if trusted.contains(ip)))
        .and_then(Result::ok)
        .unwrap_or(peer)
}

/// The key a client is limited under: the IPv4 address, or the IPv6 /64.
pub fn rate_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let prefix = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{prefix}/64")
            }
        },
    }
}
