//! OpenWire (ActiveMQ's native protocol) on each master's openwire port.
//!
//! Not implemented yet: [`server::serve`] closes every connection at once, so a failover
//! client moves on. (Issue: "OpenWire: the notes' Java JMS client ... works unchanged".)

pub mod server;
