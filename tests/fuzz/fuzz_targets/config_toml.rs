//! `cargo +nightly fuzz run --fuzz-dir tests/fuzz config_toml`: see [`mqsim::fuzzing::config_toml`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mqsim::fuzzing::config_toml(data));
