//! ActiveMQ's REST message API (`MessageServlet`, mounted at `/api/message`):
//!
//! * `POST /api/message/FOO?type=queue` sends the request body (or the `body` parameter) to
//!   queue FOO and answers `200 Message sent`. Other parameters become message headers;
//!   `persistent=false` sends a non-persistent message (the default is persistent).
//! * `GET /api/message/FOO?type=queue&readTimeout=5000` consumes one message and answers it
//!   as the response body (200, with `id` and `destination` headers), or 204 No Content if
//!   none arrived within `readTimeout` ms (default 20000, at most 60000).
//!
//! As in ActiveMQ, `type` defaults to `topic`, and `?destination=queue://FOO` may name the
//! destination instead of the path. On a topic, GET waits for the next message published.
//!
//! # What a POST may not do
//!
//! * Name a destination [`crate::limits::check`] refuses (empty, over 200 bytes, control
//!   characters) or a durable subscription's store (`sub:...`): 400.
//! * Set a header the broker owns on delivery (`content-length`, `receipt`, `receipt-id`,
//!   `message-id`, `subscription`, `ack`, `transaction`): 400 naming it, rather than
//!   storing a header a STOMP consumer could take for framing (ActiveMQ stored any
//!   parameter as a message property). `destination` names the destination instead.
//! * Send more than [`MAX_HEADERS`] headers, a header over [`MAX_HEADER`] bytes (the bounds
//!   of a STOMP frame, [`crate::limits`]), a header name with `:` or control characters, or
//!   a value with control characters: 400.
//! * Send a body over `cluster.maxFrameSize`: 413 ([`web::read_body`]).
//!
//! `GET` consumes a message, so browsers may only do it same-origin ([`crate::web::guard`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Body as HttpBody;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::mpsc;

use super::pages::check_name;
use super::{Console, NodeView};
use crate::broker::{AckMode, Broker, Destination, Kind, Subscription};
use crate::message::{self, StoredMessage};
use crate::web::{self, Body};

/// Parameters that steer the servlet rather than becoming message headers.
const RESERVED: [&str; 8] =
    ["type", "body", "destination", "readTimeout", "persistent", "JMSDeliveryMode", "secret", "clientId"];
/// Headers the broker sets on delivery (or that frame a STOMP message); a POST may not.
const BROKER_HEADERS: [&str; 8] = [
    "content-length",
    "receipt",
    "receipt-id",
    message::header::MESSAGE_ID,
    message::header::SUBSCRIPTION,
    message::header::ACK,
    "transaction",
    message::header::DESTINATION,
];
/// At most this many headers per message, each name + value at most [`MAX_HEADER`] bytes:
/// the bounds a STOMP frame has, so that whatever REST stores a STOMP client can receive.
pub const MAX_HEADERS: usize = crate::limits::STOMP_MAX_HEADERS;
pub const MAX_HEADER: usize = crate::limits::STOMP_MAX_HEADER_LINE;
const DEFAULT_READ_TIMEOUT: u64 = 20_000;
const MAX_READ_TIMEOUT: u64 = 60_000;

/// `%41` → `A` in a path segment (`+` stays a plus).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The destination from the path or `destination=`, and `type=` (default topic, as ActiveMQ).
fn destination<B>(req: &Request<B>, q: &BTreeMap<String, String>) -> Result<Destination, String> {
    let from_path = req.uri().path().strip_prefix("/api/message").unwrap_or("").trim_start_matches('/');
    let (mut kind, mut name) = match q.get("type").map(|t| t.to_ascii_lowercase()) {
        Some(t) if t == "queue" => (Kind::Queue, percent_decode(from_path)),
        Some(t) if t == "topic" => (Kind::Topic, percent_decode(from_path)),
        None => (Kind::Topic, percent_decode(from_path)),
        Some(t) => return Err(format!("type must be queue or topic, not `{t}`")),
    };
    if let Some(d) = q.get("destination") {
        match Destination::from_qualified(d) {
            Some(qualified) => (kind, name) = (qualified.kind, qualified.name),
            None => name = d.clone(),
        }
    }
    check_name(&name)?;
    Ok(Destination { kind, name })
}

