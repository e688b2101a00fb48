//! ActiveMQ connection URLs: `tcp://host:port` and the failover transport's
//! `failover:(uri1,...,uriN)?options`, with ActiveMQ's option names and defaults.
//!
//! Accepted shapes (as ActiveMQ's `URISupport.parseComposite` reads them):
//!
//! * `tcp://host:port` — one broker, no reconnect (`maxReconnectAttempts=0` semantics);
//! * `failover:(tcp://a:1,tcp://b:2)?randomize=false&maxReconnectAttempts=5`;
//! * `failover:tcp://a:1,tcp://b:2` — without parentheses there are no failover options:
//!   a `?query` belongs to the last inner URI, exactly as in ActiveMQ;
//! * `failover://tcp://a:1` and `failover://(tcp://a:1,tcp://b:2)?...` (the `//` is stripped).
//!
//! Inner URIs may use `tcp`, `nio`, `stomp` or `stomp+nio` (all plain TCP here). Options on an
//! inner URI and `nested.*` options configure ActiveMQ's TCP transport and wire format; this
//! client has no such knobs, so they are kept in [`FailoverUrl::transport_options`] and
//! otherwise ignored. A *failover* option misplaced on an inner URI is an error, because
//! ActiveMQ would reject it as well (and silently losing `randomize=false` is a trap).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, Result};

/// A parsed `failover:` (or plain `tcp://`) URL. Field names follow ActiveMQ's options.
#[derive(Debug, Clone, PartialEq)]
pub struct FailoverUrl {
    /// Brokers in the listed order: `(host, port)`; IPv6 hosts without brackets.
    pub uris: Vec<(String, u16)>,
    /// `randomize` (true): shuffle the list on every reconnect pass.
    pub randomize: bool,
    /// `initialReconnectDelay` (10 ms): the first delay after a working connection drops.
    pub initial_reconnect_delay: Duration,
    /// `maxReconnectDelay` (30000 ms): cap of the back-off.
    pub max_reconnect_delay: Duration,
    /// `useExponentialBackOff` (true).
    pub use_exponential_backoff: bool,
    /// `reconnectDelayExponent` (2.0).
    pub exponent: f64,
    /// `maxReconnectAttempts` (-1 = forever; 0 = never reconnect; n = n passes, then fail).
    pub max_reconnect_attempts: i64,
    /// `startupMaxReconnectAttempts` (-1 = use `maxReconnectAttempts`): applies until the
    /// first successful connect.
    pub startup_max_reconnect_attempts: i64,
    /// `timeout` (-1 = none): how long a send waits for a (re)connection before failing.
    pub timeout: Option<Duration>,
    /// `backup` (false). Parsed for fidelity; this client keeps no standby connection.
    pub backup: bool,
    /// `backupPoolSize` (1). Parsed, unused.
    pub backup_pool_size: i64,
    /// `priorityBackup` (false). Parsed, unused.
    pub priority_backup: bool,
    /// `priorityURIs` (empty = the first URI). Parsed, unused.
    pub priority_uris: Vec<(String, u16)>,
    /// `trackMessages` (false). Parsed, unused: every synchronous send is resent anyway.
    pub track_messages: bool,
    /// `maxCacheSize` (131072 bytes). Parsed, unused.
    pub max_cache_size: i64,
    /// `trackTransactionProducers` (true). Parsed, unused.
    pub track_transaction_producers: bool,
    /// `updateURIsSupported` (true). Parsed, unused (STOMP brokers push no URI lists).
    pub update_uris_supported: bool,
    /// `reconnectSupported` (true). Parsed, unused.
    pub reconnect_supported: bool,
    /// `updateURIsURL` (none). Parsed, unused.
    pub update_uris_url: Option<String>,
    /// `rebalanceUpdateURIs` (true). Parsed, unused.
    pub rebalance_update_uris: bool,
    /// `warnAfterReconnectAttempts` (10): log a warning on pass 1 and every n-th pass.
    pub warn_after_reconnect_attempts: i64,
    /// Inner-URI options and `nested.*` options (prefix stripped), in order. Ignored.
    pub transport_options: Vec<(String, String)>,
}

