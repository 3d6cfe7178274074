//! The client's address, for per-IP rate limits, the audit trail and logs: the TCP peer — unless
//! the peer is a proxy the operator trusts (`TRUSTED_PROXIES`, addresses or CIDR ranges), then
//! the nearest address in `X-Forwarded-For` that is not one (read right to left, since each proxy
//! appends the address it saw; whatever a client wrote itself is further left and never reached
//! while a trusted hop stands in front of it). With no trusted proxies, the header is ignored:
//! anyone can send it.

use std::net::{IpAddr, SocketAddr};

use actix_web::http::header::HeaderMap;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies {
    ranges: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// Parses `10.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`; the error names the bad entry.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let ranges = entries
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                let (address, prefix) = entry.split_once('/').unwrap_or((entry, ""));
                let address: IpAddr = address.parse().map_err(|_| format!("`{entry}` is not an address"))?;
                let bits = if address.is_ipv4() { 32 } else { 128 };
                let prefix = match prefix {
                    "" => bits,
                    p => p
                        .parse::<u8>()
                        .ok()
                        .filter(|p| *p <= bits)
                        .ok_or_else(|| format!("`{entry}` has a bad prefix length"))?,
                };
                Ok((address, prefix))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { ranges })
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|&(range, prefix)| within(ip, range, prefix))
    }

    /// The client's address given the TCP `peer` and the request's headers.
    pub fn client(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let mut client = peer?.ip();
        if !self.trusts(client) {
            return Some(client);
        }
        let hops = headers
            .get_all("x-forwarded-for")
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect::<Vec<_>>();
        for hop in hops.into_iter().rev() {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !self.trusts(ip) {
                        break;
                    }
                }
                // Garbage in the chain: stop at the last address a trusted hop vouched for.
                Err(_) => break,
            }
        }
        Some(client)
    }
}

fn within(ip: IpAddr, range: IpAddr, prefix: u8) -> bool {
    match (ip, range) {
        (IpAddr::V4(ip), IpAddr::V4(range)) => {
            masked(u128::from(u32::from(ip)) << 96, prefix) == masked(u128::from(u32::from(range)) << 96, prefix)
        }
        (IpAddr::V6(ip), IpAddr::V6(range)) => masked(u128::from(ip), prefix) == masked(u128::from(range), prefix),
        _ => false,
    }
}

fn masked(bits: u128, prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p => bits & (u128::MAX << (128 - u32::from(p.min(128)))),
    }
}

/// The client address of `req` as the application's [`TrustedProxies`] see it (the TCP peer if
/// none are configured).
pub fn client_ip(req: &actix_web::HttpRequest) -> Option<IpAddr> {
    match req.app_data::<actix_web::web::Data<TrustedProxies>>() {
        Some(proxies) => proxies.client(req.peer_addr(), req.headers()),
        None => req.peer_addr().map(|peer| peer.ip()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in xff {
            map.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().unwrap(), 4000))
    }

    #[test]
    fn untrusted_peers_are_the_client_whatever_they_forward() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(peer("203.0.113.9"), &headers(&["1.2.3.4"])),
            "203.0.113.9".parse().ok()
        );
    }

    #[test]
    fn a_trusted_proxy_forwards_the_nearest_untrusted_hop() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into(), "192.168.1.1".into()]).unwrap();
        // The client wrote "6.6.6.6" itself; the proxies appended what they saw.
        let xff = headers(&["6.6.6.6, 198.51.100.7", "10.1.2.3"]);
        assert_eq!(proxies.client(peer("192.168.1.1"), &xff), "198.51.100.7".parse().ok());
        assert_eq!(proxies.client(peer("10.9.9.9"), &headers(&[])), "10.9.9.9".parse().ok());
        assert_eq!(
            proxies.client(peer("10.9.9.9"), &headers(&["bogus"])),
            "10.9.9.9".parse().ok()
        );
        assert_eq!(proxies.client(peer("192.168.1.2"), &xff), "192.168.1.2".parse().ok());
    }

    #[test]
    fn ranges_parse_and_match_for_both_families() {
        let proxies = TrustedProxies::parse(&["fd00::/8".into(), "127.0.0.1".into(), "0.0.0.0/0".into()]).unwrap();
        assert!(proxies.trusts("fd12::1".parse().unwrap()));
        assert!(!proxies.trusts("fe80::1".parse().unwrap()));
        assert!(proxies.trusts("8.8.8.8".parse().unwrap()));
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["proxy.local".into()]).is_err());
    }
}
