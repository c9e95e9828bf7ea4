//! Fuzz target `http_request`: see `tcpserver_tests::fuzzing::http_request` for what it feeds and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tcpserver_tests::fuzzing::http_request(data);
});
