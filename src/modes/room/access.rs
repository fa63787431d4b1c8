//! Who may join the room: `--allow NETWORK` and `--deny NETWORK`, decided by the peer's address.
//!
//! A teacher running the room on a school LAN wants the lab's subnet in and everyone else out:
//! `--allow 192.168.1.0/24`. A network is written in CIDR notation: an address, a slash, and how
//! many leading bits must match (`/24` = the first three numbers of an IPv4 address). A bare
//! address is one machine (`/32` for IPv4, `/128` for IPv6).
//!
//! The decision is pure (an address in, a [`Verdict`] out) and taken at admission, beside the
//! other per-address rules (bans, seats per address: `Admission` in limits.rs), before the
//! newcomer is a member: a refused client gets one `*** goodbye:` line saying why, and is
//! closed, and the console counts refusals rather than printing one line each.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net};

use crate::endpoint::unmapped_ip;

/// One `--allow` or `--deny` value: every address whose first bits equal the network's (an
/// [`IpNet`] from the `ipnet` crate, which does the masking and matching).
///
/// An IPv4 address written IPv6's way (`::ffff:10.0.0.0/104`) is the IPv4 network it means
/// (`10.0.0.0/8`), so an IPv4 network is always held as one, with its IPv4 prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network(IpNet);

impl Network {
    /// The network that holds exactly `ip` (as IPv4 if it is an IPv4-mapped address).
    fn machine(ip: IpAddr) -> Network {
        Network(IpNet::from(unmapped_ip(ip)))
    }

    /// Whether `ip` is in this network. An IPv4 client of a dual-stack (`[::]`) listener shows up
    /// as `::ffff:a.b.c.d`; it is matched as the IPv4 address it is.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&unmapped_ip(ip))
    }
}

/// An IPv4-mapped IPv6 network (`::ffff:a.b.c.d/96+n`) as the IPv4 network `a.b.c.d/n`; any
/// other network as it is.
fn unmapped_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(net, IpNet::V4),
            None => net,
        },
        _ => net,
    }
}

impl FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Network, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let ip: IpAddr = address.parse().map_err(|_| {
            format!(
                "'{address}' is not an IP address: write a network such as 192.168.1.0/24 or \
                 fd00::/64, or one address such as 192.168.1.7"
            )
        })?;
        let Some(prefix) = prefix else {
            return Ok(Network::machine(ip));
        };
        let bits = match ip {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let net = prefix
            .parse::<u8>()
            .ok()
            .and_then(|prefix| IpNet::new(ip, prefix).ok())
            .ok_or_else(|| {
                format!(
                    "'/{prefix}' is not a prefix length for {address}: use a number from 0 \
                     to {bits} (how many leading bits must match), e.g. /24"
                )
            })?;
        // `192.168.1.7/24` means the network 192.168.1.0/24, as in `ip addr`'s output: keep the
        // network part only (`trunc`), which is also how it is shown.
        Ok(Network(unmapped_net(net.trunc())))
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.0.network(), self.0.prefix_len())
    }
}

/// The room's `--allow` and `--deny` lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessList {
    /// If not empty, only these networks may join.
    pub allow: Vec<Network>,
    /// Never these, even inside an allowed network (`--allow 10.0.0.0/24 --deny 10.0.0.66`).
    pub deny: Vec<Network>,
    /// `--lab`: networks whose addresses a class shares (a school's NAT, a lab's router, a room
    /// in a VM), trusted: no per-address seat or connection-rate limit (limits.rs) for them.
    /// Not a door of its own: `--allow` and `--deny` still decide who comes in.
    pub lab: Vec<Network>,
}

/// What the access list says about one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Admit,
    /// In a `--deny` network.
    Denied(Network),
    /// `--allow` was given and no allowed network holds the address.
    NotAllowed,
}

impl AccessList {
    /// Whether anyone may join (no `--allow`, no `--deny`; `--lab` admits nobody by itself).
    pub fn is_open(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }

    /// The decision for a newcomer from `ip`. Deny wins: a teacher who allows the lab's subnet
    /// and denies one machine in it means that machine stays out.
    // ANCHOR: decide
    pub fn decide(&self, ip: IpAddr) -> Verdict {
        if let Some(network) = self.deny.iter().find(|n| n.contains(ip)) {
            return Verdict::Denied(*network);
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|n| n.contains(ip)) {
            return Verdict::NotAllowed;
        }
        Verdict::Admit
    }
    // ANCHOR_END: decide

