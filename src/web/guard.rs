//! What a request must pass before any console or dashboard route sees it, besides BASIC
//! auth: the Host allowlist and the cross-site rule. Both are pure functions of the
//! request's headers.
//!
//! # Host allowlist (DNS rebinding)
//!
//! A page on `http://evil.example:8161/` whose DNS name the attacker then re-points at
//! 127.0.0.1 is same-origin with itself, so its scripts may read and post to the console
//! with the victim's cached BASIC credentials, and its `Origin` matches its `Host`. What
//! gives it away is the `Host` header: `evil.example`. A request is served only if its
//! `Host` (port ignored) is
//!
//! * an IP address literal (`127.0.0.1`, `[::1]`, the bind address...): rebinding needs a
//!   DNS name, so no attacker page can be addressed by an IP literal that isn't its own;
//! * `localhost`, this machine's hostname, or any node's `hostname` from `cluster.toml`;
//! * a name in `[console] allowedHosts` (`"*"` there turns the check off);
//! * or absent (HTTP/1.0 clients; browsers always send one).
//!
//! Anything else gets 403 saying which name to add.
//!
//! # Cross-site requests (CSRF)
//!
//! Browsers attach cached BASIC credentials to any request, including ones another site's
//! page makes. So every state-changing request (every method but GET and HEAD, and the
//! REST API's consuming `GET /api/message`, which ActiveMQ let a mere `<img src>` trigger)
//! must look same-origin: `Sec-Fetch-Site` absent, `same-origin` or `none` (typed into the
//! address bar), and `Origin`, if present, naming this very `Host`. `same-site` is refused
//! too: another console on another port of the same host is a different origin. curl and
//! scripts send neither header and pass. Forms additionally carry the console's secret.
//!
//! Caveat: a browser that sends neither header (very old ones) is not recognized as
//! cross-site; the forms' secret still stops a cross-site form POST there, but not a
//! cross-site `GET /api/message`.

use std::net::IpAddr;

use hyper::header::{self, HeaderMap};

use crate::config::Config;

/// The names a console or the dashboard answers to (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAllowlist {
    /// Lowercase names without a trailing dot.
    names: Vec<String>,
    any: bool,
}

impl HostAllowlist {
    /// `localhost`, this machine's hostname, every node's `hostname`, `[console] allowedHosts`.
    pub fn new(config: &Config) -> HostAllowlist {
        let machine = nix::unistd::gethostname().ok().map(|h| h.to_string_lossy().into_owned());
        let names = ["localhost".to_string()]
            .into_iter()
            .chain(machine)
            .chain(config.nodes.iter().map(|n| n.hostname.clone()))
            .chain(config.console.allowed_hosts.iter().cloned());
        Self::of(names)
    }

    /// An allowlist of exactly these names (and IP literals); `*` allows anything.
    pub fn of(names: impl IntoIterator<Item = String>) -> HostAllowlist {
        let mut list = HostAllowlist { names: Vec::new(), any: false };
        for n in names {
            let n = normalize(&n);
            if n == "*" {
                list.any = true;
            } else if !n.is_empty() && !list.names.contains(&n) {
                list.names.push(n);
            }
        }
        list
    }

    /// `Ok` if a request with this `Host` header may be served, else the 403 text.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), String> {
        let mut all = headers.get_all(header::HOST).iter();
        let Some(value) = all.next() else { return Ok(()) };
        if all.next().is_some() {
            return Err("403: more than one Host header\n".into());
        }
        let Ok(host) = value.to_str() else { return Err("403: the Host header is not ASCII\n".into()) };
        if self.any {
            return Ok(());
        }
        let name = normalize(host_part(host));
        if name.parse::<IpAddr>().is_ok() || self.names.contains(&name) {
            return Ok(());
        }
        Err(format!(
            "403: this server is not `{}` (a DNS-rebinding page?); if you reach it by that name, \
             add it to [console] allowedHosts in cluster.toml\n",
            host_part(host).chars().filter(|c| !c.is_control()).take(100).collect::<String>()
        ))
    }
}