impl Default for FailoverUrl {
    /// ActiveMQ's defaults with an empty broker list.
    fn default() -> Self {
        FailoverUrl {
            uris: Vec::new(),
            randomize: true,
            initial_reconnect_delay: Duration::from_millis(10),
            max_reconnect_delay: Duration::from_millis(30_000),
            use_exponential_backoff: true,
            exponent: 2.0,
            max_reconnect_attempts: -1,
            startup_max_reconnect_attempts: -1,
            timeout: None,
            backup: false,
            backup_pool_size: 1,
            priority_backup: false,
            priority_uris: Vec::new(),
            track_messages: false,
            max_cache_size: 131_072,
            track_transaction_producers: true,
            update_uris_supported: true,
            reconnect_supported: true,
            update_uris_url: None,
            rebalance_update_uris: true,
            warn_after_reconnect_attempts: 10,
            transport_options: Vec::new(),
        }
    }
}

/// Every option name the failover transport accepts (besides `nested.*`).
const FAILOVER_OPTIONS: &[&str] = &[
    "randomize",
    "initialReconnectDelay",
    "maxReconnectDelay",
    "useExponentialBackOff",
    "reconnectDelayExponent",
    "maxReconnectAttempts",
    "startupMaxReconnectAttempts",
    "timeout",
    "backup",
    "backupPoolSize",
    "priorityBackup",
    "priorityURIs",
    "trackMessages",
    "maxCacheSize",
    "trackTransactionProducers",
    "updateURIsSupported",
    "reconnectSupported",
    "updateURIsURL",
    "rebalanceUpdateURIs",
    "warnAfterReconnectAttempts",
];

impl FailoverUrl {
    /// Delays to sleep before reconnect pass 1, 2, 3, ... after a drop (and between passes
    /// of the first connect): `initialReconnectDelay`, then × `reconnectDelayExponent` per
    /// failed pass, capped at `maxReconnectDelay`. Defaults: 10, 20, 40, ... 30000 ms.
    /// Without `useExponentialBackOff` every delay is `initialReconnectDelay`. Endless.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            next: self.initial_reconnect_delay,
            max: self.max_reconnect_delay,
            exponent: if self.use_exponential_backoff { self.exponent } else { 1.0 },
        }
    }

    /// How many full passes over the list may fail before giving up (`None` = forever),
    /// per ActiveMQ: `startupMaxReconnectAttempts` until the first connect if set, else
    /// `maxReconnectAttempts`; a limit of 0 still allows the one initial pass.
    pub fn pass_limit(&self, connected_before: bool) -> Option<u64> {
        let limit = self.reconnect_limit(connected_before);
        u64::try_from(limit).ok().map(|n| n.max(1))
    }

    /// The raw limit in force (`-1` forever, `0` never reconnect, `n`).
    pub fn reconnect_limit(&self, connected_before: bool) -> i64 {
        if !connected_before && self.startup_max_reconnect_attempts != -1 {
            self.startup_max_reconnect_attempts
        } else {
            self.max_reconnect_attempts
        }
    }

    /// `tcp://host:port` for URI `i` (brackets around IPv6 hosts).
    pub fn uri_string(&self, i: usize) -> String {
        self.uris.get(i).map_or_else(String::new, |(h, p)| tcp_uri(h, *p))
    }
}

/// `tcp://host:port`, bracketing IPv6 literals.
pub fn tcp_uri(host: &str, port: u16) -> String {
    if host.contains(':') { format!("tcp://[{host}]:{port}") } else { format!("tcp://{host}:{port}") }
}

/// The reconnect delay series of [`FailoverUrl::backoff`].
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
    exponent: f64,
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let now = self.next;
        let grown = now.as_secs_f64() * self.exponent;
        self.next =
            if grown.is_finite() && grown < self.max.as_secs_f64() { Duration::from_secs_f64(grown) } else { self.max };
        Some(now)
    }
}

