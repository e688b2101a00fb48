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
//!
//! A renewal counts from when the read was *asked* ([`Lease::ask`], [`Lease::renew_asked`]),
//! not from when its answer arrived: a zombie frozen with a read in flight finds the answer
//! (saying it is still master, as it was then) waiting when it wakes, and must not take it
//! for a fresh confirmation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Lease {
    origin: Instant,
    /// Milliseconds after `origin` of the last confirmation; 0 = never / revoked.
    confirmed: AtomicU64,
    validity: Duration,
}

impl crate::store::writer::Fence for Lease {
    fn valid(&self) -> bool {
        Lease::valid(self)
    }
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

    /// The moment a confirming read is asked: what [`Lease::renew_asked`] counts from.
    pub fn ask(&self) -> u64 {
        self.now()
    }

    /// ZooKeeper confirmed, in answer to a read asked at `asked`, that this node is the
    /// elected master: the lease runs from then (never backwards).
    pub fn renew_asked(&self, asked: u64) {
        self.confirmed.fetch_max(asked, Ordering::SeqCst);
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

    #[test]
    fn an_answer_to_a_read_asked_before_a_freeze_does_not_renew() {
        let l = Lease::new(Duration::from_millis(90));
        let asked = l.ask();
        std::thread::sleep(Duration::from_millis(70));
        l.renew_asked(asked);
        assert!(!l.valid(), "the read was asked 70 ms ago: the lease ran out meanwhile");
        let asked = l.ask();
        l.renew_asked(asked);
        assert!(l.valid());
    }
}
