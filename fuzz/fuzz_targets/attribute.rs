//! Fuzz target `attribute`: see `tcpserver-macros/src/fuzz.rs` for what it feeds and
//! checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tcpserver_attribute_fuzz::attribute(data);
});
