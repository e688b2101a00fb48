//! `cargo +nightly fuzz run --fuzz-dir tests/fuzz replication_wire`: see [`mqsim::fuzzing::replication_wire`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mqsim::fuzzing::replication_wire(data));
