//! Fuzz target `proxy_header`: see `tcpserver_tests::fuzzing::proxy_header` for what it feeds and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tcpserver_tests::fuzzing::proxy_header(data);
});
