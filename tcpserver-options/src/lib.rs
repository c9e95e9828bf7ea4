//! The option table of `tcpserver`, shared by the runtime crate (which turns it into
//! command-line flags) and the attribute macros (which turn it into keys), so that both
//! read values with one grammar and check them with the same rules.
//!
//! - [`keys`]: every option, its group, flag, value kind, example and help;
//! - [`units`]: sizes and durations with units;
//! - [`net`]: IP networks (`10.0.0.0/8`);
//! - [`value`]: option values, read from command-line text;
//! - [`rules`]: checks across options, worded for the attribute or the command line;
//! - [`suggest`]: "did you mean" for misspelt names.
//!
//! This crate is an implementation detail of `tcpserver`; its API is not stable.
#![forbid(unsafe_code)]

pub mod keys;
pub mod net;
pub mod rules;
pub mod suggest;
pub mod units;
pub mod value;
