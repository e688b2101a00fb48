//! `cargo +nightly fuzz run --fuzz-dir tests/fuzz openwire`: see [`mqsim::fuzzing::openwire`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mqsim::fuzzing::openwire(data));
