//! How a conversation was ended from outside the program: Ctrl-C, the terminal window closed
//! (SIGHUP), or `kill` (SIGTERM). main.rs turns each signal into one [`Interrupt`] on a channel;
//! a mode that ends politely on it says which (the room client's `/quit` reason, the room's
//! transcript), so a closed window is never written down as a Ctrl-C.

use std::fmt;

/// Which signal ended the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// Ctrl-C (SIGINT), or Ctrl-C typed into the line editor.
    CtrlC,
    /// The terminal window closed (SIGHUP).
    WindowClosed,
    /// `kill` (SIGTERM).
    Terminated,
}

impl fmt::Display for Interrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Interrupt::CtrlC => "Ctrl-C",
            Interrupt::WindowClosed => "window closed",
            Interrupt::Terminated => "SIGTERM",
        })
    }
}
