//! Hostile input: openwire (see tests/hostile.rs).

#[allow(unused_imports)]
use super::*;
