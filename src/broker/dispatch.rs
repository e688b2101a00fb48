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
//!   against a consumer's selector once, not on every pass (a message put back below that
//!   point, by a consumer going away or a send arriving out of order, lowers it again);
//! * a pass judges at most [`PASS_MESSAGES`] messages and spends at most [`PASS_STEPS`]
//!   selector steps (each judgement at most `limits::SELECTOR_STEPS`); a pass that stops there
//!   leaves its store in the state's `backlog`, and [`super::Broker`] continues it later in
//!   passes of the same size, releasing the lock in between.

use super::state::{Consumer, State, deliver};
use crate::limits::SELECTOR_STEPS;

/// The most waiting messages one dispatch pass looks at (or, without selectors, hands out).
pub(super) const PASS_MESSAGES: usize = 1024;
/// The most selector steps one dispatch pass spends (about half a millisecond in a release
/// build), so five costly judgements at most.
pub(super) const PASS_STEPS: usize = 5 * SELECTOR_STEPS as usize;

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
    fn dispatch_selective(&mut self, store: &str) -> bool {
        let Some(q) = self.stores.get_mut(store) else { return true };
        let (consumers, judged) = (&mut self.consumers, &mut self.judged);
        // Where the consumer with credit that has judged the least stands.
        let start = q
            .consumers
            .iter()
            .filter_map(|id| consumers.get(id))
            .filter(|c| c.has_credit())
            .map(|c| if c.selector.is_some() { c.scanned } else { 0 })
            .min();
        let Some(mut cursor) = start else { return true };
        let (mut looked, mut steps) = (0, 0);
        loop {
            let Some(&seq) = q.pending.range(cursor + 1..).next().map(|(s, _)| s) else { return true };
            if !q.consumers.iter().any(|id| consumers.get(id).is_some_and(Consumer::has_credit)) {
                return true;
            }
            if looked >= PASS_MESSAGES || steps >= PASS_STEPS {
                return false;
            }
            looked += 1;
            cursor = seq;
            let n = q.consumers.len();
            let mut chosen = None;
            for k in 0..n {
                let i = (q.rr + k) % n;
                let id = q.consumers[i];
                let Some(c) = consumers.get_mut(&id) else { continue };
                if !c.has_credit() || (c.selector.is_some() && c.scanned >= seq) {
                    continue;
                }
                let (accepted, used) = c.judge(id, &q.pending[&seq].msg, SELECTOR_STEPS as usize);
                steps += used;
                *judged += 1;
                c.scanned = seq;
                if accepted {
                    chosen = Some(i);
                    break;
                }
            }
            let Some(i) = chosen else { continue };
            q.rr = (i + 1) % n;
            let id = q.consumers[i];
            let p = q.pending.remove(&seq).expect("listed");
            deliver(id, consumers.get_mut(&id).expect("judged"), p);
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
