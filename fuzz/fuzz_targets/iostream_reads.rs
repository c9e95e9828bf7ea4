//! Fuzz target `iostream_reads`: see `tcpserver_tests::fuzzing::iostream_reads` for what it
//! feeds and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tcpserver_tests::fuzzing::iostream_reads(data);
});
