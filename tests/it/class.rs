//! `netchat room` for a real class: thirty laptops behind one address, a host who steers a
//! running room, refusals the host sees. Through the real binary on loopback, on both engines;
//! every wait has a deadline and is synchronized on output.

use crate::common;

use std::net::{IpAddr, SocketAddr};

use common::{Engine, RawPeer, engine_tests, raw_connect_from, room_join as join};

fn from(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

/// A student with nc from `ip`: connects, and presses Enter again once (reconnects) if turned
/// away. The first line the room said to its last try, and the peer if it is in.
fn student(ip: IpAddr, addr: SocketAddr) -> Option<(String, Option<RawPeer>)> {
    let mut said = String::new();
    for _ in 0..2 {
        let mut peer = raw_connect_from(ip, addr)?;
        said = peer.read_line();
        if said.starts_with("*** welcome!") {
            return Some((said, Some(peer)));
        }
    }
    Some((said, None))
}

fn class_a_lab_of_30_behind_one_address_all_join_with_the_defaults(engine: Engine) {
    let (mut server, addr) = engine.listen("server", &[]);
    // The card says what can refuse a student, in one line.
    server.expect_stderr("the door: 1000 seats (--max-clients); one address: 4 seats");
    let mut class = Vec::new();
    for _ in 0..30 {
        let Some((said, peer)) = student(from(2), addr) else {
            return;
        };
        assert!(peer.is_some(), "a student was turned away: {said}");
        class.extend(peer);
    }
    server.expect_stderr("(30 in the room)");
    // A script from another address, all at once: it cannot take every seat, and another
    // student still gets in.
    let mut script = Vec::new();
    let mut refused = 0;
    for _ in 0..60 {
        let Some(mut peer) = raw_connect_from(from(3), addr) else {
            return;
        };
        let said = peer.read_line();
        if said.starts_with("*** goodbye: sorry, your address") {
            assert!(
                said.contains("your class may share one address: ask the host"),
                "{said}"
            );
            refused += 1;
        }
        script.push(peer);
    }
    assert!(
        refused > 0,
        "a script from one address took 60 seats at once"
    );
    server.expect_stderr("refused a connection from 127.0.0.3");
    let mut alice = join(addr, "alice");
    alice.send_line("still room for me");
    server.expect_stdout("[alice] still room for me");
}

fn class_an_outsider_at_a_full_room_is_told_it_is_not_admitted_and_the_host_sees_it(
    engine: Engine,
) {
    let (mut server, addr) =
        engine.listen("server", &["--max-clients", "1", "--allow", "127.0.0.1"]);
    let _alice = join(addr, "alice");
    let Some(mut outsider) = raw_connect_from(from(2), addr) else {
        return;
    };
    let said = outsider.read_line();
    assert!(said.contains("admits only the class's network"), "{said}");
    server.expect_stderr("refused a connection from 127.0.0.2: this room admits only");
    // A full room is on the console too.
    let mut late = common::raw_connect(addr);
    assert!(late.read_line().contains("the room is full (1 people)"));
    server.close_stdin();
    server.expect_stderr("refused 1 more connection: 1 from 127.0.0.1 (room full)");
}

engine_tests! {
    class_a_lab_of_30_behind_one_address_all_join_with_the_defaults,
    class_an_outsider_at_a_full_room_is_told_it_is_not_admitted_and_the_host_sees_it,
}
