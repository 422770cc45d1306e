//! Where Houston's own outbound requests (chat webhooks) may go: public addresses,
//! and the internal networks an operator names in `HOUSTON_WEBHOOK_ALLOWED_NETWORKS`.
//! A webhook URL is set by a person; without this a setting could make Houston post
//! to its own loopback services, a cloud metadata address or the office network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The address policy for outbound requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Internal networks that are reachable anyway (GitLab-style allow list).
    pub allowed: Vec<ipnet::IpNet>,
}

impl OutboundPolicy {
    pub fn new(allowed: Vec<ipnet::IpNet>) -> Self {
        Self { allowed }
    }

    /// Whether a request may go to `ip`: a public address, or one inside an allowed
    /// network (compared as written and, for IPv4-mapped forms, as the IPv4 address).
    pub fn permits(&self, ip: IpAddr) -> bool {
        let plain = embedded_v4(ip).map_or(ip, IpAddr::V4);
        !is_internal(ip)
            || self
                .allowed
                .iter()
                .any(|net| net.contains(&ip) || net.contains(&plain))
    }

    /// Checks a URL whose host is a literal address (`http://10.0.0.5/`,
    /// `http://2130706433/`, `http://[::ffff:127.0.0.1]/`); a name is checked when
    /// it is resolved, just before connecting. `Err` says why, naming the host only
    /// (a webhook's path is its secret).
    pub fn check_url(&self, raw: &str) -> Result<(), String> {
        let url = url::Url::parse(raw).map_err(|_| "is not a URL".to_owned())?;
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(name)) => {
                return match name.trim_end_matches('.').to_ascii_lowercase().as_str() {
                    "localhost" => Err(self.refusal("localhost")),
                    n if n.ends_with(".localhost") => Err(self.refusal(n)),
                    _ => Ok(()),
                };
            }
            None => return Err("has no host".to_owned()),
        };
        if self.permits(ip) {
            Ok(())
        } else {
            Err(self.refusal(&ip.to_string()))
        }
    }

    /// Why `host` is refused, and how an operator lets it through.
    pub fn refusal(&self, host: &str) -> String {
        format!(
            "{host} is an internal address (loopback, private, link-local, metadata …); \
             an operator may allow its network in HOUSTON_WEBHOOK_ALLOWED_NETWORKS"
        )
    }
}

/// The IPv4 address an IPv6 address carries: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`).
fn embedded_v4(ip: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(v6) = ip else {
        return None;
    };
    let s = v6.segments();
    let low = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(low(hi, lo)),
        // IPv4-translated (`::ffff:0:a.b.c.d`).
        [0, 0, 0, 0, 0xffff, 0, hi, lo] => Some(low(hi, lo)),
        // Local-use NAT64 (`64:ff9b:1::/48`), the IPv4 address in the last 32 bits.
        [0x64, 0xff9b, 1, _, _, _, hi, lo] => Some(low(hi, lo)),
        // `::` and `::1` are not IPv4-compatible forms; they are judged as IPv6.
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 => Some(low(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x2002, hi, lo, ..] => Some(low(hi, lo)),
        _ => None,
    }
}

/// Whether `ip` is an address a webhook must not reach unless allowed: not a
/// globally routed unicast address, in any of its written forms.
pub fn is_internal(ip: IpAddr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_internal_v4(v4);
    }
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || a == 0 // "this network"
        || ip.is_loopback() // 127/8
        || a == 10 // RFC 1918
        || (a == 172 && (16..=31).contains(&b))
        || (a == 192 && b == 168)
        || ip.is_link_local() // 169.254/16, cloud metadata
        || (a == 100 && (64..=127).contains(&b)) // CGNAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..=19).contains(&b)) // benchmarking
        || ip.is_multicast() // 224/4
        || a >= 240 // reserved and broadcast
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_unspecified()
        || ip.is_loopback()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7 (incl. fd00:ec2::254)
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (first & 0xffc0) == 0xfec0 // site-local, deprecated
        || ip.is_multicast() // ff00::/8
        || (first == 0x0100 && ip.segments()[1..4] == [0, 0, 0]) // discard 100::/64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(policy: &OutboundPolicy, url: &str) -> bool {
        policy.check_url(url).is_err()
    }

    #[test]
    fn internal_addresses_in_every_written_form_are_refused() {
        let policy = OutboundPolicy::default();
        for url in [
            "http://127.0.0.1:3318/internal/admin",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.5:9200/_shutdown",
            "http://2130706433:8500/v1/agent/self",
            "http://0x7f000001/",
            "http://0/",
            "http://172.16.0.1/",
            "http://172.31.255.255/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://[::1]/",
            "http://[::]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:169.254.169.254]/",
            "http://[64:ff9b::a00:5]/",
            "http://[64:ff9b:1::a00:5]/",
            "http://[::ffff:0:7f00:1]/",
            "http://[2002:7f00:1::]/",
            "http://[fd00:ec2::254]/",
            "http://[fc00::1]/",
            "http://[fe80::1]/",
            "http://[ff02::1]/",
            "http://localhost:8080/",
            "http://LOCALHOST./",
            "http://admin.localhost/",
        ] {
            assert!(refused(&policy, url), "{url} must be refused");
        }
    }

    #[test]
    fn public_addresses_and_names_pass() {
        let policy = OutboundPolicy::default();
        for url in [
            "https://hooks.slack.com/services/T0/B0/x",
            "http://8.8.8.8/",
            "http://172.32.0.1/",
            "http://100.128.0.1/",
            "http://192.169.0.1/",
            "http://[2606:4700::1111]/",
            "http://[::ffff:8.8.8.8]/",
        ] {
            assert!(!refused(&policy, url), "{url} must pass");
        }
    }

    #[test]
    fn an_allowed_network_opens_that_network_only() {
        let policy = OutboundPolicy::new(vec!["10.1.2.0/24".parse().expect("net")]);
        assert!(!refused(&policy, "http://10.1.2.7/hook"));
        assert!(
            !refused(&policy, "http://[::ffff:10.1.2.7]/hook"),
            "its IPv4-mapped form too"
        );
        assert!(refused(&policy, "http://10.1.3.7/hook"));
        assert!(refused(&policy, "http://127.0.0.1/hook"));
        let loopback = OutboundPolicy::new(vec!["127.0.0.0/8".parse().expect("net")]);
        assert!(loopback.permits("127.0.0.1".parse().expect("ip")));
        assert!(!loopback.permits("::1".parse().expect("ip")));
    }
}
