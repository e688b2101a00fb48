//! Hostile input: network (see tests/hostile.rs).

#[allow(unused_imports)]
use super::*;
