//! Hostile input: stomp (see tests/hostile.rs).

#[allow(unused_imports)]
use super::*;
