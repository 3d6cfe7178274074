//! Where payrail may send a merchant's webhooks (SSRF guard). A target is refused when it is not
//! `https://` in production, or when an address it names or resolves to is loopback, private,
//! link-local (cloud metadata lives there: 169.254.169.254, fd00:ec2::254), shared, multicast or
//! unspecified — unless private targets are allowed (development and tests).
//!
//! The check runs at registration and again at connect time: [`GuardedResolver`] is the HTTP
//! client's DNS resolver and drops refused addresses after resolution, so a name that resolved to
//! a public address at registration and to 127.0.0.1 later (DNS rebinding) is never connected to.
//! A URL naming an IP address skips DNS, so [`TargetPolicy::check_url`] runs before each attempt.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// Why a target was refused; the message names the rule, for the merchant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("url must be an absolute http(s) URL")]
    Malformed,
    #[error("url must use https")]
    NotHttps,
    #[error("url must not point to a private, loopback, link-local or metadata address")]
    Private,
    #[error("url's host does not resolve")]
    Unresolvable,
}

/// What targets are allowed.
#[derive(Clone, Copy, Debug)]
pub struct TargetPolicy {
    pub require_https: bool,
    pub allow_private: bool,
}

impl TargetPolicy {
    /// Checks the URL's form and, if it names an address, the address.
    pub fn check_url(&self, raw: &str) -> Result<Url, TargetError> {
        let url = Url::parse(raw).map_err(|_| TargetError::Malformed)?;
        match url.scheme() {
            "https" => {}
            "http" if !self.require_https => {}
            "http" => return Err(TargetError::NotHttps),
            _ => return Err(TargetError::Malformed),
        }
        let host = url.host_str().ok_or(TargetError::Malformed)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetError::Malformed);
        }
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>() {
            if !self.allows(ip) {
                return Err(TargetError::Private);
            }
        }
        Ok(url)
    }

    /// At registration: the URL's form, then every address its host resolves to now.
    pub async fn check_registration(&self, raw: &str) -> Result<Url, TargetError> {
        let url = self.check_url(raw)?;
        if self.allow_private {
            return Ok(url);
        }
        let host = url.host_str().ok_or(TargetError::Malformed)?.to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| TargetError::Unresolvable)?
            .collect();
        if addresses.is_empty() {
            return Err(TargetError::Unresolvable);
        }
        if addresses.iter().any(|a| !self.allows(a.ip())) {
            return Err(TargetError::Private);
        }
        Ok(url)
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allow_private || is_public(ip)
    }
}

/// Globally routable unicast: none of the ranges a webhook must never reach.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, 192.0.0.0/24; benchmarking, 198.18.0.0/15; reserved, 240/4.
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Unique local (fc00::/7; AWS metadata is fd00:ec2::254) and link-local (fe80::/10).
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        // Documentation, 2001:db8::/32.
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

/// The delivery client's DNS resolver: the system's answer, minus refused addresses.
pub struct GuardedResolver {
    pub policy: TargetPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = resolved.filter(|a| policy.allows(a.ip())).collect();
            if allowed.is_empty() {
                let refused: Box<dyn std::error::Error + Send + Sync> = Box::new(TargetError::Private);
                return Err(refused);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRODUCTION: TargetPolicy = TargetPolicy {
        require_https: true,
        allow_private: false,
    };

    #[test]
    fn private_and_metadata_addresses_are_refused() {
        for url in [
            "https://127.0.0.1/hook",
            "https://10.1.2.3/",
            "https://172.16.0.1/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fd00:ec2::254]/",
            "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/",
        ] {
            assert_eq!(PRODUCTION.check_url(url).unwrap_err(), TargetError::Private, "{url}");
        }
        assert!(PRODUCTION.check_url("https://93.184.216.34/hook").is_ok());
    }

    /// DNS rebinding: whatever a name resolves to at connect time is checked again.
    #[tokio::test]
    async fn the_resolver_drops_refused_addresses_after_resolution() {
        let guarded = GuardedResolver { policy: PRODUCTION };
        let name: Name = "localhost".parse().unwrap();
        assert!(
            guarded.resolve(name).await.is_err(),
            "localhost resolved for a production client"
        );
        let development = GuardedResolver {
            policy: TargetPolicy {
                require_https: false,
                allow_private: true,
            },
        };
        let name: Name = "localhost".parse().unwrap();
        assert!(development.resolve(name).await.is_ok());
    }

    #[test]
    fn production_requires_https() {
        assert_eq!(
            PRODUCTION.check_url("http://example.com/").unwrap_err(),
            TargetError::NotHttps
        );
        assert_eq!(
            PRODUCTION.check_url("ftp://example.com/").unwrap_err(),
            TargetError::Malformed
        );
        assert_eq!(PRODUCTION.check_url("not a url").unwrap_err(), TargetError::Malformed);
    }
}
