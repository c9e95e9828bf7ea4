//! `tcpserver-macros`' modules compiled by path as a plain library: a proc-macro crate
//! exports its macros only, and the fuzz target needs the pipeline behind them.
#![allow(dead_code, unused_imports)]

#[path = "../../../tcpserver-macros/src/entry.rs"]
mod entry;
#[path = "../../../tcpserver-macros/src/expand.rs"]
mod expand;
#[path = "../../../tcpserver-macros/src/fuzz.rs"]
mod fuzz;
#[path = "../../../tcpserver-macros/src/keys.rs"]
mod keys;
#[path = "../../../tcpserver-macros/src/kind.rs"]
mod kind;
#[path = "../../../tcpserver-macros/src/parse.rs"]
mod parse;
#[path = "../../../tcpserver-macros/src/validate/mod.rs"]
mod validate;

/// The `attribute` fuzz target's body (see `tcpserver-macros/src/fuzz.rs`).
pub fn attribute(input: &[u8]) {
    fuzz::attribute(input);
}
