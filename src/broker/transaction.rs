//! A local transaction's buffer, bounded: at most `transactionLimit` messages (sent or
//! acked), and the bytes of its sends reserved against the broker's memory limit as they are
//! buffered (so a producer that never commits cannot grow it without bound).
//!
//! A send or ack past the limit, or a send that finds no memory within
//! `sendFailIfNoSpaceAfterTimeout`, rolls the whole transaction back: its operations and its
//! memory are dropped, the client gets the error, and a later COMMIT of it fails too.

use std::ops::Deref;

use super::state::StateError;
use super::usage::{Ticket, size_of};
use super::{Broker, TxOp};
use crate::error::Result;

/// What the protocol adapters keep per open transaction (`Default` is an empty one).
#[derive(Debug, Default)]
pub struct Transaction {
    ops: Vec<TxOp>,
    /// Messages sent plus messages acked.
    messages: usize,
    /// The memory its sends hold.
    held: Option<Ticket>,
    /// Why it was rolled back, if it was.
    rolled_back: Option<String>,
}

impl Transaction {
    pub(super) fn into_parts(self) -> (Vec<TxOp>, Option<Ticket>, Option<String>) {
        (self.ops, self.held, self.rolled_back)
    }

    fn roll_back(&mut self, why: String) -> crate::error::Error {
        self.ops.clear();
        self.messages = 0;
        self.held = None;
        self.rolled_back = Some(why.clone());
        crate::error::Error::InvalidInput(why)
    }
}

/// A batch that is not a client's transaction (a composite send): no limit, nothing held.
impl From<Vec<TxOp>> for Transaction {
    fn from(ops: Vec<TxOp>) -> Transaction {
        Transaction { ops, ..Transaction::default() }
    }
}

impl Deref for Transaction {
    type Target = [TxOp];
    fn deref(&self) -> &[TxOp] {
        &self.ops
    }
}

impl<'a> IntoIterator for &'a Transaction {
    type Item = &'a TxOp;
    type IntoIter = std::slice::Iter<'a, TxOp>;
    fn into_iter(self) -> Self::IntoIter {
        self.ops.iter()
    }
}

impl Broker {
    /// Adds operations to an open transaction, within `transactionLimit` and the memory
    /// limit (waiting for memory as a send does). An error rolls the transaction back.
    pub async fn transact(&self, tx: &mut Transaction, ops: impl IntoIterator<Item = TxOp>) -> Result<()> {
        if let Some(why) = &tx.rolled_back {
            return Err(StateError::RolledBack(why.clone()).into());
        }
        for op in ops {
            let count = tx.messages
                + match &op {
                    TxOp::Send(..) => 1,
                    TxOp::Ack(_, seqs) => seqs.len(),
                };
            if count > self.limits.transaction {
                let e = StateError::TransactionLimit { count, limit: self.limits.transaction };
                return Err(tx.roll_back(e.to_string()));
            }
            if let TxOp::Send(dest, msg) = &op {
                match self.reserve(dest, msg, size_of(msg)).await {
                    Ok(t) => match &mut tx.held {
                        Some(held) => held.merge(t),
                        None => tx.held = Some(t),
                    },
                    Err(e) => return Err(tx.roll_back(format!("transaction rolled back: {e}"))),
                }
            }
            tx.messages = count;
            tx.ops.push(op);
        }
        Ok(())
    }
}
