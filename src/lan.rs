//! The addresses classmates can use to reach this machine, printed when a listener binds every
//! interface.
//!
//! A server listening on `0.0.0.0` (or `[::]`) accepts connections on every network interface,
//! but a classmate cannot type `0.0.0.0`: they need one of this machine's own addresses on the
//! shared network (its Wi-Fi or Ethernet interface), the "private IP address" of the lab sheet.
//! Rather than sending the student to `ip addr` or `ipconfig`, netchat asks the operating system
//! for its interfaces (through the `if-addrs` crate: `getifaddrs` on Unix, `GetAdaptersAddresses`
//! on Windows) and lists each usable address (not loopback, not link-local) with the exact
//! command to join, and a line on the firewall of the OS it runs on, for the console to print.
//!
//! netchat never sends anything to these addresses itself: it only lists them.

use std::net::{IpAddr, SocketAddr};

/// One address of this machine that another machine on the LAN may be able to reach.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LanAddress {
    /// The interface's name: `eth0`, `wlan0`, `en0`, `Wi-Fi`.
    pub interface: String,
    pub ip: IpAddr,
}

/// This machine's addresses other machines can use: every interface address except loopback
/// (127.0.0.1, ::1: this machine only) and IPv6 link-local ones (`fe80::`, which need a
/// `%interface` suffix few programs accept). IPv4 first, then by interface name.
pub fn addresses() -> Vec<LanAddress> {
    // If the OS cannot list its interfaces, there is simply nothing to print: the listening
    // line still says how to connect from this machine.
    let Ok(interfaces) = if_addrs::get_if_addrs() else {
        return Vec::new();
    };
    let mut found: Vec<LanAddress> = interfaces
        .into_iter()
        .filter(|interface| !interface.is_loopback() && !interface.is_link_local())
        .map(|interface| LanAddress {
            ip: interface.ip(),
            interface: interface.name,
        })
        .filter(|address| usable(address.ip))
        .collect();
    found.sort_by_key(|address| (address.ip.is_ipv6(), address.interface.clone(), address.ip));
    found.dedup();
    found
}

/// Whether a peer could ever use this address to reach us (not loopback, not link-local, not
/// unspecified), checked again here in case an OS reports them on an ordinary interface.
fn usable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_link_local() && !v4.is_unspecified(),
        IpAddr::V6(v6) => {
            !v6.is_loopback() && !v6.is_unspecified() && (v6.segments()[0] & 0xffc0) != 0xfe80
        }
    }
}

/// The addresses worth printing for a listener bound to `local`: none unless it listens on every
/// interface; only IPv4 ones for `0.0.0.0`; both families for `[::]` (a dual-stack socket).
pub fn reachable_for(local: SocketAddr, all: &[LanAddress]) -> Vec<LanAddress> {
    match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            all.iter().filter(|a| a.ip.is_ipv4()).cloned().collect()
        }
        IpAddr::V6(ip) if ip.is_unspecified() => all.to_vec(),
        _ => Vec::new(),
    }
}

/// `ADDR:PORT` the way a user types it (`[fd00::2]:5000` for IPv6).
pub fn join_target(ip: IpAddr, port: u16) -> String {
    SocketAddr::new(ip, port).to_string()
}

/// The lines that tell classmates how to join a listener bound to `local`: one per LAN address,
/// with the netchat command (`client` is e.g. `netchat room --connect {} --nick NAME`, where `{}`
/// stands for the address) and the `nc` one, then the firewall hint for this OS. Only the
/// addresses `admits` lets in are offered: a room run with `--allow 10.1.0.0/16` names its
/// address on that network, not one on a network whose classmates it would refuse.
pub fn join_lines(
    local: SocketAddr,
    client: &str,
    all: &[LanAddress],
    admits: &dyn Fn(IpAddr) -> bool,
) -> Vec<String> {
    if !local.ip().is_unspecified() {
        return Vec::new();
    }
    let port = local.port();
    let everywhere = reachable_for(local, all);
    if everywhere.is_empty() {
        return vec![
            "this machine has no network address besides loopback: classmates cannot reach it \
             until it joins a network (Wi-Fi, Ethernet); from this machine use localhost"
                .to_string(),
        ];
    }
    let reachable: Vec<LanAddress> = everywhere
        .into_iter()
        .filter(|address| admits(address.ip))
        .collect();
    if reachable.is_empty() {
        return vec![
            "none of this machine's network addresses is inside --allow: classmates on the \
             allowed networks join by an address of this machine that their network reaches"
                .to_string(),
        ];
    }
    let width = reachable
        .iter()
        .map(|a| a.interface.chars().count())
        .max()
        .unwrap_or(0);
    let mut lines = vec!["classmates on the same network join with one of:".to_string()];
    for address in &reachable {
        let command = client.replace("{}", &join_target(address.ip, port));
        lines.push(format!(
            "  {:width$}  {command}   or: nc {} {port}",
            address.interface, address.ip
        ));
    }
    lines.push(firewall_hint(port));
    lines
}

