//! The three labs, one module each, in the order they are taught.

pub mod duplex;
pub mod half;
pub mod room;
