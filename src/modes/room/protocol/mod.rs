//! The room's line protocol: what a client may send, and every line the server sends back.
//!
//! Pure functions on bytes and strings, no sockets, so every rule is unit tested below.
//!
//! A client sends one command per line (`\n` or `\r\n`; framing.rs strips the CR):
//!
//! | line | meaning |
//! |---|---|
//! | `hello all` | a message to everyone else in the room |
//! | `/nick NAME` | take a name (unique, 1–20 ASCII letters, digits, `-`, `_`, `.`) |
//! | `/who` | list who is in the room |
//! | `/me waves` | an action: `* alice waves` |
//! | `/msg NICK TEXT` | a private message to one member |
//! | `/quit [reason]` | leave |
//! | `/help` | list the commands |
//! | `//text` | a message that starts with a slash (`/text`) |
//!
//! The server writes one line per event, and the *server* puts the sender's name first, so a
//! client cannot speak as someone else. Each kind of line starts differently, so a reader (or
//! netchat's client, to pick a color) can tell them apart:
//!
//! | line | sent when |
//! |---|---|
//! | `[alice] hello all` | alice said something (`[host]` is the operator of the server) |
//! | `* alice waves` | alice used `/me` |
//! | `[alice -> you] psst` | alice sent you a private message |
//! | `*** bob joined (3 in the room)` | a notice: join, leave, rename, an answer, a refusal |
//! | `*** goodbye: …` | the last line before the server closes your connection |
//!
//! A line from bob that starts with `[alice]` arrives as `[bob] [alice] …`: nicknames cannot
//! contain spaces or brackets, so the first `[...]` is always the real sender.
//!
//! Pure functions on bytes and strings, no sockets. Its parts: `commands.rs` (what a member or
//! the host types, understood), `names.rs` (who may be called what), `lines.rs` (every line the
//! server writes, and reading one back), `policy.rs` (the room's refusals and rules, worded).
//! Everything is re-exported here: callers write `protocol::notice`, whichever part holds it.

mod commands;
mod lines;
mod names;
mod policy;