impl fmt::Display for FailoverUrl {
    /// `failover:(tcp://a:1,tcp://b:2)?randomize=false...` with the options the client uses
    /// when they differ from the defaults (for log lines; not a round-trip of the input).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let uris: Vec<String> = (0..self.uris.len()).map(|i| self.uri_string(i)).collect();
        write!(f, "failover:({})", uris.join(","))?;
        let d = FailoverUrl::default();
        let mut opts = Vec::new();
        if self.randomize != d.randomize {
            opts.push(format!("randomize={}", self.randomize));
        }
        if self.initial_reconnect_delay != d.initial_reconnect_delay {
            opts.push(format!("initialReconnectDelay={}", self.initial_reconnect_delay.as_millis()));
        }
        if self.max_reconnect_delay != d.max_reconnect_delay {
            opts.push(format!("maxReconnectDelay={}", self.max_reconnect_delay.as_millis()));
        }
        if self.use_exponential_backoff != d.use_exponential_backoff {
            opts.push(format!("useExponentialBackOff={}", self.use_exponential_backoff));
        }
        if self.exponent != d.exponent {
            opts.push(format!("reconnectDelayExponent={}", self.exponent));
        }
        if self.max_reconnect_attempts != d.max_reconnect_attempts {
            opts.push(format!("maxReconnectAttempts={}", self.max_reconnect_attempts));
        }
        if self.startup_max_reconnect_attempts != d.startup_max_reconnect_attempts {
            opts.push(format!("startupMaxReconnectAttempts={}", self.startup_max_reconnect_attempts));
        }
        if let Some(t) = self.timeout {
            opts.push(format!("timeout={}", t.as_millis()));
        }
        if !opts.is_empty() {
            write!(f, "?{}", opts.join("&"))?;
        }
        Ok(())
    }
}

impl FromStr for FailoverUrl {
    type Err = Error;

    fn from_str(s: &str) -> Result<FailoverUrl> {
        let s = s.trim();
        let bad = |why: &str| Error::InvalidInput(format!("bad broker URL {s:?}: {why}"));
        let (scheme, rest) = s.split_once(':').ok_or_else(|| bad("expected tcp://host:port or failover:(uri,...)"))?;
        if !scheme.eq_ignore_ascii_case("failover") {
            // A single broker: no failover options, no reconnect.
            let mut url = FailoverUrl {
                max_reconnect_attempts: 0,
                startup_max_reconnect_attempts: 0,
                randomize: false,
                ..FailoverUrl::default()
            };
            let (host, port, opts) = parse_inner(s)?;
            url.uris.push((host, port));
            url.transport_options = opts;
            return Ok(url);
        }
        let rest = rest.trim();
        let rest = rest.strip_prefix("//").unwrap_or(rest).trim();
        let (list, query) = if let Some(inner) = rest.strip_prefix('(') {
            let close = inner.rfind(')').ok_or_else(|| bad("unbalanced parentheses"))?;
            let after = inner[close + 1..].trim();
            let query = match after.strip_prefix('?') {
                Some(q) => q,
                None if after.is_empty() => "",
                None => return Err(bad(&format!("unexpected {after:?} after ')'"))),
            };
            (&inner[..close], query)
        } else {
            (rest, "")
        };
        if list.contains('(') || list.contains(')') {
            return Err(bad("nested composite URIs are not supported"));
        }
        let mut url = FailoverUrl::default();
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (host, port, opts) = parse_inner(part)?;
            url.uris.push((host, port));
            url.transport_options.extend(opts);
        }
        if url.uris.is_empty() {
            return Err(bad("the failover list names no broker"));
        }
        url.apply_options(parse_query(query))?;
        Ok(url)
    }
}

