//! What `#[tcp_server]` and `#[http_server]` accept and how they reject mistakes, checked
//! by compiling small programs with trybuild: `ui/pass/*.rs` must build (and run),
//! `ui/fail/*.rs` must fail with exactly the compiler output in the `.stderr` file beside
//! each. The `http_*` cases are `#[http_server]`'s.
//!
//! The `.stderr` files are pinned to the toolchain in use (rustc 1.95.0). When a new
//! rustc changes its output, or a message of the macro changes, regenerate them and
//! review the diff: the caret must sit on the offending token, and the message must say
//! what to write instead.
//!
//! ```sh
//! TRYBUILD=overwrite cargo test --test ui
//! ```

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
