//! Hostile input: election (see tests/hostile.rs).

#[allow(unused_imports)]
use super::*;