impl FailoverUrl {
    /// Applies `name=value` failover options; unknown names are collected into ActiveMQ's
    /// `Invalid connect parameters: {name=value}` error.
    fn apply_options(&mut self, options: Options) -> Result<()> {
        let mut unknown = BTreeMap::new();
        for (name, value) in options {
            let v = value.as_str();
            match name.as_str() {
                "randomize" => self.randomize = boolean(&name, v)?,
                "initialReconnectDelay" => self.initial_reconnect_delay = millis(&name, v)?,
                "maxReconnectDelay" => self.max_reconnect_delay = millis(&name, v)?,
                "useExponentialBackOff" => self.use_exponential_backoff = boolean(&name, v)?,
                "reconnectDelayExponent" => {
                    self.exponent = v
                        .parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite() && *x > 0.0)
                        .ok_or_else(|| invalid(&name, v, "a positive number"))?;
                }
                "maxReconnectAttempts" => self.max_reconnect_attempts = integer(&name, v)?,
                "startupMaxReconnectAttempts" => {
                    self.startup_max_reconnect_attempts = integer(&name, v)?;
                }
                "timeout" => {
                    let ms = integer(&name, v)?;
                    // ActiveMQ only enforces `timeout > 0`.
                    self.timeout = u64::try_from(ms).ok().filter(|&ms| ms > 0).map(Duration::from_millis);
                }
                "backup" => self.backup = boolean(&name, v)?,
                "backupPoolSize" => self.backup_pool_size = integer(&name, v)?,
                "priorityBackup" => self.priority_backup = boolean(&name, v)?,
                "priorityURIs" => {
                    self.priority_uris = v
                        .split(',')
                        .map(str::trim)
                        .filter(|u| !u.is_empty())
                        .map(|u| parse_inner(u).map(|(h, p, _)| (h, p)))
                        .collect::<Result<_>>()?;
                }
                "trackMessages" => self.track_messages = boolean(&name, v)?,
                "maxCacheSize" => self.max_cache_size = integer(&name, v)?,
                "trackTransactionProducers" => {
                    self.track_transaction_producers = boolean(&name, v)?;
                }
                "updateURIsSupported" => self.update_uris_supported = boolean(&name, v)?,
                "reconnectSupported" => self.reconnect_supported = boolean(&name, v)?,
                "updateURIsURL" => self.update_uris_url = Some(value),
                "rebalanceUpdateURIs" => self.rebalance_update_uris = boolean(&name, v)?,
                "warnAfterReconnectAttempts" => {
                    self.warn_after_reconnect_attempts = integer(&name, v)?;
                }
                _ => match name.strip_prefix("nested.") {
                    Some(inner) if !inner.is_empty() => {
                        self.transport_options.push((inner.to_string(), value));
                    }
                    _ => {
                        unknown.insert(name, value);
                    }
                },
            }
        }
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidInput(format!("Invalid connect parameters: {}", java_map(&unknown))))
        }
    }
}

/// `{a=1, b=2}` like `java.util.Map.toString()`.
fn java_map(map: &BTreeMap<String, String>) -> String {
    let items: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", items.join(", "))
}

/// `name=value` pairs in their written order.
type Options = Vec<(String, String)>;

/// One inner URI: `tcp://host:port[/path][?query]` → host, port, query options.
fn parse_inner(uri: &str) -> Result<(String, u16, Options)> {
    let bad = |why: &str| Error::InvalidInput(format!("bad broker URI {uri:?}: {why}"));
    let (scheme, rest) = uri.split_once("://").ok_or_else(|| bad("expected tcp://host:port"))?;
    if !["tcp", "nio", "stomp", "stomp+nio"].iter().any(|s| scheme.eq_ignore_ascii_case(s)) {
        return Err(bad(&format!(
            "scheme {scheme:?} is not supported (mqsim's client speaks STOMP over plain tcp://)"
        )));
    }
    let (authority, query) = match rest.split_once('?') {
        Some((a, q)) => (a, q),
        None => (rest, ""),
    };
    let authority = authority.split('/').next().unwrap_or_default();
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '[' in host"))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(bad("missing host"));
    }
    let port = port
        .ok_or_else(|| bad("missing port"))?
        .parse::<u16>()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| bad("port must be a number from 1 to 65535"))?;
    let options = parse_query(query);
    let misplaced: BTreeMap<String, String> = options
        .iter()
        .filter(|(k, _)| FAILOVER_OPTIONS.contains(&k.as_str()) || k.starts_with("nested."))
        .cloned()
        .collect();
    if !misplaced.is_empty() {
        return Err(Error::InvalidInput(format!(
            "Invalid connect parameters: {} (failover options on the inner URI {uri}; write them \
             after the parenthesised list: failover:(tcp://a:1,tcp://b:2)?randomize=false)",
            java_map(&misplaced)
        )));
    }
    Ok((host.to_string(), port, options))
}

/// `a=1&b=2` → pairs in order; a name without `=` gets an empty value.
fn parse_query(query: &str) -> Options {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
            None => (p.trim().to_string(), String::new()),
        })
        .collect()
}

fn invalid(name: &str, value: &str, expected: &str) -> Error {
    Error::InvalidInput(format!("Invalid connect parameters: {{{name}={value}}} (expected {expected})"))
}

