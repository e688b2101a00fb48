//! Temporary destinations and their advisories, shared by the OpenWire connections of one
//! master term.
//!
//! The real client keeps a set of live temporary destinations, fed by an advisory consumer
//! on `ActiveMQ.Advisory.TempQueue,ActiveMQ.Advisory.TempTopic`, and refuses to send to a
//! temporary destination it has not heard of ("Cannot publish to a deleted Destination").
//! So the server side of a request/reply must learn about the requester's temp queue: every
//! connection with such a consumer gets an advisory (an ActiveMQMessage whose dataStructure
//! is a DestinationInfo) when one is added or removed, and the list of live ones when its
//! advisory consumer starts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use tokio::sync::mpsc;

use super::command::{
    Body, Command, Data, DestKind, Destination, DestinationInfo, Message, MessageId, ProducerId, types,
};

pub const TEMP_QUEUE_TOPIC: &str = "ActiveMQ.Advisory.TempQueue";
pub const TEMP_TOPIC_TOPIC: &str = "ActiveMQ.Advisory.TempTopic";
pub const PREFIX: &str = "ActiveMQ.Advisory.";

#[derive(Default)]
pub struct Advisories {
    inner: Mutex<Inner>,
    seq: AtomicI64,
}

#[derive(Default)]
struct Inner {
    /// Live temporary destinations, oldest first: (destination, owner's connection id, owner).
    temps: Vec<(Destination, String, u64)>,
    /// Connections with an advisory consumer.
    watchers: HashMap<u64, mpsc::UnboundedSender<DestinationInfo>>,
}

fn info(d: &Destination, connection: &str, operation: u8) -> DestinationInfo {
    DestinationInfo {
        connection_id: Some(connection.to_string()),
        destination: Some(d.clone()),
        operation,
        timeout: 0,
        broker_path: None,
    }
}

impl Advisories {
    /// Starts sending advisories to `conn`; returns the live temporary destinations.
    pub fn watch(&self, conn: u64, tx: mpsc::UnboundedSender<DestinationInfo>) -> Vec<DestinationInfo> {
        let mut g = self.inner.lock().unwrap();
        g.watchers.insert(conn, tx);
        g.temps.iter().map(|(d, c, _)| info(d, c, 0)).collect()
    }

    pub fn unwatch(&self, conn: u64) {
        self.inner.lock().unwrap().watchers.remove(&conn);
    }

    fn broadcast(g: &mut Inner, i: DestinationInfo) {
        g.watchers.retain(|_, tx| tx.send(i.clone()).is_ok());
    }

    /// Registers a temporary destination of connection `owner`; false if it was known.
    pub fn add(&self, owner: u64, connection: &str, d: &Destination) -> bool {
        let mut g = self.inner.lock().unwrap();
        if g.temps.iter().any(|(x, _, _)| x == d) {
            return false;
        }
        g.temps.push((d.clone(), connection.to_string(), owner));
        Self::broadcast(&mut g, info(d, connection, 0));
        true
    }

    pub fn remove(&self, d: &Destination) -> bool {
        let mut g = self.inner.lock().unwrap();
        let Some(at) = g.temps.iter().position(|(x, _, _)| x == d) else { return false };
        let (d, c, _) = g.temps.remove(at);
        Self::broadcast(&mut g, info(&d, &c, 1));
        true
    }

    /// Removes every temporary destination of a connection that went away.
    pub fn remove_owner(&self, owner: u64) -> Vec<Destination> {
        let mut g = self.inner.lock().unwrap();
        let (gone, kept): (Vec<_>, Vec<_>) =
            std::mem::take(&mut g.temps).into_iter().partition(|(_, _, o)| *o == owner);
        g.temps = kept;
        for (d, c, _) in &gone {
            Self::broadcast(&mut g, info(d, c, 1));
        }
        gone.into_iter().map(|(d, _, _)| d).collect()
    }

    /// The advisory message for one DestinationInfo.
    pub fn message(&self, i: DestinationInfo, now_ms: u64) -> Message {
        let topic = match i.destination.as_ref().map(|d| d.kind) {
            Some(DestKind::TempTopic) => TEMP_TOPIC_TOPIC,
            _ => TEMP_QUEUE_TOPIC,
        };
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let producer = ProducerId { connection: "ID:mqsim-advisory".into(), value: 1, session: 0 };
        Message {
            kind: types::MESSAGE,
            producer_id: Some(producer.clone()),
            destination: Some(Destination { kind: DestKind::Topic, name: topic.into() }),
            message_id: Some(MessageId { text_view: None, producer: Some(producer), producer_seq: seq, broker_seq: 0 }),
            priority: 4,
            timestamp: now_ms as i64,
            data_structure: Some(Data::Command(Box::new(Command::new(Body::DestinationInfo(Box::new(i)))))),
            ..Message::default()
        }
    }
}

/// Whether a consumer's destination is (or includes) a temp-destination advisory topic.
pub fn wants_temp_advisories(parts: &[Destination]) -> bool {
    parts.iter().any(|d| d.kind == DestKind::Topic && (d.name == TEMP_QUEUE_TOPIC || d.name == TEMP_TOPIC_TOPIC))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchers_get_live_temps_then_changes() {
        let a = Advisories::default();
        let q = Destination { kind: DestKind::TempQueue, name: "ID:c:1".into() };
        assert!(a.add(1, "ID:c", &q));
        assert!(!a.add(1, "ID:c", &q));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let live = a.watch(2, tx);
        assert_eq!(live.len(), 1);
        assert_eq!(a.remove_owner(1), vec![q.clone()]);
        assert_eq!(rx.try_recv().unwrap().operation, 1);
        let m = a.message(live[0].clone(), 5);
        assert!(matches!(m.data_structure, Some(Data::Command(_))));
    }
}
