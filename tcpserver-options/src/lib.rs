//! The option table of `tcpserver`, shared by the runtime crate (which turns it into
//! command-line flags) and the attribute macros (which turn it into keys), so that both
//! read values with one grammar and check them with the same rules.
//!
//! This crate is an implementation detail of `tcpserver`; its API is not stable.
#![forbid(unsafe_code)]

pub mod units;
