//! The broker's memory usage (ActiveMQ's `systemUsage`/`memoryUsage`) and the limits a
//! cluster sets on what clients may make it hold.
//!
//! Every message the broker holds in memory — waiting in a queue or a durable subscription,
//! in flight on a consumer, waiting for a slow topic subscriber, or buffered in a
//! transaction — is covered by a [`Ticket`] for its size ([`size_of`]: body, header text and
//! a fixed estimate of the bookkeeping). One
//! message fanned out to several holders shares one ticket, so it counts once; the bytes are
//! given back when the last holder lets go of it (acked, discarded, purged, rolled back).
//!
//! A send first *reserves* its size: while the total would pass `memoryLimit` the producer
//! waits (on a [`Notify`], holding no lock) for space to be freed, and after
//! `sendFailIfNoSpaceAfterTimeout` gets ActiveMQ's "Usage Manager Memory Limit reached"
//! error. One message is always let through when nothing at all is held, so a message larger
//! than the limit is not refused forever. Messages a promoted master loads from its store are
//! counted without waiting (they may start it over the limit; producers then wait for the
//! consumers to drain them).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use crate::config::Cluster;
use crate::message::StoredMessage;

/// The resource limits of one broker, from `cluster.toml`'s `[cluster]` section.
#[derive(Debug, Clone)]
pub struct Limits {
    /// `memoryLimit`: bytes of messages held in memory before producers wait.
    pub memory: u64,
    /// `storeLimit`: journal bytes past which persistent sends are refused.
    pub store: u64,
    /// `sendFailIfNoSpaceAfterTimeout`: how long a producer waits for memory (0: not at all).
    pub send_timeout: Duration,
    /// `pendingMessageLimit`: messages a slow non-durable topic subscriber may have waiting
    /// beyond its prefetch before the oldest are discarded.
    pub pending_messages: usize,
    /// `transactionLimit`: messages (sent or acked) one transaction may hold.
    pub transaction: usize,
}

impl Limits {
    pub fn of(c: &Cluster) -> Limits {
        Limits {
            memory: c.memory_limit,
            store: c.store_limit,
            send_timeout: c.send_fail_if_no_space_after_timeout,
            pending_messages: c.pending_message_limit,
            transaction: c.transaction_limit,
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::of(&Cluster::default())
    }
}

/// Bytes of messages held, against the limit.
#[derive(Debug)]
pub(super) struct Usage {
    limit: u64,
    used: AtomicU64,
    freed: Notify,
}

impl Usage {
    pub(super) fn new(limit: u64) -> Arc<Usage> {
        Arc::new(Usage { limit, used: AtomicU64::new(0), freed: Notify::new() })
    }

    pub(super) fn used(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }

    pub(super) fn limit(&self) -> u64 {
        self.limit
    }

    /// Whether `bytes` more would pass the limit.
    pub(super) fn full_for(&self, bytes: u64) -> bool {
        self.over(self.used(), bytes)
    }

    /// Whether `bytes` more on top of `used` would pass the limit (one message always fits
    /// when nothing is held).
    fn over(&self, used: u64, bytes: u64) -> bool {
        used > 0 && used.saturating_add(bytes) > self.limit
    }

    /// Takes `bytes` if they fit (or nothing is held at all).
    pub(super) fn try_reserve(self: &Arc<Self>, bytes: u64) -> Option<Ticket> {
        let mut used = self.used();
        loop {
            if self.over(used, bytes) {
                return None;
            }
            match self.used.compare_exchange(used, used + bytes, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return Some(Ticket { bytes, usage: self.clone() }),
                Err(now) => used = now,
            }
        }
    }

    /// Takes `bytes` whatever the limit says (a store's messages at promotion).
    pub(super) fn force(self: &Arc<Self>, bytes: u64) -> Ticket {
        self.used.fetch_add(bytes, Ordering::SeqCst);
        Ticket { bytes, usage: self.clone() }
    }

    /// Waits until `bytes` fit or `wait` passes; `shed` is called first and after each
    /// wake-up to let the broker drop what it may (a slow topic subscriber's backlog).
    pub(super) async fn reserve(self: &Arc<Self>, bytes: u64, wait: Duration, shed: impl Fn(u64)) -> Option<Ticket> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(t) = self.try_reserve(bytes) {
                return Some(t);
            }
            shed(bytes);
            if let Some(t) = self.try_reserve(bytes) {
                return Some(t);
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                return self.try_reserve(bytes);
            }
        }
    }

    fn release(&self, bytes: u64) {
        if bytes > 0 {
            self.used.fetch_sub(bytes, Ordering::SeqCst);
            self.freed.notify_waiters();
        }
    }
}

/// Bytes reserved against [`Usage`]; given back when dropped.
#[derive(Debug)]
pub(super) struct Ticket {
    bytes: u64,
    usage: Arc<Usage>,
}

impl Ticket {
    pub(super) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Takes `bytes` of this reservation into a ticket of their own (at most what it holds).
    pub(super) fn split(&mut self, bytes: u64) -> Ticket {
        let bytes = bytes.min(self.bytes);
        self.bytes -= bytes;
        Ticket { bytes, usage: self.usage.clone() }
    }

    /// Adds another reservation (of the same usage) to this one.
    pub(super) fn merge(&mut self, mut other: Ticket) {
        debug_assert!(Arc::ptr_eq(&self.usage, &other.usage));
        self.bytes += std::mem::take(&mut other.bytes);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.usage.release(self.bytes);
    }
}

/// What one message costs beyond its text: the broker's own bookkeeping (the message,
/// its map entries and deliveries), an estimate. ActiveMQ counts at least 1 KiB a message.
const OVERHEAD: usize = 128;

/// What a message counts for: its body, its header text and [`OVERHEAD`] (so a flood of
/// empty messages is bounded too).
pub(super) fn size_of(msg: &StoredMessage) -> u64 {
    let headers: usize = msg.headers.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    (msg.body.len() + headers + msg.destination.len() + OVERHEAD) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reservations_wait_for_space_then_fail() {
        let usage = Usage::new(100);
        let a = usage.try_reserve(60).unwrap();
        assert!(usage.try_reserve(50).is_none());
        let b = usage.try_reserve(40).unwrap();
        assert_eq!(usage.used(), 100);
        // Waits, and gets the space once `a` is given back.
        let u = usage.clone();
        let waiter =
            tokio::spawn(async move { u.reserve(50, Duration::from_secs(5), |_| {}).await.map(|t| t.bytes()) });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        drop(a);
        assert_eq!(waiter.await.unwrap(), Some(50));
        assert_eq!(usage.used(), 40, "the waiter's ticket was dropped with its task");
        // No space within the timeout: nothing.
        let _c = usage.try_reserve(60).unwrap();
        let start = std::time::Instant::now();
        assert!(usage.reserve(10, Duration::from_millis(100), |_| {}).await.is_none());
        assert!(start.elapsed() >= Duration::from_millis(100));
        drop(b);
        drop(_c);
        assert_eq!(usage.used(), 0);
        // A message bigger than the limit passes when nothing is held.
        let big = usage.try_reserve(1_000).unwrap();
        assert!(usage.try_reserve(1).is_none());
        drop(big);
        let mut t = usage.force(30);
        let part = t.split(10);
        assert_eq!((t.bytes(), part.bytes(), usage.used()), (20, 10, 30));
        t.merge(part);
        assert_eq!(t.bytes(), 30);
        drop(t);
        assert_eq!(usage.used(), 0);
    }
}
