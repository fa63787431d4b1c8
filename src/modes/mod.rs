//! The three labs, one module each, in the order they are taught.

pub(crate) mod duplex;
pub(crate) mod half;
pub mod room;
