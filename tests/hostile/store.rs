//! Hostile input: store (see tests/hostile.rs).

#[allow(unused_imports)]
use super::*;
