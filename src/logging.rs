//! `tracing` set-up: for the long-running processes (supervisor, nodes), one line per event
//! on stderr, which the supervisor appends to the process's log file; for the client verbs,
//! their warnings only (a failover pass that found no broker).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the subscriber; `MQSIM_LOG` (or `RUST_LOG`) overrides the `info` default.
pub fn init(with_time: bool) {
    let filter = std::env::var("MQSIM_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info,zookeeper_client=warn"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    if with_time {
        let _ = b.try_init();
    } else {
        let _ = b.without_time().try_init();
    }
}

/// For `send` and `recv`: warnings on stderr (`MQSIM_LOG` overrides), so a client that keeps
/// retrying says so, as ActiveMQ's failover transport does.
pub fn init_client() {
    let filter = std::env::var("MQSIM_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new("warn,zookeeper_client=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()))
        .with_target(false)
        .without_time()
        .try_init();
}