pub use commands::*;
pub use lines::*;
pub use names::*;
pub use policy::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modes::room::actions::LineKind;

    #[test]
    fn plain_lines_are_messages_and_blank_lines_nothing() {
        assert_eq!(parse(b"hello all"), Command::Say(b"hello all"));
        assert_eq!(parse(b""), Command::Nothing);
        assert_eq!(parse(b"   "), Command::Nothing);
    }

    #[test]
    fn commands_parse_with_their_arguments() {
        assert_eq!(parse(b"/nick alice"), Command::Nick(b"alice"));
        assert_eq!(parse(b"/NICK  alice  "), Command::Nick(b"alice"));
        assert_eq!(parse(b"/who"), Command::Who);
        assert_eq!(parse(b"/stats"), Command::Stats);
        assert_eq!(parse(b"/me waves hello"), Command::Me(b"waves hello"));
        assert_eq!(
            parse(b"/msg bob  see you at 5"),
            Command::Msg {
                to: b"bob",
                text: b"see you at 5"
            }
        );
        assert_eq!(parse(b"/quit"), Command::Quit(None));
        assert_eq!(
            parse(b"/quit time for lunch"),
            Command::Quit(Some(b"time for lunch"))
        );
        assert_eq!(parse(b"/help"), Command::Help);
    }

    #[test]
    fn misused_and_unknown_commands_say_why() {
        assert!(matches!(parse(b"/nick"), Command::Usage(_)));
        assert!(matches!(parse(b"/msg bob"), Command::Usage(_)));
        assert!(matches!(parse(b"/me"), Command::Usage(_)));
        assert_eq!(parse(b"/dance now"), Command::Unknown("dance".into()));
        assert!(unknown_command("dance").contains("/help lists the commands"));
        for word in ["q", "exit", "leave", "Q"] {
            let answer = unknown_command(word);
            assert!(answer.contains("/quit leaves the room"), "{answer}");
        }
        assert_eq!(parse(b"/\x1b[2J"), Command::Unknown("\\x1b[2J".into()));
    }

    #[test]
    fn a_double_slash_says_a_line_that_starts_with_a_slash() {
        assert_eq!(
            parse(b"//nick is a command"),
            Command::Say(b"/nick is a command")
        );
    }

    #[test]
    fn a_refused_character_is_shown_escaped() {
        let why = check_nick("bob\u{202e}".as_bytes())
            .unwrap_err()
            .to_string();
        assert!(why.contains("cannot contain '\\u{202e}'"), "{why}");
        assert!(!why.contains('\u{202e}'), "{why}");
        let why = check_nick("\u{430}lice".as_bytes())
            .unwrap_err()
            .to_string();
        assert!(why.contains("cannot contain '\u{430}'"), "{why}");
    }

    #[test]
    fn good_nicknames_pass() {
        assert_eq!(check_nick(b"alice").unwrap(), "alice");
        assert_eq!(check_nick(b"Zoe_2.b-c").unwrap(), "Zoe_2.b-c");
        assert!(check_nick(&[b'a'; MAX_NICK]).is_ok());
    }

    #[test]
    fn bad_nicknames_are_refused_with_the_reason() {
        assert_eq!(check_nick(b""), Err(NickError::Empty));
        assert_eq!(check_nick(&[b'a'; MAX_NICK + 1]), Err(NickError::TooLong));
        let spaces = check_nick(b"al ice").unwrap_err();
        assert!(spaces.to_string().contains("spaces"), "{spaces}");
        let control = check_nick(b"al\x1bice").unwrap_err();
        assert!(control.to_string().contains("control"), "{control}");
        assert_eq!(check_nick(b"[alice]"), Err(NickError::BadCharacter('[')));
        assert_eq!(check_nick(b"a\xffb"), Err(NickError::NotUtf8));
        assert_eq!(check_nick(b"HOST"), Err(NickError::Reserved));
        // The invisible bidi override is not alphanumeric either.
        assert!(check_nick("a\u{202e}b".as_bytes()).is_err());
    }

    #[test]
    fn names_are_compared_without_case() {
        assert!(same_nick("Alice", "alice"));
        assert!(!same_nick("alice", "alice2"));
    }

    #[test]
    fn lookalike_names_count_as_the_same() {
        assert!(same_nick("aIice", "alice"));
        assert!(same_nick("a1ice", "ALICE"));
        assert!(same_nick("b0b", "bob"));
        assert!(same_nick("rnarc", "marc"));
        assert!(same_nick("vvill", "will"));
        assert!(!same_nick("bob", "rob"));
        assert!(!same_nick("alice", "alicia"));
    }

    #[test]
    fn digits_that_look_like_letters_fold_onto_them() {
        for (lookalike, original) in [
            ("ho5t", "host"),
            ("hos7", "host"),
            ("4lice", "alice"),
            ("d4ve", "dave"),
            ("8ob", "bob"),
            ("ol9a", "olga"),
            ("olqa", "olga"),
            ("3ve", "eve"),
            ("b0b", "bob"),
        ] {
            assert!(same_nick(lookalike, original), "{lookalike} vs {original}");
        }
        assert!(!same_nick("bob2", "bob"));
        assert_eq!(check_nick(b"ho5t"), Err(NickError::Reserved));
    }

    #[test]
    fn punctuation_and_confusable_letters_do_not_make_a_new_name() {
        for (lookalike, original) in [
            ("host_", "host"),
            ("-host", "host"),
            ("h.o.s.t", "host"),
            ("a.lice", "alice"),
            ("a_lice", "alice"),
            ("Dave_", "dave"),
            ("clave", "dave"),
            ("CLAVE", "Dave"),
            ("rn", "m"),
        ] {
            assert!(same_nick(lookalike, original), "{lookalike} vs {original}");
        }
        // Letters of other alphabets fold onto the Latin ones they look like, so the rule holds
        // even for a name that never went through check_nick.
        assert!(same_nick("\u{430}lice", "alice"));
        assert!(!same_nick("dave", "dove"));
    }

    #[test]
    fn host_and_its_lookalikes_are_reserved() {
        for name in ["host", "HOST", "host_", "-host", "h0st", "ho.st", "Host-"] {
            assert_eq!(
                check_nick(name.as_bytes()),
                Err(NickError::Reserved),
                "{name}"
            );
        }
        assert!(check_nick(b"hostess").is_ok());
    }

    #[test]
    fn a_name_of_punctuation_only_is_refused() {
        assert_eq!(check_nick(b"..."), Err(NickError::NoLetters));
        assert_eq!(check_nick(b"_"), Err(NickError::NoLetters));
        // Other alphabets are refused outright: Cyrillic а (U+0430) looks like Latin a.
        let cyrillic = check_nick("\u{430}lice".as_bytes()).unwrap_err();
        assert!(cyrillic.to_string().contains("ASCII"), "{cyrillic}");
    }

    #[test]
    fn the_sender_name_comes_first_so_impersonation_shows() {
        assert_eq!(
            said("bob", b"[alice] I owe bob 10 euros"),
            "[bob] [alice] I owe bob 10 euros"
        );
        assert_eq!(
            classify(&said("bob", b"[alice -> you] x")),
            LineKind::Message
        );
    }

    #[test]
    fn relayed_text_is_escaped_for_raw_terminals() {
        assert_eq!(said("bob", b"\x1b[2Jhi\x07"), "[bob] \\x1b[2Jhi\\x07");
        assert_eq!(action("bob", b"waves\r"), "* bob waves\\x0d");
        assert_eq!(private("bob", b"\xff"), "[bob -> you] \u{fffd}");
        assert_eq!(said("bob", "a\u{200b}b".as_bytes()), "[bob] a\\u{200b}b");
    }

    #[test]
    fn a_message_cannot_push_a_fake_notice_onto_its_own_row() {
        let fake = format!(
            "hi{}*** bob was kicked by the host (cheating)",
            " ".repeat(68)
        );
        let shown = said("eve", fake.as_bytes());
        assert_eq!(
            shown,
            "[eve] hi        *** bob was kicked by the host (cheating)"
        );
        assert_eq!(said("eve", b"    indented()"), "[eve]     indented()");
    }

    #[test]
    fn a_line_of_control_bytes_shows_a_few_escapes_and_says_how_many_were_left_out() {
        let shown = said("eve", &[0x01; 8000]);
        assert_eq!(
            shown,
            format!(
                "[eve] {} [7,984 more control characters not shown]",
                "\\x01".repeat(MAX_ESCAPED)
            )
        );
        // One row or two, not 400.
        assert!(shown.len() < 120, "{} columns", shown.len());
    }

    #[test]
    fn the_text_around_left_out_escapes_is_kept_and_a_few_escapes_are_not_counted() {
        let mut text = b"see ".to_vec();
        text.extend([0x07; 20]);
        text.extend(b" here");
        assert_eq!(
            message_text(&text),
            format!(
                "see {} here [4 more control characters not shown]",
                "\\x07".repeat(MAX_ESCAPED)
            )
        );
        assert_eq!(message_text(b"a\x1b[31mred"), "a\\x1b[31mred");
    }

    #[test]
    fn leaving_an_escape_out_never_joins_its_neighbours_into_a_new_character() {
        // `e2 80` and `8b` are invalid apart, and a zero-width space (U+200B) together.
        let text: Vec<u8> = [0xe2, 0x80, 0x01, 0x8b].repeat(100);
        let shown = message_text(&text);
        assert!(!shown.contains("200b"), "{shown}");
        assert!(shown.chars().count() < 120, "{shown}");
    }

    #[test]
    fn zalgo_keeps_a_few_marks_on_each_letter_and_says_how_many_it_left_out() {
        let zalgo: String = "hi"
            .chars()
            .flat_map(|c| std::iter::once(c).chain(std::iter::repeat_n('\u{0301}', 50)))
            .collect();
        let shown = said("eve", zalgo.as_bytes());
        let four = "\u{0301}".repeat(MAX_STACKED);
        assert_eq!(
            shown,
            format!("[eve] h{four}i{four} [92 more stacked marks not shown]")
        );
    }

    #[test]
    fn the_accents_of_written_languages_and_emoji_pass_untouched() {
        for text in [
            "Ti\u{1ebf}ng Vi\u{1ec7}t, e\u{0323}\u{0302}", // Vietnamese, precomposed and not
            "\u{05e9}\u{05c1}\u{05b8}\u{0591}\u{05dc}\u{05d5}\u{05b9}\u{05dd}", // Hebrew points and a cantillation mark
            "\u{0915}\u{094d}\u{0937}\u{093f} \u{0928}\u{092e}\u{0938}\u{094d}\u{0924}\u{0947}", // Devanagari
            "1\u{fe0f}\u{20e3} \u{1f44d}\u{1f3fd}", // a keycap, a thumb with a skin tone
        ] {
            assert_eq!(message_text(text.as_bytes()), text);
        }
    }

    #[test]
    fn escapes_and_marks_left_out_are_both_told() {
        let mut text = vec![0x01; 20];
        text.extend("a".bytes().chain("\u{0300}".repeat(10).bytes()));
        assert!(
            message_text(&text)
                .ends_with(" [4 more control characters and 6 more stacked marks not shown]")
        );
    }

    #[test]
    fn every_goodbye_says_why_to_the_client() {
        assert_eq!(
            farewell(&room_full(2)),
            Some(Farewell::Refused {
                reason: "the room is full (2 people); try again later".into()
            })
        );
        let removed = Some(Farewell::RemovedByHost);
        assert_eq!(farewell(&kicked(Some(b"noisy")).0), removed);
        assert_eq!(farewell(&kicked(None).0), removed);
        assert_eq!(farewell(&banned(Some(b"spam")).0), removed);
        assert_eq!(farewell(&goodbye("see you")), Some(Farewell::Closed));
        assert_eq!(farewell("[bob] *** goodbye: sorry, fake"), None);
    }

    #[test]
    fn each_kind_of_line_is_recognised() {
        assert_eq!(classify("[alice] hi"), LineKind::Message);
        assert_eq!(classify("[host] hi"), LineKind::Host);
        assert_eq!(classify("* alice waves"), LineKind::Action);
        assert_eq!(classify(&private("alice", b"psst")), LineKind::Private);
        assert_eq!(classify(&notice("bob joined")), LineKind::Notice);
        assert_eq!(classify(&goodbye("the room is closing")), LineKind::Goodbye);
    }

    #[test]
    fn who_lists_names_in_order() {
        assert_eq!(
            who(&["alice", "bob"]),
            "*** in the room (2 people): alice, bob"
        );
        assert_eq!(who(&["alice"]), "*** in the room (1 person): alice");
    }

    #[test]
    fn the_longest_relayed_line_fits_the_client_limit() {
        let worst = vec![0x1b_u8; 100];
        let nick = "ü".repeat(MAX_NICK);
        for line in [
            said(&nick, &worst),
            private(&nick, &worst),
            action(&nick, &worst),
        ] {
            assert!(line.len() <= longest_relayed_line(100), "{}", line.len());
        }
    }

    #[test]
    fn long_quit_reasons_are_cut() {
        let long = vec![b'x'; 500];
        assert_eq!(reason_text(&long).chars().count(), 201);
        assert_eq!(reason_text(b"lunch"), "lunch");
        let fake = format!("bye{}*** bob was kicked", " ".repeat(70));
        assert_eq!(
            reason_text(fake.as_bytes()),
            "bye        *** bob was kicked"
        );
    }

    #[test]
    fn host_commands_parse() {
        assert_eq!(
            parse_host(b"hello class"),
            HostCommand::Say(b"hello class".to_vec())
        );
        assert_eq!(parse_host(b"/who"), HostCommand::Who);
        assert_eq!(parse_host(b"/STATS"), HostCommand::Stats);
        assert_eq!(
            parse_host(b"/kick bob spamming"),
            HostCommand::Kick {
                nick: b"bob".to_vec(),
                reason: Some(b"spamming".to_vec())
            }
        );
        assert_eq!(
            parse_host(b"/kick bob"),
            HostCommand::Kick {
                nick: b"bob".to_vec(),
                reason: None
            }
        );
        assert!(matches!(parse_host(b"/kick"), HostCommand::Usage(_)));
        assert_eq!(parse_host(b"/quit"), HostCommand::Close);
        assert_eq!(
            parse_host(b"/ban eve flooding"),
            HostCommand::Ban {
                target: BanTarget::Nick(b"eve".to_vec()),
                minutes: None,
                reason: Some(b"flooding".to_vec())
            }
        );
        assert_eq!(
            parse_host(b"/ban 127.0.0.2 10"),
            HostCommand::Ban {
                target: BanTarget::Address("127.0.0.2".parse().unwrap()),
                minutes: Some(10),
                reason: None
            }
        );
        assert!(matches!(parse_host(b"/ban"), HostCommand::Usage(_)));
        assert_eq!(
            parse_host(b"/unban 127.0.0.2"),
            HostCommand::Unban(Some("127.0.0.2".parse().unwrap()))
        );
        assert_eq!(
            parse_host(b"/unban ::1"),
            HostCommand::Unban(Some("::1".parse().unwrap()))
        );
        assert_eq!(parse_host(b"/unban"), HostCommand::Unban(None));
        assert!(matches!(parse_host(b"/unban eve"), HostCommand::Usage(_)));
        assert!(matches!(parse_host(b"/nick x"), HostCommand::Usage(_)));
    }

    #[test]
    fn the_hosts_live_controls_are_understood() {
        assert_eq!(parse_host(b"/limit"), HostCommand::Limit(LimitChange::Show));
        assert_eq!(
            parse_host(b"/limit rate 50 alice"),
            HostCommand::Limit(LimitChange::MemberRate {
                lines: 50,
                nick: b"alice".to_vec()
            })
        );
        assert_eq!(
            parse_host(b"/limit seats 0"),
            HostCommand::Limit(LimitChange::Seats(0))
        );
        assert_eq!(
            parse_host(b"/limit clients 40"),
            HostCommand::Limit(LimitChange::Clients(40))
        );
        assert!(matches!(
            parse_host(b"/limit rate x"),
            HostCommand::Usage(_)
        ));
        assert_eq!(
            parse_host(b"/mute eve 5"),
            HostCommand::Mute {
                nick: b"eve".to_vec(),
                minutes: Some(5)
            }
        );
        assert!(matches!(
            parse_host(b"/mute eve soon"),
            HostCommand::Usage(_)
        ));
        assert_eq!(
            parse_host(b"/unmute eve"),
            HostCommand::Unmute(b"eve".to_vec())
        );
        assert_eq!(parse_host(b"/topic"), HostCommand::Topic(None));
        assert_eq!(
            parse_host(b"/topic sockets, part 2"),
            HostCommand::Topic(Some(b"sockets, part 2".to_vec()))
        );
        assert_eq!(
            parse_host(b"/msg bob see me after class"),
            HostCommand::Msg {
                nick: b"bob".to_vec(),
                text: b"see me after class".to_vec()
            }
        );
        assert_eq!(parse(b"/topic"), Command::Topic);
    }
}
