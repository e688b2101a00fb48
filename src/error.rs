//! The one error type of mqsim, its categories, and how each boundary shows them.
//!
//! Every variant carries what a user needs to act: the file and line for a bad
//! `cluster.toml`, the port and its owner for a busy port, the install command
//! when ZooKeeper or Java is missing. `Display` is the one-line reason the CLI
//! prints before exiting non-zero, and the text a client reads.
//!
//! [`Error::kind`] sorts every error into a [`Kind`]; each boundary maps from the kind in
//! one place, here, so the protocols cannot drift apart:
//! - [`Error::stomp_message`]: the STOMP ERROR frame's `message` (none: drop the client),
//! - [`Error::openwire_exception`]: the OpenWire ExceptionResponse (none: drop the client),
//! - [`Error::http_status`]: the console's HTTP status,
//! - [`Error::exit_code`]: the CLI's exit status (docs/cli.md).
//!
//! [`Kind::NotMaster`] is the one the protocol adapters act on: a write refused because
//! this node is no longer master is not the client's fault, so the client is dropped
//! without an answer and its failover transport resends to the new master.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `cluster.toml` could not be parsed or fails validation.
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },

    /// A port mqsim needs is already bound by someone else.
    #[error("port {port} ({what}) is already in use{owner}; stop that process or change the port in {config}")]
    PortInUse { port: u16, what: String, owner: String, config: String },

    /// ZooKeeper or Java is not installed where mqsim looks for it.
    #[error("{0}")]
    Missing(String),

    /// No supervisor is running for this cluster's state directory.
    #[error("no cluster is running for {0} (start one with `mqsim up`)")]
    NotRunning(PathBuf),

    /// A CLI target did not name anything (or named nothing that is running).
    #[error("{0}")]
    Target(String),

    /// A value the user gave (an option, a broker URL, a file to read) is not acceptable.
    #[error("{0}")]
    InvalidInput(String),

    /// A peer's frame or request that its protocol (STOMP, OpenWire, replication, the
    /// control socket) refuses, phrased for that peer. `exception` is the Java exception an
    /// OpenWire client throws for it; `None` is `javax.jms.JMSException`. A bare `String`
    /// or `&str` converts into this (`?` on a protocol check's refusal).
    #[error("{message}")]
    Protocol { message: String, exception: Option<&'static str> },

    /// This node is no longer master (its lease lapsed, its store failed or closed): the
    /// write is not acknowledged, and the client should fail over.
    #[error("{0}")]
    NotMaster(String),

    /// The journal or the store refused or failed a read or write.
    #[error("{0}")]
    Storage(String),

    /// A peer (a broker, a slave, the supervisor) could not be reached, or went away.
    #[error("{0}")]
    Unreachable(String),

    /// `source`, saying what was being done when it happened; it is of `source`'s kind.
    #[error("{context}: {source}")]
    Context { context: String, source: Box<Error> },

    /// A run (`chaos`, `lab`) ended with a FAIL verdict: exit code 3, not 1, so scripts can
    /// tell a broken promise from a run that could not be made.
    #[error("{0}")]
    Verdict(String),

    /// Something did not come up (or go down) within its bounded wait.
    #[error("{0}")]
    Timeout(String),

    /// A ZooKeeper request failed.
    #[error("ZooKeeper: {0}")]
    Zk(#[from] zookeeper_client::Error),

    /// The store's LMDB index failed.
    #[error("store: {0}")]
    Store(#[from] heed::Error),

    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },

    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),

    /// A system call (signals, process groups) failed.
    #[error("system call failed: {0}")]
    Sys(#[from] nix::Error),

    /// Anything else, already phrased for the user (a task that panicked, a reply the
    /// supervisor should not have sent).
    #[error("{0}")]
    Other(String),
}

/// What kind of failure an [`Error`] is: what every boundary maps from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `cluster.toml` is wrong.
    Config,
    /// What the user asked for makes no sense, or cannot be done now (a target, an option,
    /// a URL, purging a cluster that still runs).
    InvalidInput,
    /// A peer broke its protocol, or sent a document that does not decode.
    Protocol,
    /// This node is no longer master.
    NotMaster,
    /// The journal or the index failed.
    Storage,
    /// The operating system refused (a file, a socket, a system call).
    Io,
    /// A ZooKeeper request failed.
    ZooKeeper,
    /// What is needed is not there: no cluster running, a missing install, a busy port, a
    /// peer that does not answer.
    Unavailable,
    /// A bounded wait ran out.
    Timeout,
    /// A run's verdict is FAIL.
    Verdict,
    /// Anything else.
    Other,
}

