//! The master's lease: how long after its last confirmation from ZooKeeper a master may
//! still acknowledge writes.
//!
//! ActiveMQ had no fencing: a master frozen (GC pause, SIGSTOP) past its session timeout
//! wakes up believing it is still master, while the others have elected a new one. mqsim
//! guards every acknowledged write with this lease: the node renews it each time it reads
//! the group from ZooKeeper and finds itself still the elected master; a write completes
//! only if the lease is still valid *after* the write. The validity is two thirds of the
//! session timeout (like the ZooKeeper client's read timeout), shorter than the time the
//! server needs to expire the session and let another node be elected. The monotonic clock
//! keeps running while a process is stopped, so a resumed zombie finds its lease expired.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Lease {
    origin: Instant,
    /// Milliseconds after `origin` of the last confirmation; 0 = never / revoked.
    confirmed: AtomicU64,
    validity: Duration,
}

impl Lease {
    pub fn new(session_timeout: Duration) -> Lease {
        Lease { origin: Instant::now(), confirmed: AtomicU64::new(0), validity: session_timeout * 2 / 3 }
    }

    fn now(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64 + 1
    }

    /// ZooKeeper just confirmed this node is the elected master.
    pub fn renew(&self) {
        self.confirmed.store(self.now(), Ordering::SeqCst);
    }

    pub fn revoke(&self) {
        self.confirmed.store(0, Ordering::SeqCst);
    }

    pub fn valid(&self) -> bool {
        let c = self.confirmed.load(Ordering::SeqCst);
        c != 0 && self.now().saturating_sub(c) < self.validity.as_millis() as u64
    }

    /// How often the node must re-read the group to keep a healthy lease.
    pub fn renew_interval(session_timeout: Duration) -> Duration {
        (session_timeout / 4).min(Duration::from_millis(500))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_without_renewal() {
        let l = Lease::new(Duration::from_millis(90));
        assert!(!l.valid(), "not valid before the first confirmation");
        l.renew();
        assert!(l.valid());
        std::thread::sleep(Duration::from_millis(70));
        assert!(!l.valid(), "two thirds of the session timeout have passed");
        l.renew();
        assert!(l.valid());
        l.revoke();
        assert!(!l.valid());
    }
}
