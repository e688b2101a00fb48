//! `cargo +nightly fuzz run --fuzz-dir tests/fuzz selector`: see [`mqsim::fuzzing::selector`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mqsim::fuzzing::selector(data));