pub(super) async fn message<B>(c: &Console, view: &NodeView, req: Request<B>) -> Response<Body>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let Some(broker) = view.serving_broker().cloned() else {
        let who = match c.master_node(view) {
            Some(m) if view.report.role == crate::status::Role::Slave => {
                format!(" of {} ({})", m.name, c.config().console_url(m))
            }
            _ => String::new(),
        };
        return web::text(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "503: {} is {}{who}, not a serving master; real ActiveMQ serves nothing on a slave. Use the master.\n",
                c.name(),
                view.role()
            ),
        );
    };
    let q = web::query(&req);
    let dest = match destination(&req, &q) {
        Ok(d) => d,
        Err(e) => return web::text(StatusCode::BAD_REQUEST, &format!("400: {e}\n")),
    };
    match *req.method() {
        Method::POST | Method::PUT => produce(c, &broker, dest, q, req).await,
        Method::GET => {
            let ms = q.get("readTimeout").and_then(|t| t.parse::<i64>().ok());
            let ms = ms.map_or(DEFAULT_READ_TIMEOUT, |t| t.clamp(0, MAX_READ_TIMEOUT as i64) as u64);
            consume(c, &broker, dest, Duration::from_millis(ms)).await
        }
        _ => web::method_not_allowed("GET, POST"),
    }
}

async fn produce<B>(
    c: &Console,
    broker: &Broker,
    dest: Destination,
    mut q: BTreeMap<String, String>,
    req: Request<B>,
) -> Response<Body>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let raw = match web::read_body(req.into_body(), c.config().cluster.max_frame_size).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let body: Vec<u8> = if form {
        for (k, v) in web::parse_form(&String::from_utf8_lossy(&raw)) {
            q.entry(k).or_insert(v);
        }
        q.get("body").cloned().unwrap_or_default().into_bytes()
    } else if let Some(b) = q.get("body") {
        b.clone().into_bytes()
    } else {
        raw.to_vec()
    };
    let persistent = !(q.get("persistent").is_some_and(|p| p == "false")
        || q.get("JMSDeliveryMode").is_some_and(|m| m.eq_ignore_ascii_case("non_persistent") || m == "1"));
    let headers = match message_headers(&q) {
        Ok(h) => h,
        Err(e) => return web::text(StatusCode::BAD_REQUEST, &format!("400: {e}\n")),
    };
    let msg = StoredMessage {
        seq: 0,
        destination: dest.to_string(),
        headers,
        body,
        persistent,
        timestamp: crate::events::now_ms(),
        redelivery_count: 0,
        producer: None,
    };
    match broker.send(&dest, msg).await {
        Ok(_) => web::text(StatusCode::OK, "Message sent\n"),
        Err(e) => web::text(e.http_status(), &format!("{}: not sent: {e}\n", e.http_status().as_u16())),
    }
}

/// The parameters that become message headers, checked (see the module docs).
fn message_headers(q: &BTreeMap<String, String>) -> Result<Vec<(String, String)>, String> {
    let mut headers = Vec::new();
    for (k, v) in q.iter().filter(|(k, _)| !RESERVED.contains(&k.as_str())) {
        let lower = k.to_ascii_lowercase();
        if BROKER_HEADERS.contains(&lower.as_str()) {
            return Err(format!("`{lower}` is a header the broker sets; it cannot be sent as a parameter"));
        }
        if k.is_empty() || k.contains(':') || k.chars().any(char::is_control) {
            return Err("a header name must be non-empty, without `:` or control characters".into());
        }
        if v.chars().any(char::is_control) {
            return Err(format!("the value of header `{k}` contains control characters"));
        }
        if k.len() + v.len() > MAX_HEADER {
            return Err(format!("header `{k}` is over {MAX_HEADER} bytes"));
        }
        headers.push((k.clone(), v.clone()));
        if headers.len() > MAX_HEADERS {
            return Err(format!("more than {MAX_HEADERS} headers"));
        }
    }
    Ok(headers)
}

