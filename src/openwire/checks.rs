//! What a client command must pass before [`super::conn`] acts on it: every name it carries
//! within [`crate::limits`], and — when `cluster.toml` lists `[[user]]`s — a ConnectionInfo
//! whose userName and password name one of them, before anything else.
//!
//! Names: destination physical names (a composite `a,b` counts as one name, so it has at
//! most 100 parts), client ids, durable subscription names, selectors, and the strings
//! inside connection, session, consumer, producer and transaction ids. A name that breaks
//! a limit gets an ExceptionResponse naming the field and the limit (for a command that
//! wants no response, a ConnectionError, which the Java client hands to its exception
//! listener); a bad ConnectionInfo also closes the connection. Pure functions on commands:
//! no I/O, no broker.
//!
//! Credentials follow ActiveMQ's `SimpleAuthenticationBroker`: a wrong or missing password
//! is a `java.lang.SecurityException` "User name \[x\] or password is invalid.", which the
//! Java client raises as a `JMSSecurityException`, and the connection is closed. Until a
//! ConnectionInfo has been accepted only the handshake's own commands are taken.
//!
//! Caveat: message headers and properties (correlation id, JMSType, group id, property
//! names and values) are bounded only by the frame size, not by the STOMP header limits.

use super::command::*;
use crate::auth;
use crate::config::User;
use crate::limits::{self, NameKind};

const INVALID_DESTINATION: &str = "javax.jms.InvalidDestinationException";
const INVALID_CLIENT_ID: &str = "javax.jms.InvalidClientIDException";
const INVALID_SELECTOR: &str = "javax.jms.InvalidSelectorException";
const JMS: &str = "javax.jms.JMSException";
const SECURITY: &str = "java.lang.SecurityException";

/// `field` checked as a `kind` name; the error names the field.
fn name(kind: NameKind, field: &str, value: &str) -> Result<(), String> {
    limits::check(kind, value).map_err(|e| e.naming(field))
}

/// The connection part of an id (`ID:host-port-time-n:m`): at most [`limits::MAX_ID`].
fn id(field: &str, connection: &str) -> Result<(), Throwable> {
    name(NameKind::ProducerId, field, connection).map_err(|e| Throwable::new(JMS, e))
}

fn destination(field: &str, d: &Option<Destination>) -> Result<(), Throwable> {
    match d {
        Some(d) => name(NameKind::Destination, field, &d.name).map_err(|e| Throwable::new(INVALID_DESTINATION, e)),
        None => Ok(()),
    }
}

fn client_id(c: &Option<String>) -> Result<(), Throwable> {
    match c.as_deref() {
        Some(c) if !c.is_empty() => {
            name(NameKind::ClientId, "client id", c).map_err(|e| Throwable::new(INVALID_CLIENT_ID, e))
        }
        _ => Ok(()),
    }
}

fn connection_id(c: &Option<String>) -> Result<(), Throwable> {
    c.as_deref().map_or(Ok(()), |c| id("connection id", c))
}

fn producer_id(p: &Option<ProducerId>) -> Result<(), Throwable> {
    match p {
        // Its `connection:session:value` form is the producer key the store keeps.
        Some(p) => name(NameKind::ProducerId, "producer id", &p.key()).map_err(|e| Throwable::new(JMS, e)),
        None => Ok(()),
    }
}

fn transaction_id(t: &Option<TransactionId>) -> Result<(), Throwable> {
    match t {
        Some(TransactionId::Local { connection, .. }) => connection_id(connection),
        Some(TransactionId::Xa { global, branch, .. }) => {
            let len = global.as_ref().map_or(0, Vec::len).saturating_add(branch.as_ref().map_or(0, Vec::len));
            if len > limits::MAX_ID {
                return Err(Throwable::new(
                    JMS,
                    format!("the transaction id is {len} bytes long; the limit is {} bytes", limits::MAX_ID),
                ));
            }
            Ok(())
        }
        None => Ok(()),
    }
}

