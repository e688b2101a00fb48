//! Hostile input: resources (see tests/hostile.rs).

#[allow(unused_imports)]
use super::*;
