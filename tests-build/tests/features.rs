//! `#[tcp_server]` and `#[http_server]` against `tcpserver` with its default features only:
//! the ten-line echo builds; a key or attribute that needs the `tls` or `http` feature is
//! a compile error on that key or attribute, naming the feature to enable.
//!
//! The `.stderr` files are pinned to the toolchain in use; regenerate them with
//! `TRYBUILD=overwrite cargo test -p tcpserver-tests-build` and review the diff.

#[test]
fn features() {
    let t = trybuild::TestCases::new();
    t.pass("tests/pass/*.rs");
    t.compile_fail("tests/fail/*.rs");
}