/// One line on the firewall of the OS netchat runs on: the usual reason classmates see
/// "connection timed out" although the address is right.
pub fn firewall_hint(port: u16) -> String {
    if cfg!(windows) {
        "firewall: if Windows Defender Firewall asks, allow netchat on private networks; \
         otherwise classmates' connections time out"
            .to_string()
    } else if cfg!(target_os = "macos") {
        "firewall: if macOS asks whether netchat may accept incoming connections, click Allow \
         (System Settings > Network > Firewall)"
            .to_string()
    } else {
        format!(
            "firewall: if classmates time out, open the port: sudo ufw allow {port}/tcp \
             (Ubuntu), or sudo firewall-cmd --add-port={port}/tcp (Fedora)"
        )
    }
}

/// [`join_lines`] for this machine's interfaces, for the caller to print as status lines; none
/// unless `local` is every interface (the listening line already says how to connect).
pub fn join_lines_here(
    local: SocketAddr,
    client: &str,
    admits: &dyn Fn(IpAddr) -> bool,
) -> Vec<String> {
    if !local.ip().is_unspecified() {
        return Vec::new();
    }
    join_lines(local, client, &addresses(), admits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lan(interface: &str, ip: &str) -> LanAddress {
        LanAddress {
            interface: interface.into(),
            ip: ip.parse().unwrap(),
        }
    }

    fn machine() -> Vec<LanAddress> {
        vec![lan("eth0", "192.168.1.20"), lan("wlan0", "fd00::20")]
    }

    #[test]
    fn a_listener_on_one_address_needs_no_list() {
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert!(join_lines(local, "netchat half --connect {}", &machine(), &|_| true).is_empty());
    }

    #[test]
    fn every_interface_gets_its_exact_command() {
        let local: SocketAddr = "[::]:5000".parse().unwrap();
        let lines = join_lines(
            local,
            "netchat room --connect {} --nick NAME",
            &machine(),
            &|_| true,
        );
        assert_eq!(lines[0], "classmates on the same network join with one of:");
        assert_eq!(
            lines[1],
            "  eth0   netchat room --connect 192.168.1.20:5000 --nick NAME   or: nc 192.168.1.20 5000"
        );
        assert_eq!(
            lines[2],
            "  wlan0  netchat room --connect [fd00::20]:5000 --nick NAME   or: nc fd00::20 5000"
        );
        assert!(lines[3].starts_with("firewall: "));
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn an_ipv4_only_listener_lists_ipv4_addresses_only() {
        let local: SocketAddr = "0.0.0.0:5000".parse().unwrap();
        let lines = join_lines(local, "netchat duplex --connect {}", &machine(), &|_| true);
        assert!(lines.iter().all(|line| !line.contains("fd00")), "{lines:?}");
        assert!(lines[1].contains("netchat duplex --connect 192.168.1.20:5000"));
    }

    #[test]
    fn only_the_addresses_allow_admits_are_offered() {
        let local: SocketAddr = "[::]:5000".parse().unwrap();
        let lab = |ip: IpAddr| matches!(ip, IpAddr::V4(v4) if v4.octets()[0] == 192);
        let lines = join_lines(local, "netchat room --connect {}", &machine(), &lab);
        assert!(lines[1].contains("192.168.1.20:5000"), "{lines:?}");
        assert!(lines.iter().all(|line| !line.contains("fd00")), "{lines:?}");
        let nobody = join_lines(local, "netchat room --connect {}", &machine(), &|_| false);
        assert_eq!(nobody.len(), 1);
        assert!(nobody[0].contains("inside --allow"), "{nobody:?}");
    }

    #[test]
    fn a_machine_without_a_network_says_so() {
        let local: SocketAddr = "0.0.0.0:5000".parse().unwrap();
        let lines = join_lines(local, "netchat half --connect {}", &[], &|_| true);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("no network address besides loopback"));
    }

    #[test]
    fn loopback_and_link_local_addresses_are_never_offered() {
        assert!(!usable("127.0.0.1".parse().unwrap()));
        assert!(!usable("169.254.3.4".parse().unwrap()));
        assert!(!usable("fe80::1".parse().unwrap()));
        assert!(!usable("::1".parse().unwrap()));
        assert!(usable("10.1.2.3".parse().unwrap()));
        assert!(usable("2001:db8::1".parse().unwrap()));
        for address in addresses() {
            assert!(usable(address.ip), "{address:?}");
        }
    }

    #[test]
    fn the_firewall_hint_names_the_port_where_a_command_needs_it() {
        let hint = firewall_hint(5123);
        assert!(hint.starts_with("firewall: "));
        if cfg!(target_os = "linux") {
            assert!(hint.contains("ufw allow 5123/tcp"), "{hint}");
        }
    }
}
