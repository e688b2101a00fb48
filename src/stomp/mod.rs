//! STOMP 1.0, 1.1 and 1.2 on each master's stomp port, with ActiveMQ's conventions.
//!
//! # How it works
//!
//! [`frame`] turns bytes into frames and back, with no I/O: EOL variants, per-version
//! header escaping, `content-length`, heart-beat EOLs, and ActiveMQ's limits (command line
//! 1 KiB, header line 10 KiB, 1000 headers, `wireFormat.maxFrameSize`). [`server`] runs one
//! task per connection: the CONNECT handshake (highest common version, heart-beats mirrored
//! as ActiveMQ does), then every client frame is mapped onto the broker core
//! ([`crate::broker`]), a SEND becoming a [`crate::message::StoredMessage`], and every
//! delivery becomes a MESSAGE. [`headers`] holds what is
//! taken from a client's headers and what is not: credentials (`[[user]]`), bounded names
//! ([`crate::limits`]), bounded numbers (heart-beat, prefetch), and the reserved headers the
//! broker sets on delivery instead of trusting stored ones.
//!
//! ActiveMQ's conventions kept: destinations are `/queue/NAME` and `/topic/NAME`; a SEND is
//! non-persistent unless `persistent:true`, and its RECEIPT comes only once the message is
//! stored (and replicated per `sync`); `activemq.prefetchSize` (default 1000 for queues) and
//! `activemq.subscriptionName` (durable, needs `client-id`) on SUBSCRIBE; `browser:true`
//! (1.1+) on a queue gets a copy of up to 400 waiting messages (ActiveMQ's
//! `maxBrowsePageSize`), then a MESSAGE with `browser:end`; NACK sends the
//! message to `ActiveMQ.DLQ`; a malformed or oversized frame gets an ERROR frame with a
//! `message` header and the connection is closed, the broker carries on.
//!
//! # Caveats
//!
//! * A `selector` is parsed as ActiveMQ's STOMP connector does ("convert_string_expressions":
//!   a string header compared with a number is read as one); one that does not parse gets an
//!   ERROR, and a durable subscription takes none. Credentials are checked only when
//!   `cluster.toml` has `[[user]]` entries; groups are not enforced (no authorization per
//!   destination). Other `activemq.*` options (`noLocal`, `exclusive`, `priority`, ...) are
//!   ignored.
//! * A browser shows what waits in the queue: messages in flight on a consumer are left out.
//! * The `ack` header of a MESSAGE is `<consumer>:<seq>`, not the message id.
//! * Like ActiveMQ, a STOMP resend after a failover is not de-duplicated (STOMP carries no
//!   producer sequence); consumers count the duplicates.

pub mod frame;
pub mod headers;
pub mod server;