impl Kind {
    /// Every kind, for tests that walk them all.
    pub const ALL: [Kind; 11] = [
        Kind::Config,
        Kind::InvalidInput,
        Kind::Protocol,
        Kind::NotMaster,
        Kind::Storage,
        Kind::Io,
        Kind::ZooKeeper,
        Kind::Unavailable,
        Kind::Timeout,
        Kind::Verdict,
        Kind::Other,
    ];

    /// The CLI's exit status (docs/cli.md, "Exit codes"): 3 for a FAIL verdict, 1 for any
    /// other error. (2, a usage error, is clap's own, before any verb runs.)
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Verdict => 3,
            _ => 1,
        }
    }

    /// The console's HTTP status for a request that failed with this kind: 400 for what the
    /// client sent, 500 for what is wrong on this side and will not pass, 503 for what
    /// another node (or a later try) may well do.
    pub fn http_status(self) -> hyper::StatusCode {
        use hyper::StatusCode as S;
        match self {
            Kind::InvalidInput | Kind::Protocol => S::BAD_REQUEST,
            Kind::Config | Kind::Verdict => S::INTERNAL_SERVER_ERROR,
            Kind::NotMaster
            | Kind::Storage
            | Kind::Io
            | Kind::ZooKeeper
            | Kind::Unavailable
            | Kind::Timeout
            | Kind::Other => S::SERVICE_UNAVAILABLE,
        }
    }

    /// Whether a client connection that hit this kind is dropped without an answer (so its
    /// failover transport reconnects and resends), rather than told about it.
    pub fn drops_client(self) -> bool {
        self == Kind::NotMaster
    }
}

/// The exception class an OpenWire client gets for an error that has no class of its own.
pub const JMS_EXCEPTION: &str = "javax.jms.JMSException";