    /// One line for the operator at start-up, e.g. `only 192.168.1.0/24 may join; not 192.168.1.66/32`.
    pub fn describe(&self) -> Option<String> {
        let list = |networks: &[Network]| {
            networks
                .iter()
                .map(Network::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match (self.allow.is_empty(), self.deny.is_empty()) {
            (true, true) => None,
            (false, true) => Some(format!("only {} may join", list(&self.allow))),
            (true, false) => Some(format!("everyone may join except {}", list(&self.deny))),
            (false, false) => Some(format!(
                "only {} may join, and never {}",
                list(&self.allow),
                list(&self.deny)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> Network {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_bare_address_is_one_machine() {
        assert_eq!(net("10.0.0.7").to_string(), "10.0.0.7/32");
        assert_eq!(net("::1").to_string(), "::1/128");
        assert!(net("10.0.0.7").contains(ip("10.0.0.7")));
        assert!(!net("10.0.0.7").contains(ip("10.0.0.8")));
    }

    #[test]
    fn a_network_holds_the_addresses_that_share_its_prefix() {
        let lab = net("192.168.1.0/24");
        assert!(lab.contains(ip("192.168.1.0")));
        assert!(lab.contains(ip("192.168.1.255")));
        assert!(!lab.contains(ip("192.168.2.1")));
        let odd = net("10.0.0.0/23");
        assert!(odd.contains(ip("10.0.1.200")));
        assert!(!odd.contains(ip("10.0.2.0")));
        let v6 = net("fd00:1:2::/48");
        assert!(v6.contains(ip("fd00:1:2:ffff::9")));
        assert!(!v6.contains(ip("fd00:1:3::9")));
    }

    #[test]
    fn host_bits_are_dropped_like_ip_addr_writes_them() {
        assert_eq!(net("192.168.1.7/24").to_string(), "192.168.1.0/24");
        assert_eq!(net("fd00::1:2/64").to_string(), "fd00::/64");
    }

    #[test]
    fn zero_prefix_matches_the_whole_family_only() {
        assert!(net("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(!net("0.0.0.0/0").contains(ip("::1")));
        assert!(net("::/0").contains(ip("2001:db8::1")));
        assert!(!net("::/0").contains(ip("127.0.0.1")));
    }

    #[test]
    fn ipv4_clients_of_a_dual_stack_listener_match_ipv4_networks() {
        assert!(net("127.0.0.0/8").contains(ip("::ffff:127.0.0.3")));
        assert_eq!(net("::ffff:10.0.0.1").to_string(), "10.0.0.1/32");
    }

    #[test]
    fn bad_networks_are_refused_with_an_example() {
        let err = "lab".parse::<Network>().unwrap_err();
        assert!(err.contains("not an IP address") && err.contains("192.168.1.0/24"));
        assert!(
            "10.0.0.0/33"
                .parse::<Network>()
                .unwrap_err()
                .contains("0 to 32")
        );
        assert!(
            "::/129"
                .parse::<Network>()
                .unwrap_err()
                .contains("0 to 128")
        );
        assert!("10.0.0.0/x".parse::<Network>().is_err());
        assert!("10.0.0/8".parse::<Network>().is_err());
    }

    #[test]
    fn without_lists_everyone_is_admitted() {
        let open = AccessList::default();
        assert!(open.is_open());
        assert_eq!(open.decide(ip("203.0.113.9")), Verdict::Admit);
        assert_eq!(open.describe(), None);
    }

    #[test]
    fn allow_keeps_the_room_to_its_networks_and_deny_wins_inside_them() {
        let list = AccessList {
            allow: vec![net("127.0.0.0/8"), net("::1")],
            deny: vec![net("127.0.0.3")],
            lab: Vec::new(),
        };
        assert_eq!(list.decide(ip("127.0.0.2")), Verdict::Admit);
        assert_eq!(list.decide(ip("::1")), Verdict::Admit);
        assert_eq!(
            list.decide(ip("127.0.0.3")),
            Verdict::Denied(net("127.0.0.3"))
        );
        assert_eq!(list.decide(ip("10.0.0.1")), Verdict::NotAllowed);
        assert_eq!(
            list.describe().unwrap(),
            "only 127.0.0.0/8, ::1/128 may join, and never 127.0.0.3/32"
        );
    }

    #[test]
    fn a_mapped_network_is_the_ipv4_network_it_is() {
        let mapped = net("::ffff:10.0.0.0/104");
        assert_eq!(mapped.to_string(), "10.0.0.0/8");
        assert!(mapped.contains(ip("10.1.2.3")));
        assert!(mapped.contains(ip("::ffff:10.1.2.3")));
        assert!(!mapped.contains(ip("11.0.0.1")));
        assert!(net("10.0.0.0/8").contains(ip("::ffff:10.9.9.9")));
    }
}
