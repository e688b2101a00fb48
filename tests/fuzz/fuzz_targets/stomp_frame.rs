//! `cargo +nightly fuzz run --fuzz-dir tests/fuzz stomp_frame`: see [`mqsim::fuzzing::stomp_frame`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mqsim::fuzzing::stomp_frame(data));