async fn consume(c: &Console, broker: &Arc<Broker>, dest: Destination, wait: Duration) -> Response<Body> {
    let conn = broker.new_id();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sub = Subscription {
        destination: dest.clone(),
        ack: if dest.kind == Kind::Queue { AckMode::ClientIndividual } else { AckMode::Auto },
        prefetch: 1,
        durable: None,
        selector: None,
    };
    let consumer = match broker.subscribe(conn, sub, tx).await {
        Ok(id) => id,
        Err(e) => return web::text(e.http_status(), &format!("{}: {e}\n", e.http_status().as_u16())),
    };
    let deadline = tokio::time::Instant::now() + wait;
    // Give up if this node stops being master while waiting (checked four times a second).
    let mut stepped_down = false;
    let delivery = loop {
        let step = deadline.min(tokio::time::Instant::now() + Duration::from_millis(250));
        tokio::select! {
            d = rx.recv() => break d,
            _ = tokio::time::sleep_until(step) => {
                stepped_down = !c.view().serving_broker().is_some_and(|b| Arc::ptr_eq(b, broker));
                if stepped_down || tokio::time::Instant::now() >= deadline {
                    break None;
                }
            }
        }
    };
    let result = match &delivery {
        Some(d) if dest.kind == Kind::Queue => broker.ack(consumer, d.msg.seq, false).await,
        _ => Ok(()),
    };
    // Anything delivered but not acked goes back to the queue.
    broker.disconnect(conn);
    if let Err(e) = result {
        return web::text(e.http_status(), &format!("{}: {e}\n", e.http_status().as_u16()));
    }
    if stepped_down {
        let msg = format!("503: {} stopped being master while waiting; fail over to the new master\n", c.name());
        return web::text(StatusCode::SERVICE_UNAVAILABLE, &msg);
    }
    let Some(d) = delivery else {
        return Response::builder().status(StatusCode::NO_CONTENT).body(web::full("")).expect("valid response");
    };
    let m = &d.msg;
    let mut r = web::respond(StatusCode::OK, "text/plain; charset=utf-8", Bytes::from(m.body.clone()));
    let h = r.headers_mut();
    let mut put = |k: &str, v: &str| {
        if let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
            h.insert(k, v);
        }
    };
    put(message::header::DESTINATION, &dest.qualified());
    put("id", &m.message_id());
    put(message::header::PERSISTENT, &m.persistent.to_string());
    put(message::header::REDELIVERED, &d.redelivered.to_string());
    put(message::header::TIMESTAMP, &m.timestamp.to_string());
    for (k, v) in &m.headers {
        let reserved = ["content-type", "content-length", "transfer-encoding", "connection", "set-cookie"];
        if !reserved.contains(&k.to_ascii_lowercase().as_str()) {
            put(k, v);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn posts_cannot_set_the_brokers_headers() {
        let ok = message_headers(&params(&[("type", "queue"), ("priority", "4"), ("JMSType", "x")])).unwrap();
        assert_eq!(ok, [("JMSType".to_string(), "x".to_string()), ("priority".into(), "4".into())]);
        for reserved in [
            "content-length",
            "Content-Length",
            "receipt",
            "receipt-id",
            "message-id",
            "subscription",
            "ack",
            "transaction",
        ] {
            let e = message_headers(&params(&[(reserved, "5")])).unwrap_err();
            assert!(e.contains("the broker sets"), "{reserved}: {e}");
        }
        assert!(message_headers(&params(&[("a:b", "1")])).is_err());
        assert!(message_headers(&params(&[("a", "x\ny")])).is_err());
        assert!(message_headers(&params(&[("a", "x\0y")])).is_err());
        assert!(message_headers(&params(&[("a", &"v".repeat(MAX_HEADER))])).is_err());
        let many: BTreeMap<String, String> = (0..=MAX_HEADERS).map(|i| (format!("h{i}"), "v".into())).collect();
        assert!(message_headers(&many).unwrap_err().contains("more than"));
    }

    #[test]
    fn destination_names_are_bounded() {
        let req = |uri: &str| Request::builder().uri(uri).body(()).unwrap();
        let long = format!("/api/message/{}?type=queue", "q".repeat(crate::limits::MAX_DESTINATION_NAME + 1));
        let r = req(&long);
        assert!(destination(&r, &web::query(&r)).unwrap_err().contains("limit is 200 bytes"));
        let r = req("/api/message/a%00b?type=queue");
        assert!(destination(&r, &web::query(&r)).unwrap_err().contains("control"));
        let r = req("/api/message/?type=queue");
        assert!(destination(&r, &web::query(&r)).is_err());
        let r = req("/api/message/x?destination=queue://sub:alice:mine");
        assert!(destination(&r, &web::query(&r)).is_err());
        let r = req("/api/message/orders?type=queue");
        assert_eq!(destination(&r, &web::query(&r)).unwrap().name, "orders");
    }

    #[test]
    fn path_names_are_percent_decoded() {
        assert_eq!(percent_decode("a%20b%2Fc+d"), "a b/c+d");
        assert_eq!(percent_decode("bad%zz%4"), "bad%zz%4");
    }
}
