//! Handing a store's waiting messages to its consumers, with a bound on the work one pass
//! does while it holds the broker's lock.
//!
//! Without selectors a pass is round robin among the consumers with prefetch credit and
//! costs what it delivers (at most [`PASS_MESSAGES`]: a consumer with a huge prefetch on a
//! deep queue is filled in several passes). With a selector, a waiting message goes to the
//! next consumer (round robin) with credit that it matches, oldest message first; one nobody
//! matches stays.
//! That used to be a scan of every waiting message on every enqueue, ack and subscribe —
//! quadratic, and with slow selectors it stalled every other client for seconds (issue 11,
//! row 5). Now:
//!
//! * each consumer remembers how far it has judged its store (`scanned`): a message is judged
//!   against a consumer's selector once, not on every pass. A message put back below that
//!   mark (by a consumer going away, or a send arriving out of sequence order) goes into the
//!   consumer's `unjudged` set instead of lowering the mark: it judges that one message,
//!   not everything past it again (issue 12: one consumer closing made every other one
//!   rejudge a deep queue);
//! * a pass visits only messages some consumer with credit has not judged: it jumps from
//!   one such message to the next ([`Consumer::next_unjudged`]), so a consumer without a
//!   selector taking the head of a queue does not make it walk what the selective ones
//!   rejected. A queue of a million messages a consumer's selector rejects costs that
//!   consumer a million judgements once, then nothing per send, ack or subscribe;
//! * a pass judges at most [`PASS_MESSAGES`] messages and spends at most [`PASS_STEPS`]
//!   selector steps (each judgement at most `limits::SELECTOR_STEPS`); a pass that stops there
//!   leaves its store in the state's `backlog`, and [`super::Broker`] continues it later in
//!   passes of the same size, releasing the lock in between.

use std::collections::BTreeMap;

use super::state::{Consumer, Pending, State, deliver};
use crate::limits::SELECTOR_STEPS;

/// The most waiting messages one dispatch pass looks at (or, without selectors, hands out).
pub(super) const PASS_MESSAGES: usize = 1024;
/// The most selector steps one dispatch pass spends (about half a millisecond in a release
/// build), so five costly judgements at most.
pub(super) const PASS_STEPS: usize = 5 * SELECTOR_STEPS as usize;

impl Consumer {
    /// The oldest message waiting in its store, after `after`, that it has not judged:
    /// one put back below its mark, or the first past its mark (any, without a selector).
    fn next_unjudged(&mut self, pending: &BTreeMap<u64, Pending>, after: u64) -> Option<u64> {
        let first_after = |seq: u64| pending.range(seq.saturating_add(1)..).next().map(|(s, _)| *s);
        if self.selector.is_none() {
            return first_after(after);
        }
        let put_back = loop {
            match self.unjudged.range(after.saturating_add(1)..).next().copied() {
                Some(s) if !pending.contains_key(&s) => {
                    self.unjudged.remove(&s);
                }
                other => break other,
            }
        };
        match (put_back, first_after(after.max(self.scanned))) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Notes that it judged waiting message `seq`.
    fn judged(&mut self, seq: u64) {
        if seq > self.scanned {
            self.scanned = seq;
        } else {
            self.unjudged.remove(&seq);
        }
    }
}

impl State {
    /// Hands waiting messages of `store` to consumers with prefetch credit, round robin.
    pub(super) fn dispatch(&mut self, store: &str) {
        self.backlog.remove(store);
        let Some(q) = self.stores.get_mut(store) else { return };
        if q.consumers.iter().any(|id| self.consumers.get(id).is_some_and(|c| c.selector.is_some())) {
            if !self.dispatch_selective(store) {
                self.backlog.insert(store.to_string());
            }
            return;
        }
        let mut handed = 0;
        while !q.pending.is_empty() && !q.consumers.is_empty() {
            if handed == PASS_MESSAGES {
                self.backlog.insert(store.to_string());
                return;
            }
            handed += 1;
            let n = q.consumers.len();
            let chosen = (0..n)
                .map(|i| (q.rr + i) % n)
                .find(|&i| self.consumers.get(&q.consumers[i]).is_some_and(Consumer::has_credit));
            let Some(i) = chosen else { break };
            q.rr = (i + 1) % n;
            let id = q.consumers[i];
            let (_, p) = q.pending.pop_first().expect("not empty");
            let c = self.consumers.get_mut(&id).expect("checked");
            deliver(id, c, p);
        }
    }

    /// [`State::dispatch`] when a consumer of the store has a selector. False when it
    /// stopped at its bound with messages left to judge.
    ///
    /// The pass goes through the store's waiting messages in order, but only through those
    /// some consumer with credit has not judged yet: it keeps, for each such consumer, the
    /// next one ([`Consumer::next_unjudged`]) and visits the oldest of them. So what every
    /// consumer with credit rejected already is never looked at again.
    fn dispatch_selective(&mut self, store: &str) -> bool {
        let Some(q) = self.stores.get_mut(store) else { return true };
        let (consumers, judged, visited) = (&mut self.consumers, &mut self.judged, &mut self.visited);
        let n = q.consumers.len();
        // Aligned with `q.consumers`; `None`: no credit, or nothing left for it to judge.
        let mut next: Vec<Option<u64>> = q
            .consumers
            .iter()
            .map(|id| consumers.get_mut(id).filter(|c| c.has_credit()).and_then(|c| c.next_unjudged(&q.pending, 0)))
            .collect();
        let (mut looked, mut steps) = (0, 0);
        loop {
            let Some(seq) = next.iter().flatten().min().copied() else { return true };
            if looked >= PASS_MESSAGES || steps >= PASS_STEPS {
                return false;
            }
            looked += 1;
            *visited += 1;
            let mut chosen = None;
            for k in 0..n {
                let i = (q.rr + k) % n;
                if next[i] != Some(seq) {
                    continue;
                }
                let id = q.consumers[i];
                let Some(c) = consumers.get_mut(&id) else { continue };
                if c.selector.is_some() {
                    *judged += 1;
                }
                let (accepted, used) = c.judge(id, &q.pending[&seq].msg, SELECTOR_STEPS as usize);
                steps += used;
                c.judged(seq);
                if accepted {
                    chosen = Some(i);
                    break;
                }
            }
            if let Some(i) = chosen {
                q.rr = (i + 1) % n;
                let p = q.pending.remove(&seq).expect("listed");
                for id in &q.consumers {
                    if let Some(c) = consumers.get_mut(id) {
                        c.unjudged.remove(&seq);
                    }
                }
                let id = q.consumers[i];
                deliver(id, consumers.get_mut(&id).expect("judged"), p);
            }
            for (i, slot) in next.iter_mut().enumerate() {
                if *slot == Some(seq) {
                    *slot = consumers
                        .get_mut(&q.consumers[i])
                        .filter(|c| c.has_credit())
                        .and_then(|c| c.next_unjudged(&q.pending, seq));
                }
            }
        }
    }

    /// One more pass over a store left in the backlog; whether any backlog remains.
    pub(super) fn continue_backlog(&mut self) -> bool {
        if let Some(store) = self.backlog.pop_first() {
            self.dispatch(&store);
        }
        !self.backlog.is_empty()
    }
}