/// Every name `body` carries, checked; the error is what the client gets.
pub fn names(body: &Body) -> Result<(), Throwable> {
    let what = body.name();
    let r = match body {
        Body::ConnectionInfo(i) => {
            connection_id(&i.connection_id).and_then(|_| client_id(&i.client_id)).and_then(|_| {
                match i.user_name.as_deref() {
                    Some(u) if !u.is_empty() => {
                        name(NameKind::Username, "user name", u).map_err(|e| Throwable::new(SECURITY, e))
                    }
                    _ => Ok(()),
                }
            })
        }
        Body::SessionInfo(Some(s)) => id("session id", &s.connection),
        Body::ProducerInfo(p) => {
            producer_id(&p.producer_id).and_then(|_| destination("destination name", &p.destination))
        }
        Body::ConsumerInfo(c) => (|| {
            if let Some(cid) = &c.consumer_id {
                id("consumer id", &cid.connection)?;
            }
            destination("destination name", &c.destination)?;
            client_id(&c.client_id)?;
            if let Some(s) = &c.subscription_name {
                name(NameKind::Subscription, "durable subscription name", s).map_err(|e| Throwable::new(JMS, e))?;
            }
            match c.selector.as_deref() {
                // Blank means no selector (broker::subscription_selector).
                Some(s) if !s.trim().is_empty() => {
                    name(NameKind::Selector, "selector", s).map_err(|e| Throwable::new(INVALID_SELECTOR, e))
                }
                _ => Ok(()),
            }
        })(),
        Body::Message(m) => (|| {
            destination("destination name", &m.destination)?;
            destination("JMSReplyTo destination name", &m.reply_to)?;
            destination("original destination name", &m.original_destination)?;
            producer_id(&m.producer_id)?;
            producer_id(&m.message_id.as_ref().and_then(|i| i.producer.clone()))?;
            transaction_id(&m.transaction_id)
        })(),
        Body::TransactionInfo(t) => connection_id(&t.connection_id).and_then(|_| transaction_id(&t.transaction_id)),
        Body::DestinationInfo(d) => {
            connection_id(&d.connection_id).and_then(|_| destination("destination name", &d.destination))
        }
        Body::RemoveSubscriptionInfo(r) => client_id(&r.client_id).and_then(|_| match r.subscription_name.as_deref() {
            Some(s) => name(NameKind::Subscription, "durable subscription name", s).map_err(|e| Throwable::new(JMS, e)),
            None => Ok(()),
        }),
        _ => Ok(()),
    };
    r.map_err(|mut e| {
        e.message = e.message.map(|m| format!("{what}: {m}"));
        e
    })
}

/// One connection's admission state: the users to require, and whether a ConnectionInfo
/// has passed (always, when there are no users).
#[derive(Debug, Clone)]
pub struct Gate {
    users: Vec<User>,
    logged_in: bool,
}

impl Default for Gate {
    fn default() -> Gate {
        Gate::new(Vec::new())
    }
}

impl Gate {
    pub fn new(users: Vec<User>) -> Gate {
        Gate { logged_in: users.is_empty(), users }
    }

    /// Checks `body` before it is acted on: `Err` holds what the client gets and whether
    /// the connection then closes (a refused ConnectionInfo, anything before login).
    pub fn admit(&mut self, body: &Body) -> Result<(), (Throwable, bool)> {
        if !self.logged_in && !allowed_before_login(body) {
            return Err((not_logged_in(body), true));
        }
        let is_connection_info = matches!(body, Body::ConnectionInfo(_));
        names(body).map_err(|e| (e, is_connection_info))?;
        if let Body::ConnectionInfo(info) = body
            && !self.users.is_empty()
        {
            authenticate(&self.users, info).map_err(|e| (e, true))?;
            self.logged_in = true;
        }
        Ok(())
    }
}

/// ActiveMQ's SimpleAuthenticationBroker: with users configured, the ConnectionInfo's
/// userName and password must name one; `Ok` holds who it is (`None`: anonymous, no users).
pub fn authenticate(users: &[User], info: &ConnectionInfo) -> Result<Option<String>, Throwable> {
    auth::authenticate(users, info.user_name.as_deref(), info.password.as_deref())
        .map_err(|e| Throwable::new(SECURITY, e.to_string()))
}

/// Whether `body` may come before an authenticated ConnectionInfo: the handshake, keep-
/// alives, the ConnectionInfo itself, and goodbyes.
pub fn allowed_before_login(body: &Body) -> bool {
    matches!(
        body,
        Body::WireFormatInfo(_)
            | Body::KeepAliveInfo
            | Body::ConnectionInfo(_)
            | Body::ShutdownInfo
            | Body::RemoveInfo(_)
            | Body::FlushCommand
    )
}