/// The host in a `Host` header value: `[::1]:8161` → `::1`, `a.b:80` → `a.b`.
fn host_part(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// `Ok` unless a browser says this request comes from another site (module docs); the
/// error is the 403 text. Apply it to every state-changing request.
pub fn same_origin(headers: &HeaderMap) -> Result<(), String> {
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("?").to_ascii_lowercase();
        if site != "same-origin" && site != "none" {
            return Err(format!(
                "403: cross-site request refused (Sec-Fetch-Site: {site}); this request changes state, \
                 so it must come from this console's own pages or from a non-browser client\n"
            ));
        }
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return Ok(()) };
    let origin = origin.to_str().unwrap_or("null");
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest).trim_end_matches('/');
    if !host.is_empty() && origin_host.eq_ignore_ascii_case(host.trim()) {
        return Ok(());
    }
    let origin: String = origin.chars().filter(|c| !c.is_control()).take(100).collect();
    Err(format!("403: cross-site request refused (Origin {origin} is not this server, {host})\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn hosts_are_ip_literals_or_known_names() {
        let list = HostAllowlist::of(["localhost".to_string(), "Broker1.Example.".to_string()]);
        for ok in [
            "127.0.0.1:8161",
            "127.0.0.1",
            "[::1]:8161",
            "10.1.2.3:80",
            "localhost:8161",
            "LOCALHOST.",
            "broker1.example:8162",
        ] {
            let h = HeaderMap::from_iter([(header::HOST, HeaderValue::from_str(ok).unwrap())]);
            assert!(list.check(&h).is_ok(), "{ok}");
        }
        for bad in
            ["evil.example", "evil.example:8161", "127.0.0.1.evil.example", "2130706433", "localhost.evil", "[evil]"]
        {
            let h = HeaderMap::from_iter([(header::HOST, HeaderValue::from_str(bad).unwrap())]);
            let e = list.check(&h).unwrap_err();
            assert!(e.starts_with("403") && e.contains("allowedHosts"), "{bad}: {e}");
        }
        assert!(list.check(&HeaderMap::new()).is_ok(), "HTTP/1.0 without Host");
        let mut two = headers(&[("host", "127.0.0.1")]);
        two.append(header::HOST, HeaderValue::from_static("evil.example"));
        assert!(list.check(&two).is_err(), "two Host headers");
        let any = HostAllowlist::of(["*".to_string()]);
        assert!(any.check(&headers(&[("host", "evil.example")])).is_ok());
    }

    #[test]
    fn the_allowlist_holds_the_nodes_hostnames_and_the_extras() {
        let toml = "[console]\nallowedHosts = [\"Console.Example.org\"]\n";
        let mut config = Config::parse(toml, std::path::Path::new("cluster.toml")).unwrap();
        config.nodes[0].hostname = "mq1.lab".into();
        let list = HostAllowlist::new(&config);
        for ok in ["mq1.lab", "console.example.org:8161", "localhost"] {
            let h = HeaderMap::from_iter([(header::HOST, HeaderValue::from_str(ok).unwrap())]);
            assert!(list.check(&h).is_ok(), "{ok}");
        }
        assert!(list.check(&headers(&[("host", "evil.example")])).is_err());
    }

    #[test]
    fn cross_site_requests_are_refused() {
        assert!(same_origin(&HeaderMap::new()).is_ok(), "curl sends neither header");
        let host = ("host", "127.0.0.1:8161");
        assert!(same_origin(&headers(&[host, ("origin", "http://127.0.0.1:8161")])).is_ok());
        assert!(same_origin(&headers(&[host, ("sec-fetch-site", "same-origin")])).is_ok());
        assert!(same_origin(&headers(&[host, ("sec-fetch-site", "none")])).is_ok(), "typed in the address bar");
        for site in ["cross-site", "same-site", "bogus"] {
            let mut h = headers(&[host]);
            h.insert("sec-fetch-site", HeaderValue::from_static(site));
            assert!(same_origin(&h).unwrap_err().contains("cross-site"), "{site}");
        }
        for origin in ["http://evil.example", "null", "http://127.0.0.1:8162", "http://127.0.0.1:8161.evil"] {
            let mut h = headers(&[host]);
            h.insert("origin", HeaderValue::from_static(origin));
            assert!(same_origin(&h).is_err(), "{origin}");
        }
        assert!(same_origin(&headers(&[("origin", "http://127.0.0.1:8161")])).is_err(), "Origin without Host");
    }
}