impl Error {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }

    /// A peer's protocol refusal (an OpenWire client gets it as a `javax.jms.JMSException`).
    pub fn protocol(message: impl Into<String>) -> Error {
        Error::Protocol { message: message.into(), exception: None }
    }

    /// This error, after `context` (`"{context}: {self}"`), keeping its kind.
    pub fn context(self, context: impl Into<String>) -> Error {
        Error::Context { context: context.into(), source: Box::new(self) }
    }

    /// A protocol refusal an OpenWire client gets as `exception` (a Java class name).
    pub fn refused(exception: &'static str, message: impl Into<String>) -> Error {
        Error::Protocol { message: message.into(), exception: Some(exception) }
    }

    /// This error's category.
    pub fn kind(&self) -> Kind {
        match self {
            Error::Config { .. } => Kind::Config,
            Error::Target(_) | Error::InvalidInput(_) => Kind::InvalidInput,
            Error::Protocol { .. } | Error::Json(_) => Kind::Protocol,
            Error::NotMaster(_) => Kind::NotMaster,
            Error::Storage(_) | Error::Store(_) => Kind::Storage,
            Error::Io { .. } | Error::Sys(_) => Kind::Io,
            Error::Zk(_) => Kind::ZooKeeper,
            Error::PortInUse { .. } | Error::Missing(_) | Error::NotRunning(_) | Error::Unreachable(_) => {
                Kind::Unavailable
            }
            Error::Context { source, .. } => source.kind(),
            Error::Timeout(_) => Kind::Timeout,
            Error::Verdict(_) => Kind::Verdict,
            Error::Other(_) => Kind::Other,
        }
    }

    /// The `message` header (and body) of the STOMP ERROR frame that ends the connection,
    /// or `None`: drop the client without one ([`Kind::drops_client`]).
    pub fn stomp_message(&self) -> Option<String> {
        (!self.kind().drops_client()).then(|| self.to_string())
    }

    /// The exception of the OpenWire ExceptionResponse that answers the command, or `None`:
    /// close the connection without an answer ([`Kind::drops_client`]); an
    /// ExceptionResponse would surface as a JMSException instead of a transparent failover.
    pub fn openwire_exception(&self) -> Option<crate::openwire::command::Throwable> {
        use crate::openwire::command::Throwable;
        if self.kind().drops_client() {
            return None;
        }
        let class = match self {
            Error::Protocol { exception: Some(class), .. } => class,
            _ => JMS_EXCEPTION,
        };
        Some(Throwable::new(class, self.to_string()))
    }

    /// The console's HTTP status for a request this error failed ([`Kind::http_status`]).
    pub fn http_status(&self) -> hyper::StatusCode {
        self.kind().http_status()
    }

    /// The CLI's exit status ([`Kind::exit_code`]).
    pub fn exit_code(&self) -> u8 {
        self.kind().exit_code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One error of each kind, as the code makes them.
    fn sample(kind: Kind) -> Error {
        match kind {
            Kind::Config => Error::Config { path: "cluster.toml".into(), message: "line 3: bad".into() },
            Kind::InvalidInput => Error::InvalidInput("--timeout must be longer than zero, e.g. 5s".into()),
            Kind::Protocol => Error::protocol("SEND needs a destination header"),
            Kind::NotMaster => Error::NotMaster("this node's master lease has expired".into()),
            Kind::Storage => Error::Storage("the journal has no record at 7".into()),
            Kind::Io => Error::io("reading x")(std::io::Error::other("boom")),
            Kind::ZooKeeper => Error::Zk(zookeeper_client::Error::ConnectionLoss),
            Kind::Unavailable => Error::NotRunning("/tmp/state".into()),
            Kind::Timeout => Error::Timeout("no master within 30 s".into()),
            Kind::Verdict => Error::Verdict("FAIL".into()),
            Kind::Other => Error::Other("supervisor task failed".into()),
        }
    }

    #[test]
    fn every_kind_has_a_sample_of_that_kind() {
        for k in Kind::ALL {
            assert_eq!(sample(k).kind(), k);
        }
    }

    #[test]
    fn exit_codes_are_the_documented_ones() {
        for k in Kind::ALL {
            let want = if k == Kind::Verdict { 3 } else { 1 };
            assert_eq!(sample(k).exit_code(), want, "{k:?}");
        }
        let doc = include_str!("../docs/cli.md");
        assert!(doc.contains("| 1 | an error:") && doc.contains("| 3 | `mqsim chaos`"), "docs/cli.md lists 1 and 3");
    }

    #[test]
    fn only_not_master_drops_a_stomp_client() {
        for k in Kind::ALL {
            let e = sample(k);
            match k {
                Kind::NotMaster => assert_eq!(e.stomp_message(), None),
                _ => assert_eq!(e.stomp_message(), Some(e.to_string()), "{k:?}: the ERROR frame says Display"),
            }
        }
    }

    #[test]
    fn openwire_exceptions_keep_their_class_or_are_jms_exceptions() {
        for k in Kind::ALL {
            let e = sample(k);
            match k {
                Kind::NotMaster => assert_eq!(e.openwire_exception(), None),
                _ => {
                    let t = e.openwire_exception().expect("an ExceptionResponse");
                    assert_eq!(t.class.as_deref(), Some(JMS_EXCEPTION), "{k:?}");
                    assert_eq!(t.message, Some(e.to_string()));
                }
            }
        }
        let t = Error::refused("javax.jms.InvalidSelectorException", "bad selector").openwire_exception().unwrap();
        assert_eq!(t.class.as_deref(), Some("javax.jms.InvalidSelectorException"));
        assert_eq!(t.message.as_deref(), Some("bad selector"));
    }

    #[test]
    fn http_statuses_per_kind() {
        use hyper::StatusCode as S;
        let want = |k| match k {
            Kind::InvalidInput | Kind::Protocol => S::BAD_REQUEST,
            Kind::Config | Kind::Verdict => S::INTERNAL_SERVER_ERROR,
            _ => S::SERVICE_UNAVAILABLE,
        };
        for k in Kind::ALL {
            assert_eq!(sample(k).http_status(), want(k), "{k:?}");
        }
        // What a broker write fails with on the console stays a 503, as before categories.
        assert_eq!(Error::Other("Usage Manager Memory Limit reached".into()).http_status(), S::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn context_keeps_the_kind_of_its_source() {
        for k in Kind::ALL {
            let e = sample(k).context("doing x");
            assert_eq!(e.kind(), k);
            assert_eq!(e.exit_code(), k.exit_code());
        }
        assert_eq!(Error::NotMaster("lease".into()).context("sending").stomp_message(), None);
    }

    #[test]
    fn new_variants_display_their_text_unchanged() {
        for (e, text) in [
            (Error::NotMaster("a".into()), "a"),
            (Error::Storage("b".into()), "b"),
            (Error::InvalidInput("c".into()), "c"),
            (Error::protocol("d"), "d"),
            (Error::refused("x.Y", "e"), "e"),
            (Error::Unreachable("f".into()), "f"),
            (Error::from(nix::Error::EPERM), "system call failed: EPERM: Operation not permitted"),
            (Error::NotMaster("g".into()).context("message 1 of 2 not sent"), "message 1 of 2 not sent: g"),
        ] {
            assert_eq!(e.to_string(), text);
        }
    }
}