/// What a command before login gets.
pub fn not_logged_in(body: &Body) -> Throwable {
    Throwable::new(
        SECURITY,
        format!("{}: this broker requires a user name and password (ConnectionInfo) first", body.name()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(name: &str) -> Option<Destination> {
        Some(Destination { kind: DestKind::Queue, name: name.into() })
    }

    fn message(name: &str) -> Body {
        Body::Message(Box::new(Message { destination: queue(name), ..Message::default() }))
    }

    #[test]
    fn destination_names_are_bounded() {
        assert!(names(&message("orders")).is_ok());
        assert!(names(&message(&"q".repeat(limits::MAX_DESTINATION_NAME))).is_ok());
        let e = names(&message(&"q".repeat(300))).unwrap_err();
        assert_eq!(e.class.as_deref(), Some(INVALID_DESTINATION));
        assert_eq!(
            e.message.as_deref(),
            Some("Message: the destination name is 300 bytes long; the limit is 200 bytes"),
            "{e:?}"
        );
        assert!(names(&message("")).is_err(), "empty");
        assert!(names(&message("a\0b")).is_err(), "control character");
        // A composite is one name: 100 parts of one byte at most.
        assert!(names(&message(&vec!["q"; 120].join(","))).is_err());
        let reply = Message { destination: queue("a"), reply_to: queue(&"r".repeat(201)), ..Message::default() };
        assert!(names(&Body::Message(Box::new(reply))).is_err());
    }

    #[test]
    fn ids_client_ids_subscriptions_and_selectors_are_bounded() {
        let long = "x".repeat(500);
        let conn = |client: &str, cid: &str| {
            Body::ConnectionInfo(Box::new(ConnectionInfo {
                connection_id: Some(cid.into()),
                client_id: Some(client.into()),
                ..ConnectionInfo::default()
            }))
        };
        assert!(names(&conn("ID:me-1", "ID:me-1:1")).is_ok());
        assert_eq!(names(&conn(&long, "ID:me-1:1")).unwrap_err().class.as_deref(), Some(INVALID_CLIENT_ID));
        assert!(names(&conn("ok", &long)).is_err());
        assert!(names(&conn("", "ID:me-1:1")).is_ok(), "an empty client id is none");
        assert!(names(&Body::SessionInfo(Some(SessionId { connection: long.clone(), value: 1 }))).is_err());
        let consumer = |f: &dyn Fn(&mut ConsumerInfo)| {
            let mut c = ConsumerInfo {
                consumer_id: Some(ConsumerId { connection: "ID:c".into(), session: 1, value: 1 }),
                destination: queue("q"),
                ..ConsumerInfo::default()
            };
            f(&mut c);
            names(&Body::ConsumerInfo(Box::new(c)))
        };
        assert!(consumer(&|_| {}).is_ok());
        assert!(consumer(&|c| c.selector = Some("  ".into())).is_ok(), "blank selector");
        let e = consumer(&|c| c.selector = Some("a = 1 OR ".repeat(1000))).unwrap_err();
        assert_eq!(e.class.as_deref(), Some(INVALID_SELECTOR));
        assert!(consumer(&|c| c.subscription_name = Some(long.clone())).is_err());
        assert!(consumer(&|c| c.consumer_id.as_mut().unwrap().connection = long.clone()).is_err());
        let producer = ProducerInfo {
            producer_id: Some(ProducerId { connection: long.clone(), value: 1, session: 1 }),
            ..ProducerInfo::default()
        };
        assert!(names(&Body::ProducerInfo(Box::new(producer))).is_err());
        let xa = TransactionInfo {
            connection_id: None,
            transaction_id: Some(TransactionId::Xa { format: 1, global: Some(vec![1; 300]), branch: None }),
            kind: tx::BEGIN,
        };
        assert!(names(&Body::TransactionInfo(xa)).is_err());
        let remove =
            RemoveSubscriptionInfo { connection_id: None, subscription_name: Some(long.clone()), client_id: None };
        assert!(names(&Body::RemoveSubscriptionInfo(remove)).is_err());
    }

    #[test]
    fn credentials_decide_as_activemq_does() {
        let info = |u: Option<&str>, p: Option<&str>| ConnectionInfo {
            user_name: u.map(Into::into),
            password: p.map(Into::into),
            ..ConnectionInfo::default()
        };
        assert_eq!(authenticate(&[], &info(None, None)), Ok(None), "no users: anyone");
        let users = vec![User { username: "system".into(), password: "manager".into(), groups: String::new() }];
        assert_eq!(authenticate(&users, &info(Some("system"), Some("manager"))), Ok(Some("system".into())));
        let e = authenticate(&users, &info(Some("system"), Some("wrong"))).unwrap_err();
        assert_eq!(e.class.as_deref(), Some(SECURITY));
        assert_eq!(e.message.as_deref(), Some("User name [system] or password is invalid."));
        assert!(authenticate(&users, &info(None, None)).is_err());

        // The gate: nothing but the handshake before a good ConnectionInfo, then anything.
        let mut gate = Gate::new(users);
        let (e, close) = gate.admit(&message("q")).unwrap_err();
        assert!(close && e.class.as_deref() == Some(SECURITY), "{e:?}");
        assert!(gate.admit(&Body::KeepAliveInfo).is_ok());
        let bad = Body::ConnectionInfo(Box::new(info(Some("system"), Some("wrong"))));
        assert!(matches!(gate.admit(&bad), Err((_, true))));
        assert!(gate.admit(&Body::SessionInfo(None)).is_err(), "still not logged in");
        assert!(gate.admit(&Body::ConnectionInfo(Box::new(info(Some("system"), Some("manager"))))).is_ok());
        assert!(gate.admit(&message("q")).is_ok());
        assert!(matches!(gate.admit(&message(&"q".repeat(201))), Err((_, false))), "a bad name keeps the connection");
        let mut open = Gate::default();
        assert!(open.admit(&message("q")).is_ok(), "no users: no login needed");
        let long_client = ConnectionInfo { client_id: Some("c".repeat(129)), ..ConnectionInfo::default() };
        assert!(matches!(open.admit(&Body::ConnectionInfo(Box::new(long_client))), Err((_, true))));
    }
}
