//! STOMP (essay to be written with the server).
pub mod frame;