fn boolean(name: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(name, v, "true or false")),
    }
}

fn integer(name: &str, v: &str) -> Result<i64> {
    v.parse().map_err(|_| invalid(name, v, "an integer"))
}

fn millis(name: &str, v: &str) -> Result<Duration> {
    v.parse::<u64>().map(Duration::from_millis).map_err(|_| invalid(name, v, "milliseconds, 0 or more"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> FailoverUrl {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        match s.parse::<FailoverUrl>() {
            Ok(u) => panic!("{s} parsed: {u:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn hp(h: &str, p: u16) -> (String, u16) {
        (h.to_string(), p)
    }

    #[test]
    fn defaults_are_activemqs() {
        let u = parse("failover:(tcp://localhost:61616)");
        assert_eq!(u.uris, vec![hp("localhost", 61616)]);
        assert!(u.randomize);
        assert_eq!(u.initial_reconnect_delay, Duration::from_millis(10));
        assert_eq!(u.max_reconnect_delay, Duration::from_secs(30));
        assert!(u.use_exponential_backoff);
        assert_eq!(u.exponent, 2.0);
        assert_eq!(u.max_reconnect_attempts, -1);
        assert_eq!(u.startup_max_reconnect_attempts, -1);
        assert_eq!(u.timeout, None);
        assert!(!u.backup && u.backup_pool_size == 1 && !u.priority_backup);
        assert!(!u.track_messages && u.max_cache_size == 131_072);
        assert!(u.track_transaction_producers && u.update_uris_supported);
        assert!(u.reconnect_supported && u.rebalance_update_uris);
        assert_eq!(u.update_uris_url, None);
        assert_eq!(u.warn_after_reconnect_attempts, 10);
        assert_eq!(u, FailoverUrl { uris: u.uris.clone(), ..FailoverUrl::default() });
    }

    #[test]
    fn all_url_shapes() {
        let two = vec![hp("a", 1), hp("b", 2)];
        assert_eq!(parse("failover:(tcp://a:1,tcp://b:2)").uris, two);
        assert_eq!(parse("failover:( tcp://a:1 , tcp://b:2 )?").uris, two);
        assert_eq!(parse("failover:tcp://a:1,tcp://b:2").uris, two);
        assert_eq!(parse("failover://(tcp://a:1,tcp://b:2)").uris, two);
        assert_eq!(parse("failover://tcp://localhost:61616").uris, vec![hp("localhost", 61616)]);
        assert_eq!(parse("FAILOVER:(nio://a:1,stomp://b:2)").uris, two);
        assert_eq!(parse("failover:(tcp://[::1]:61613)").uris, vec![hp("::1", 61613)]);
        assert_eq!(parse("failover:(tcp://[::1]:61613)").uri_string(0), "tcp://[::1]:61613");
    }

    #[test]
    fn plain_tcp_never_reconnects() {
        let u = parse("tcp://127.0.0.1:61613");
        assert_eq!(u.uris, vec![hp("127.0.0.1", 61613)]);
        assert_eq!(u.max_reconnect_attempts, 0);
        assert_eq!(u.reconnect_limit(true), 0);
        assert_eq!(u.pass_limit(false), Some(1));
        assert!(!u.randomize);
    }

    #[test]
    fn options_are_applied() {
        let u = parse(
            "failover:(tcp://a:1,tcp://b:2)?randomize=false&initialReconnectDelay=100&\
             maxReconnectDelay=5000&useExponentialBackOff=false&reconnectDelayExponent=1.5&\
             maxReconnectAttempts=3&startupMaxReconnectAttempts=7&timeout=3000&backup=true&\
             backupPoolSize=2&priorityBackup=true&priorityURIs=tcp://a:1,tcp://b:2&\
             trackMessages=true&maxCacheSize=1024&trackTransactionProducers=false&\
             updateURIsSupported=false&reconnectSupported=false&updateURIsURL=file:///x&\
             rebalanceUpdateURIs=false&warnAfterReconnectAttempts=0&\
             nested.wireFormat.maxInactivityDuration=1000",
        );
        assert!(!u.randomize);
        assert_eq!(u.initial_reconnect_delay, Duration::from_millis(100));
        assert_eq!(u.max_reconnect_delay, Duration::from_millis(5000));
        assert!(!u.use_exponential_backoff);
        assert_eq!(u.exponent, 1.5);
        assert_eq!((u.max_reconnect_attempts, u.startup_max_reconnect_attempts), (3, 7));
        assert_eq!(u.timeout, Some(Duration::from_secs(3)));
        assert!(u.backup && u.priority_backup && u.track_messages);
        assert_eq!((u.backup_pool_size, u.max_cache_size), (2, 1024));
        assert_eq!(u.priority_uris, vec![hp("a", 1), hp("b", 2)]);
        assert!(!u.track_transaction_producers && !u.update_uris_supported);
        assert!(!u.reconnect_supported && !u.rebalance_update_uris);
        assert_eq!(u.update_uris_url.as_deref(), Some("file:///x"));
        assert_eq!(u.warn_after_reconnect_attempts, 0);
        assert_eq!(u.transport_options, vec![("wireFormat.maxInactivityDuration".into(), "1000".into())]);
        assert_eq!(u.pass_limit(false), Some(7));
        assert_eq!(u.pass_limit(true), Some(3));
        assert_eq!(parse("failover:(tcp://a:1)?timeout=-1").timeout, None);
        assert_eq!(parse("failover:(tcp://a:1)?maxReconnectAttempts=0").pass_limit(false), Some(1));
        assert_eq!(parse("failover:(tcp://a:1)").pass_limit(true), None);
    }

    #[test]
    fn unknown_options_are_rejected_like_activemq() {
        assert_eq!(
            err("failover:(tcp://a:1)?backOffMultiplier=3"),
            "Invalid connect parameters: {backOffMultiplier=3}"
        );
        assert_eq!(err("failover:(tcp://a:1)?zz=1&randomize=false&aa=2"), "Invalid connect parameters: {aa=2, zz=1}");
        assert!(err("failover:(tcp://a:1)?randomize=maybe").contains("{randomize=maybe}"));
        assert!(err("failover:(tcp://a:1)?maxReconnectDelay=-5").contains("maxReconnectDelay"));
        // Without parentheses the query belongs to the last inner URI, as in ActiveMQ.
        let e = err("failover:tcp://a:1,tcp://b:2?randomize=false");
        assert!(e.starts_with("Invalid connect parameters: {randomize=false}"), "{e}");
    }

    #[test]
    fn inner_transport_options_are_kept() {
        let u = parse("failover:(tcp://a:1?soTimeout=5,tcp://b:2)?randomize=false");
        assert_eq!(u.transport_options, vec![("soTimeout".into(), "5".into())]);
        assert!(!u.randomize);
    }

    #[test]
    fn malformed_urls() {
        for s in [
            "",
            "localhost:61613",
            "failover:()",
            "failover:(tcp://a:1",
            "failover:(tcp://a:1)x",
            "failover:(failover:(tcp://a:1))",
            "tcp://a",
            "tcp://:1",
            "tcp://a:0",
            "tcp://a:99999",
            "ssl://a:1",
            "tcp://[::1:1",
        ] {
            assert!(s.parse::<FailoverUrl>().is_err(), "{s:?} should not parse");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let ms = |u: &FailoverUrl, n| -> Vec<u128> { u.backoff().take(n).map(|d| d.as_millis()).collect() };
        let u = parse("failover:(tcp://a:1)");
        let series = ms(&u, 16);
        assert_eq!(&series[..5], &[10, 20, 40, 80, 160]);
        assert_eq!(series[11], 20_480);
        assert_eq!(&series[12..], &[30_000; 4]);
        let flat = parse("failover:(tcp://a:1)?useExponentialBackOff=false&initialReconnectDelay=7");
        assert_eq!(ms(&flat, 3), vec![7, 7, 7]);
        let slow = parse("failover:(tcp://a:1)?reconnectDelayExponent=3&maxReconnectDelay=100");
        assert_eq!(ms(&slow, 4), vec![10, 30, 90, 100]);
    }

    #[test]
    fn display_shows_non_default_options() {
        let u = parse("failover:(tcp://a:1,tcp://b:2)?randomize=false&timeout=500");
        assert_eq!(u.to_string(), "failover:(tcp://a:1,tcp://b:2)?randomize=false&timeout=500");
    }
}
