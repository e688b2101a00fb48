//! The gate every console and dashboard request passes before a route sees it: its `Host`
//! is one of ours ([`HostAllowlist`]), it carries the `[console]` user and password (BASIC
//! auth, [`Credentials`]), and if it changes state it is not cross-site
//! ([`super::guard::same_origin`]). In that order: a rebinding page gets 403 before it can
//! learn anything from a 401.

use base64::Engine;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode};

use super::guard::{HostAllowlist, same_origin};
use super::{Body, text};
use crate::config::Config;

/// The `[console]` user and password every request must present (BASIC auth).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl Credentials {
    pub fn new(user: &str, password: &str) -> Credentials {
        Credentials { user: user.to_string(), password: password.to_string() }
    }

    /// True if the request carries `Authorization: Basic base64(user:password)` with ours.
    pub fn check(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Some((scheme, token)) = value.trim().split_once(' ') else { return false };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(token.trim()) else { return false };
        let expected = format!("{}:{}", self.user, self.password);
        crate::auth::constant_time_eq(&decoded, expected.as_bytes())
    }

    /// The `Authorization` header value for these credentials (for clients and tests).
    pub fn header(&self) -> String {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.user, self.password));
        format!("Basic {token}")
    }
}

/// One site's gate: its credentials, the realm its 401 names, the names it answers to.
#[derive(Debug, Clone)]
pub struct Gate {
    credentials: Credentials,
    realm: &'static str,
    hosts: HostAllowlist,
}

impl Gate {
    /// The `[console]` user and password and the Host allowlist of `config`.
    pub fn new(config: &Config, realm: &'static str) -> Gate {
        let credentials = Credentials::new(&config.console.user, &config.console.password);
        Gate { credentials, realm, hosts: HostAllowlist::new(config) }
    }

    /// The credentials requests must present (the dashboard also sends them to consoles).
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// `Some(response)` refuses the request: a foreign `Host` (403), no or wrong BASIC auth
    /// (401), or, if it changes state (`mutating`), a cross-site request (403).
    pub fn refuse<B>(&self, mutating: bool, req: &Request<B>) -> Option<Response<Body>> {
        if let Err(e) = self.hosts.check(req.headers()) {
            return Some(text(StatusCode::FORBIDDEN, &e));
        }
        if !self.credentials.check(req.headers()) {
            return Some(unauthorized(self.realm));
        }
        if mutating && let Err(e) = same_origin(req.headers()) {
            return Some(text(StatusCode::FORBIDDEN, &e));
        }
        None
    }
}

/// 401 with a BASIC challenge; the browser asks for the user and password.
pub fn unauthorized(realm: &str) -> Response<Body> {
    let mut r =
        text(StatusCode::UNAUTHORIZED, "401 Unauthorized: this console needs the [console] user and password\n");
    let challenge = format!("Basic realm=\"{}\", charset=\"UTF-8\"", realm.replace('"', ""));
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_str(&challenge).expect("ascii realm"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth() {
        let c = Credentials::new("admin", "admin");
        let mut h = HeaderMap::new();
        assert!(!c.check(&h));
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(&c.header()).unwrap());
        assert!(c.check(&h));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic YWRtaW46d3Jvbmc=")); // admin:wrong
        assert!(!c.check(&h));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer YWRtaW46YWRtaW4="));
        assert!(!c.check(&h));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("basic YWRtaW46YWRtaW4="));
        assert!(c.check(&h));
    }

    #[test]
    fn the_gate_checks_host_then_auth_then_origin() {
        let config = Config::parse("", std::path::Path::new("cluster.toml")).unwrap();
        let gate = Gate::new(&config, "Test \"Realm\"");
        let req = |host: &str, auth: bool, origin: Option<&str>| {
            let mut b = Request::builder().uri("/").header(header::HOST, host);
            if auth {
                b = b.header(header::AUTHORIZATION, gate.credentials().header());
            }
            if let Some(o) = origin {
                b = b.header(header::ORIGIN, o);
            }
            b.body(()).unwrap()
        };
        let status = |r: Option<Response<Body>>| r.map(|r| r.status());
        assert_eq!(status(gate.refuse(true, &req("evil.example", false, None))), Some(StatusCode::FORBIDDEN));
        let unauth = gate.refuse(false, &req("127.0.0.1:8161", false, None)).unwrap();
        assert_eq!(unauth.status(), StatusCode::UNAUTHORIZED);
        let challenge = unauth.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert_eq!(challenge, "Basic realm=\"Test Realm\", charset=\"UTF-8\"");
        assert_eq!(status(gate.refuse(false, &req("127.0.0.1:8161", true, None))), None);
        let evil = Some("http://evil.example");
        assert_eq!(status(gate.refuse(false, &req("127.0.0.1:8161", true, evil))), None, "a GET may be cross-site");
        assert_eq!(status(gate.refuse(true, &req("127.0.0.1:8161", true, evil))), Some(StatusCode::FORBIDDEN));
        let own = Some("http://127.0.0.1:8161");
        assert_eq!(status(gate.refuse(true, &req("127.0.0.1:8161", true, own))), None);
    }
}
