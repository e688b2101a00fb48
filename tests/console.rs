//! The web console (every node) and the cluster dashboard (the supervisor).
//!
//! Handler tests call `Console::handle` / `Dashboard::handle` directly, with a real broker
//! core on a temporary store and a fake supervisor: every route, auth, escaping, the REST
//! message API, forms, SSE. The last test runs a real cluster (port block 40) and drives the
//! consoles and the dashboard over HTTP.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderMap};
use hyper::{Request, Response, StatusCode};
use mqsim::broker::{Broker, Destination};
use mqsim::config::Config;
use mqsim::console::{Console, NodeView};
use mqsim::control::{Cut, Verb};
use mqsim::dashboard::{Control, Dashboard, Znode};
use mqsim::replication::master::SlaveInfo;
use mqsim::status::{ClusterStatus, NodeReport};
use mqsim::store::Store;
use mqsim::store::record::StoredMessage;
use mqsim::web::{Body, Credentials};
use serde_json::{Value, json};
use tokio::sync::watch;

use common::{TestCluster, http};

const EVIL_NAME: &str = "<script>alert('q')</script>";
const EVIL_BODY: &str = "<img src=x onerror=alert(\"b\")>&amp;";
/// One value that breaks out of element content and of either kind of quoted attribute.
const XSS: &str = "<script>alert(1)</script>\"'&";
/// [`XSS`] as an HTML page must show it (text or double-quoted attribute).
const XSS_HTML: &str = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;";

// ---------------------------------------------------------------- fixtures

struct Fx {
    _dir: tempfile::TempDir,
    config: Config,
    store: Arc<Store>,
    broker: Arc<Broker>,
    console: Console,
}

/// A console of node01 on a block-40 config, master with a real broker on a temp store.
fn fixture() -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let base = common::port_base(40);
    let path = dir.path().join("cluster.toml");
    std::fs::write(&path, common::cluster_toml(base, "")).unwrap();
    let config = Config::load(&path).unwrap();
    std::fs::create_dir_all(config.state_dir()).unwrap();
    let store = Arc::new(Store::open(&dir.path().join("store")).unwrap());
    let (_tx, acked) = watch::channel(u64::MAX);
    let lease = Arc::new(mqsim::election::lease::Lease::new(Duration::from_secs(600)));
    lease.renew();
    let mode = mqsim::config::SyncMode::parse("local_mem").unwrap();
    let writer = mqsim::store::writer::Writer::start(store.clone(), mode, acked, lease).unwrap();
    let broker = Arc::new(Broker::new(writer, store.snapshot().unwrap()));
    let console = Console::new(config.clone(), "node01");
    let fx = Fx { _dir: dir, config, store, broker, console };
    fx.set_master();
    fx
}

impl Fx {
    fn base(&self) -> u16 {
        common::port_base(40)
    }

    fn set_master(&self) {
        let report = NodeReport {
            pid: 4242,
            role: "master".into(),
            znode: Some(format!("/mqsim-test/{}/leveldb-stores/00000000000", self.base())),
            session: Some("0x1000a".into()),
            zk_connected: true,
            position: self.store.position().unwrap(),
            master: Some("0000000000".into()),
            address: Some(format!("tcp://localhost:{}", self.base() + 10)),
            serving: true,
            slaves: vec![SlaveInfo {
                node_id: "slave-b".into(),
                remote: "127.0.0.1:50001".into(),
                acked: 0,
                caught_up: true,
            }],
            ..Default::default()
        };
        self.console.update(report, Some(self.broker.clone()));
    }

    /// node01 as a slave of node02 (whose replication port is base+11).
    fn set_slave(&self) {
        let report = NodeReport {
            pid: 4242,
            role: "slave".into(),
            znode: Some(format!("/mqsim-test/{}/leveldb-stores/00000000002", self.base())),
            zk_connected: true,
            position: 1234,
            master: Some("0000000001".into()),
            address: Some(format!("tcp://localhost:{}", self.base() + 11)),
            replication: Some("attached".into()),
            ..Default::default()
        };
        self.console.update(report, None);
    }
}

fn request(
    method: &str,
    path: &str,
    auth: Option<&Credentials>,
    headers: &[(&str, &str)],
    body: &str,
) -> Request<Full<Bytes>> {
    let mut b = Request::builder().method(method).uri(path).header(header::HOST, "127.0.0.1:22621");
    if let Some(c) = auth {
        b = b.header(header::AUTHORIZATION, c.header());
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(Bytes::from(body.to_string()))).unwrap()
}

async fn read(resp: Response<Body>) -> (StatusCode, HeaderMap, String) {
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, String::from_utf8_lossy(&bytes).into_owned())
}

fn admin() -> Credentials {
    Credentials::new("admin", "admin")
}

async fn get(c: &Console, path: &str) -> (StatusCode, HeaderMap, String) {
    read(c.handle(request("GET", path, Some(&admin()), &[], "")).await).await
}

async fn post(c: &Console, path: &str, ctype: &str, body: &str) -> (StatusCode, HeaderMap, String) {
    read(c.handle(request("POST", path, Some(&admin()), &[("content-type", ctype)], body)).await).await
}

/// The form secret from a page of this console.
fn secret_of(page: &str) -> String {
    let at = page.find("name=\"secret\" value=\"").expect("a form with the secret") + 21;
    page[at..at + 32].to_string()
}

/// `page` shows [`XSS`], escaped, and nowhere raw.
fn assert_xss_escaped(what: &str, page: &str) {
    assert!(!page.contains("<script>alert(1)") && !page.contains("</script>\"'"), "{what}: raw markup:\n{page}");
    assert!(page.contains(XSS_HTML), "{what}: the value is shown, escaped:\n{page}");
}

fn assert_escaped(page: &str) {
    assert!(!page.contains(EVIL_NAME), "a raw user string reached the page:\n{page}");
    assert!(!page.contains("<img src=x"), "a raw message body reached the page:\n{page}");
}

// ---------------------------------------------------------------- console

const CONSOLE_ROUTES: [(&str, &str); 15] = [
    ("GET", "/"),
    ("GET", "/admin"),
    ("GET", "/admin/"),
    ("GET", "/admin/index.jsp"),
    ("GET", "/admin/queues.jsp"),
    ("GET", "/admin/topics.jsp"),
    ("GET", "/admin/browse.jsp?JMSDestination=q"),
    ("GET", "/admin/message.jsp?JMSDestination=q&id=ID:mqsim-1"),
    ("GET", "/admin/send.jsp"),
    ("GET", "/admin/style.css"),
    ("POST", "/admin/sendMessage.action"),
    ("POST", "/admin/purgeDestination.action"),
    ("GET", "/api/status.json"),
    ("GET", "/api/message/q?type=queue&readTimeout=0"),
    ("POST", "/api/message/q?type=queue"),
];

#[tokio::test]
async fn console_every_route_requires_auth() {
    let fx = fixture();
    for (method, path) in CONSOLE_ROUTES.iter().chain(&[("GET", "/nope")]) {
        for creds in [None, Some(Credentials::new("admin", "wrong")), Some(Credentials::new("root", "admin"))] {
            let (status, headers, body) =
                read(fx.console.handle(request(method, path, creds.as_ref(), &[], "x")).await).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} with {creds:?}");
            assert!(headers[header::WWW_AUTHENTICATE].to_str().unwrap().starts_with("Basic realm="), "{method} {path}");
            assert!(!body.contains("node01"), "nothing about the node leaks: {body}");
        }
        let (status, _, _) = read(fx.console.handle(request(method, path, Some(&admin()), &[], "")).await).await;
        assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path} with admin/admin");
    }
    // Credentials come from [console] in cluster.toml.
    let mut config = fx.config.clone();
    config.console.user = "teacher".into();
    config.console.password = "s3cret".into();
    let c = Console::new(config, "node01");
    let (status, _, _) = read(c.handle(request("GET", "/api/status.json", Some(&admin()), &[], "")).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let teacher = Credentials::new("teacher", "s3cret");
    let (status, _, _) = read(c.handle(request("GET", "/api/status.json", Some(&teacher), &[], "")).await).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn console_master_pages_show_the_node_and_its_destinations() {
    let fx = fixture();
    let q = Destination::queue("orders");
    for i in 0..3 {
        let m = StoredMessage {
            seq: 0,
            destination: "/queue/orders".into(),
            headers: vec![("color".into(), "red".into())],
            body: format!("order {i}").into_bytes(),
            persistent: true,
            timestamp: 0,
            redelivery_count: 0,
            producer: None,
        };
        fx.broker.send(&q, m).await.unwrap();
    }
    fx.set_master();
    let (status, headers, _) = get(&fx.console, "/").await;
    assert_eq!((status, headers[header::LOCATION].to_str().unwrap()), (StatusCode::SEE_OTHER, "/admin/"));

    let (status, headers, page) = get(&fx.console, "/admin/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert!(headers.contains_key("content-security-policy"));
    for want in [
        "node01 is the <b>MASTER</b>",
        &format!("test{}", fx.base()),
        &format!("/mqsim-test/{}/leveldb-stores/00000000000", fx.base()),
        "local_disk",
        "Connected slaves (1)",
        "slave-b",
        "orders",
        "http-equiv=\"refresh\"",
    ] {
        assert!(page.contains(want), "index lacks {want:?}:\n{page}");
    }
    // The slave's lag is the master's position minus the slave's acked position.
    let position = fx.store.position().unwrap();
    assert!(position > 0);
    assert!(page.contains(&format!("<td class=\"num\">{position}</td>")), "lag {position} shown:\n{page}");

    let (_, _, page) = get(&fx.console, "/admin/queues.jsp").await;
    // orders: pending 3, consumers 0, enqueued 3, dequeued 0.
    let row = page.split("data-name=\"orders\"").nth(1).expect("orders row");
    let nums: Vec<&str> =
        row.split("<td class=\"num\">").skip(1).map(|c| c.split('<').next().unwrap()).take(4).collect();
    assert_eq!(nums, ["3", "0", "3", "0"], "{row}");
    assert!(page.contains("/admin/browse.jsp?JMSDestination=orders"));
    assert!(page.contains("Purge"));

    let (_, _, page) = get(&fx.console, "/admin/browse.jsp?JMSDestination=orders").await;
    assert!(page.contains("order 0") && page.contains("order 2") && page.contains("color=red"), "{page}");
    assert!(page.contains("ID:mqsim-"));
    let id = page.split("id=ID%3Amqsim-").nth(1).unwrap().split('"').next().unwrap();
    let (status, _, page) =
        get(&fx.console, &format!("/admin/message.jsp?JMSDestination=orders&id=ID%3Amqsim-{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<pre id=\"body\">order 0</pre>"), "{page}");
    let (status, _, _) = get(&fx.console, "/admin/message.jsp?JMSDestination=orders&id=ID:mqsim-999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get(&fx.console, "/admin/browse.jsp").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, _, page) = get(&fx.console, "/admin/topics.jsp").await;
    assert!(page.contains("<h2>Topics</h2>") && !page.contains("data-name=\"orders\""), "{page}");

    let (status, headers, css) = get(&fx.console, "/admin/style.css").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/css"));
    assert!(css.contains(".badge"));

    let (status, _, json) = get(&fx.console, "/api/status.json").await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["name"], "node01");
    assert_eq!(v["brokerName"], format!("test{}", fx.base()));
    assert_eq!(v["role"], "master");
    assert_eq!(v["serving"], true);
    assert_eq!(v["sync"], "local_disk");
    assert_eq!(v["masterNode"], "node01");
    assert_eq!(v["slaves"][0]["lag"], position);
    let orders = v["destinations"].as_array().unwrap().iter().find(|d| d["name"] == "orders").unwrap();
    assert_eq!((orders["pending"].as_u64(), orders["enqueued"].as_u64()), (Some(3), Some(3)));

    // A node's console reads its position live from the store (reports lag up to 500 ms).
    let live = Console::with_store(fx.config.clone(), "node01", fx.store.clone());
    live.update(NodeReport { role: "master".into(), position: 1, ..Default::default() }, Some(fx.broker.clone()));
    assert_eq!(live.view().report.position, position);
    let v: Value = serde_json::from_str(&get(&live, "/api/status.json").await.2).unwrap();
    assert_eq!(v["position"], position);

    let (status, _, _) = get(&fx.console, "/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get(&fx.console, "/admin/sendMessage.action").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn console_rest_api_produces_and_consumes() {
    let fx = fixture();
    let c = &fx.console;
    // POST the body: ActiveMQ's `curl -d "hello" "http://admin:admin@localhost:8161/api/message/TEST?type=queue"`.
    let (status, _, text) = post(c, "/api/message/TEST?type=queue&color=blue", "text/plain", "hello world").await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "Message sent\n"));
    // The `body` parameter, form-encoded (curl -d "body=..."), and a non-persistent one.
    let (status, _, _) = post(
        c,
        "/api/message/TEST?type=queue&persistent=false",
        "application/x-www-form-urlencoded",
        "body=second+one",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let stats = fx.broker.stats().into_iter().find(|d| d.name == "TEST").unwrap();
    assert_eq!(stats.pending, 2);

    let (status, headers, body) = get(c, "/api/message/TEST?type=queue&readTimeout=2000").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "hello world"));
    assert_eq!(headers["destination"], "queue://TEST");
    assert!(headers["id"].to_str().unwrap().starts_with("ID:mqsim-"));
    assert_eq!(headers["persistent"], "true");
    assert_eq!(headers["color"], "blue");
    let (status, headers, body) = get(c, "/api/message?destination=queue://TEST&readTimeout=2000").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "second one"));
    assert_eq!(headers["persistent"], "false");
    // Consumed means acked: nothing pending, nothing in flight.
    let stats = fx.broker.stats().into_iter().find(|d| d.name == "TEST").unwrap();
    assert_eq!((stats.pending, stats.inflight, stats.dequeued), (0, 0, 2));
    // Empty: 204 after readTimeout.
    let started = std::time::Instant::now();
    let (status, _, body) = get(c, "/api/message/TEST?type=queue&readTimeout=300").await;
    assert_eq!((status, body.as_str()), (StatusCode::NO_CONTENT, ""));
    assert!(started.elapsed() >= Duration::from_millis(250));

    // A GET waits for a message sent meanwhile; names are percent-decoded.
    let waiter = {
        let c = c.clone();
        tokio::spawn(async move { get(&c, "/api/message/a%20b?type=queue&readTimeout=5000").await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _, _) = post(c, "/api/message/a%20b?type=queue", "text/plain", "late").await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, body) = waiter.await.unwrap();
    assert_eq!((status, body.as_str()), (StatusCode::OK, "late"));
    assert_eq!(headers["destination"], "queue://a b");

    // Without `type`, ActiveMQ means a topic: a GET subscribes and gets the next publication.
    let sub = {
        let c = c.clone();
        tokio::spawn(async move { get(&c, "/api/message/news?readTimeout=5000").await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _, _) = post(c, "/api/message/news", "text/plain", "extra!").await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, body) = sub.await.unwrap();
    assert_eq!(
        (status, body.as_str(), headers["destination"].to_str().unwrap()),
        (StatusCode::OK, "extra!", "topic://news")
    );

    // A GET still waiting when the node steps down answers 503 (the client fails over).
    let waiting = {
        let c = c.clone();
        tokio::spawn(async move { get(&c, "/api/message/idle?type=queue&readTimeout=10000").await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    fx.set_slave();
    let (status, _, text) = tokio::time::timeout(Duration::from_secs(3), waiting).await.unwrap().unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(text.contains("stopped being master"), "{text}");
    fx.set_master();

    // Bad input.
    let (status, _, _) = get(c, "/api/message/x?type=mailbox").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = get(c, "/api/message/?type=queue").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) =
        read(c.handle(request("DELETE", "/api/message/x?type=queue", Some(&admin()), &[], "")).await).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn console_escapes_every_user_string() {
    let fx = fixture();
    let c = &fx.console;
    let path =
        format!("/api/message/{}?type=queue&h=%3Cb%3Ebold%3C%2Fb%3E", mqsim::web::enc(EVIL_NAME).replace('+', "%20"));
    let (status, _, _) = post(c, &path, "text/plain", EVIL_BODY).await;
    assert_eq!(status, StatusCode::OK);
    assert!(fx.broker.stats().iter().any(|d| d.name == EVIL_NAME));
    fx.set_master();
    let enc_name = mqsim::web::enc(EVIL_NAME);
    let browse = get(c, &format!("/admin/browse.jsp?JMSDestination={enc_name}")).await.2;
    // maud escapes & < > " (every attribute is double-quoted, so ' needs no escape).
    assert!(browse.contains("&lt;script&gt;alert('q')&lt;/script&gt;"), "{browse}");
    assert!(browse.contains("&lt;img src=x onerror=alert(&quot;b&quot;)&gt;&amp;amp;"), "{browse}");
    assert!(browse.contains("h=&lt;b&gt;bold&lt;/b&gt;"), "{browse}");
    let id = browse.split("id=ID%3Amqsim-").nth(1).unwrap().split('"').next().unwrap().to_string();
    let pages = [
        get(c, "/admin/").await.2,
        get(c, "/admin/queues.jsp").await.2,
        browse,
        get(c, &format!("/admin/message.jsp?JMSDestination={enc_name}&id=ID%3Amqsim-{id}")).await.2,
        get(c, &format!("/admin/send.jsp?JMSDestination={enc_name}")).await.2,
        // Reflected query strings too.
        get(c, &format!("/admin/queues.jsp?sent=1&to={enc_name}")).await.2,
        get(c, &format!("/admin/message.jsp?JMSDestination={enc_name}&id={enc_name}")).await.2,
    ];
    for page in &pages {
        assert_escaped(page);
        assert!(page.contains("&lt;script&gt;"), "the name is shown, escaped:\n{page}");
    }
    assert!(pages[5].contains("Sent 1 message(s) to <b>&lt;script&gt;"), "{}", pages[5]);
    // The JSON API is JSON (not HTML): the string is there, as a JSON string.
    let v: Value = serde_json::from_str(&get(c, "/api/status.json").await.2).unwrap();
    assert!(v["destinations"].as_array().unwrap().iter().any(|d| d["name"] == EVIL_NAME));
}

/// Issue 14: an attacker's queue name, header and body, and hostile names from the config
/// and from ZooKeeper, come out escaped on every console page that shows them.
#[tokio::test]
async fn console_pages_escape_an_attackers_strings_everywhere() {
    let fx = fixture();
    let mut config = fx.config.clone();
    config.cluster.broker_name = XSS.into();
    let c = &Console::new(config, "node01");
    let report = NodeReport {
        pid: 4242,
        role: "master".into(),
        znode: Some(XSS.into()),
        session: Some(XSS.into()),
        zk_connected: true,
        master: Some(XSS.into()),
        address: Some(XSS.into()),
        serving: true,
        slaves: vec![SlaveInfo { node_id: XSS.into(), remote: XSS.into(), acked: 0, caught_up: true }],
        ..Default::default()
    };
    c.update(report.clone(), Some(fx.broker.clone()));
    let enc_xss = mqsim::web::enc(XSS);
    let path = format!("/api/message/{}?type=queue&h={enc_xss}", enc_xss.replace('+', "%20"));
    let (status, _, text) = post(c, &path, "text/plain", XSS).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(fx.broker.stats().iter().any(|d| d.name == XSS));
    let browse = get(c, &format!("/admin/browse.jsp?JMSDestination={enc_xss}")).await.2;
    assert!(browse.contains(&format!("h={XSS_HTML}")), "the header, escaped:\n{browse}");
    assert!(browse.contains(&format!("<td class=\"body\">{XSS_HTML}</td>")), "the body, escaped:\n{browse}");
    assert!(browse.contains(&format!("name=\"JMSDestination\" value=\"{XSS_HTML}\"")), "{browse}");
    let id = browse.split("id=ID%3Amqsim-").nth(1).unwrap().split('"').next().unwrap().to_string();
    let message = get(c, &format!("/admin/message.jsp?JMSDestination={enc_xss}&id=ID%3Amqsim-{id}")).await.2;
    assert!(message.contains(&format!("<pre id=\"body\">{XSS_HTML}</pre>")), "{message}");
    let index = get(c, "/admin/").await.2;
    assert!(index.contains(&format!("<tr data-name=\"{XSS_HTML}\">")), "{index}");
    assert!(index.contains(&format!("<code id=\"znode\">{XSS_HTML}</code>")), "{index}");
    let pages = [
        ("index", index),
        ("queues", get(c, "/admin/queues.jsp").await.2),
        ("browse", browse),
        ("message", message),
        ("missing message", get(c, &format!("/admin/message.jsp?JMSDestination={enc_xss}&id={enc_xss}")).await.2),
        ("send form", get(c, &format!("/admin/send.jsp?JMSDestination={enc_xss}")).await.2),
        ("sent flash", get(c, &format!("/admin/queues.jsp?sent=1&to={enc_xss}")).await.2),
        ("purged flash", get(c, &format!("/admin/queues.jsp?purged=1&to={enc_xss}")).await.2),
    ];
    for (what, page) in &pages {
        assert_xss_escaped(what, page);
    }
    // A slave shows what it knows of the master: the elected id, the addresses.
    c.update(NodeReport { role: "slave".into(), replication: Some(XSS.into()), ..report }, None);
    let slave = get(c, "/admin/").await.2;
    assert!(slave.contains(&format!("the member elected as <b>{XSS_HTML}</b>")), "{slave}");
    assert_xss_escaped("slave home", &slave);
    assert_xss_escaped("slave queues", &get(c, "/admin/queues.jsp").await.2);
}

#[tokio::test]
async fn console_send_and_purge_forms_need_the_secret_and_purge_is_journaled() {
    let fx = fixture();
    let c = &fx.console;
    let form_page = get(c, "/admin/send.jsp?JMSDestination=jobs").await.2;
    assert!(form_page.contains("action=\"/admin/sendMessage.action\"") && form_page.contains("value=\"jobs\""));
    let secret = secret_of(&form_page);
    let form = format!(
        "secret={secret}&JMSDestination=jobs&JMSDestinationType=queue&JMSPersistent=true&JMSMessageCount=4&JMSText=work"
    );
    let ctype = "application/x-www-form-urlencoded";
    let (status, headers, _) = post(c, "/admin/sendMessage.action", ctype, &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/admin/queues.jsp?sent=4&to=jobs");
    assert_eq!(fx.broker.browse("jobs", 10, None).len(), 4);

    // No secret, a wrong one, or a cross-site POST: refused.
    let (status, _, _) = post(c, "/admin/sendMessage.action", ctype, "JMSDestination=jobs&JMSText=x").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = post(c, "/admin/purgeDestination.action", ctype, "secret=0000&JMSDestination=jobs").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let cross = request(
        "POST",
        "/admin/purgeDestination.action",
        Some(&admin()),
        &[("content-type", ctype), ("origin", "http://evil.example")],
        &format!("secret={secret}&JMSDestination=jobs"),
    );
    assert_eq!(read(c.handle(cross).await).await.0, StatusCode::FORBIDDEN);
    let cross_api =
        request("POST", "/api/message/jobs?type=queue", Some(&admin()), &[("sec-fetch-site", "cross-site")], "x");
    assert_eq!(read(c.handle(cross_api).await).await.0, StatusCode::FORBIDDEN);
    assert_eq!(fx.broker.browse("jobs", 10, None).len(), 4);
    // Bad values.
    let (status, _, page) =
        post(c, "/admin/sendMessage.action", ctype, &format!("secret={secret}&JMSDestination=&JMSText=x")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    let (status, _, _) = post(
        c,
        "/admin/sendMessage.action",
        ctype,
        &format!("secret={secret}&JMSDestination=j&JMSMessageCount=100001"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Purge: the queue empties and the dequeues go into the journal (so slaves follow).
    let before = fx.store.position().unwrap();
    let (status, headers, _) =
        post(c, "/admin/purgeDestination.action", ctype, &format!("secret={secret}&JMSDestination=jobs")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/admin/queues.jsp?purged=4&to=jobs");
    assert!(fx.broker.browse("jobs", 10, None).is_empty());
    assert!(fx.store.position().unwrap() > before, "purge wrote Dequeue records");
    let snap = fx.store.snapshot().unwrap();
    assert!(snap.stores.get("jobs").is_none_or(|m| m.is_empty()), "a master built from this store sees no message");
    let page = get(c, "/admin/queues.jsp?purged=4&to=jobs").await.2;
    assert!(page.contains("Purged 4 message(s) from <b>jobs</b>"), "{page}");

    // A topic through the form.
    let form = format!("secret={secret}&JMSDestination=alerts&JMSDestinationType=topic&JMSText=hi");
    let (status, headers, _) = post(c, "/admin/sendMessage.action", ctype, &form).await;
    assert_eq!(
        (status, headers[header::LOCATION].to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/admin/topics.jsp?sent=1&to=alerts")
    );
    assert!(get(c, "/admin/topics.jsp").await.2.contains("data-name=\"alerts\""));
}

#[tokio::test]
async fn console_on_a_slave_says_so_and_links_to_the_master() {
    let fx = fixture();
    fx.set_slave();
    let c = &fx.console;
    let (status, _, page) = get(c, "/admin/").await;
    assert_eq!(status, StatusCode::OK);
    let master_console = fx.base() + 20; // node02's console
    for want in [
        "node01 is a <b>SLAVE</b> of <b id=\"master-name\">node02</b>",
        "at position <b id=\"position\">1234</b>",
        "replication: <b>attached</b>",
        "Real ActiveMQ serves <b>nothing</b> on a slave",
        &format!("href=\"http://127.0.0.1:{master_console}/admin/\""),
    ] {
        assert!(page.contains(want), "slave page lacks {want:?}:\n{page}");
    }
    for path in ["/admin/queues.jsp", "/admin/topics.jsp", "/admin/browse.jsp?JMSDestination=q", "/admin/send.jsp"] {
        let (status, _, page) = get(c, path).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(page.contains("SLAVE") && page.contains("node02"), "{path}: {page}");
    }
    let (status, _, text) = post(c, "/api/message/q?type=queue", "text/plain", "x").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(text.contains("slave of node02") && text.contains("serves nothing on a slave"), "{text}");
    let v: Value = serde_json::from_str(&get(c, "/api/status.json").await.2).unwrap();
    assert_eq!(
        (v["role"].as_str(), v["masterNode"].as_str(), v["position"].as_i64()),
        (Some("slave"), Some("node02"), Some(1234))
    );
    assert!(v["destinations"].is_null());

    // Electing, and before the first report.
    fx.console.update(NodeReport { role: "electing".into(), position: 7, ..Default::default() }, None);
    assert!(get(c, "/admin/").await.2.contains("is <b>ELECTING</b>"));
    let fresh = Console::new(fx.config.clone(), "node03");
    assert_eq!(fresh.view().role(), "starting");
    assert!(get(&fresh, "/admin/").await.2.contains("starting"));

    // A master that waits for its slaves: pages show, writes wait.
    let mut view: NodeView = fx.console.view();
    view.report.role = "master".into();
    view.report.serving = false;
    fx.console.update(view.report, Some(fx.broker.clone()));
    assert!(get(c, "/admin/").await.2.contains("waits for 1 slave(s) to catch up"));
    assert_eq!(post(c, "/api/message/q?type=queue", "text/plain", "x").await.0, StatusCode::SERVICE_UNAVAILABLE);
}

// ---------------------------------------------------------------- dashboard

struct Fake {
    status: Mutex<ClusterStatus>,
    acts: Mutex<Vec<(Verb, String)>>,
    cuts: Mutex<Vec<(String, Option<Cut>)>>,
}

impl Control for Fake {
    fn status(&self) -> BoxFuture<'_, ClusterStatus> {
        let s = self.status.lock().unwrap().clone();
        Box::pin(async move { s })
    }

    fn act(self: Arc<Self>, verb: Verb, target: String) -> BoxFuture<'static, mqsim::Result<Vec<String>>> {
        Box::pin(async move {
            if target == "nobody" {
                return Err(mqsim::Error::Target(format!("unknown target `{target}`")));
            }
            self.acts.lock().unwrap().push((verb, target.clone()));
            Ok(vec![format!("{target}: {verb:?} done <ok>")])
        })
    }

    fn partition(self: Arc<Self>, target: String, cut: Option<Cut>) -> BoxFuture<'static, mqsim::Result<Vec<String>>> {
        Box::pin(async move {
            self.cuts.lock().unwrap().push((target.clone(), cut));
            Ok(vec![format!("{target}: {cut:?}")])
        })
    }
}

fn node_json(name: &str, state: &str, role: Option<&str>, console: u16, base: u16, i: u16) -> Value {
    json!({
        "name": name, "state": state, "role": role, "pid": if state == "down" { Value::Null } else { json!(1000 + i) },
        "ports": { "openwire": base + 13 + i, "stomp": base + 16 + i, "console": console, "replication": base + 10 + i },
        "position": 77, "znode": format!("/z/leveldb-stores/0000000000{i}"), "session": "0x1",
        "master": "0000000000", "address": "tcp://localhost:1", "serving": role == Some("master"),
        "replication": if role == Some("slave") { json!("attached") } else { Value::Null },
        "slaves": if role == Some("master") { json!([{"node_id": "n2", "remote": "r", "acked": 70, "caught_up": true}]) } else { json!([]) },
        "log": "",
    })
}

/// A five-node status covering every broker state, and three ZooKeeper states.
fn fake_status(state_dir: &str, master_console: u16) -> ClusterStatus {
    let base = common::port_base(40);
    serde_json::from_value(json!({
        "broker_name": format!("test{base}"), "zk_path": "/z/leveldb-stores", "master": "node01",
        "failover_url": "failover:(tcp://127.0.0.1:1)?randomize=false", "supervisor_pid": 1, "state_dir": state_dir,
        "nodes": [
            node_json("node01", "running", Some("master"), master_console, base, 0),
            node_json("node02", "running", Some("slave"), base + 20, base, 1),
            node_json("node03", "paused", Some("slave"), base + 21, base, 2),
            node_json("node04", "running", Some("electing"), 1, base, 3),
            node_json("node05", "down", None, 2, base, 4),
        ],
        "zookeeper": [
            {"name": "zk01", "state": "running", "mode": "leader", "pid": 1, "client_port": base, "log": ""},
            {"name": "zk02", "state": "running", "mode": "follower", "pid": 2, "client_port": base + 1, "log": ""},
            {"name": "zk03", "state": "down", "mode": null, "pid": null, "client_port": base + 2, "log": ""},
        ],
    }))
    .expect("a ClusterStatus")
}

struct Dx {
    fx: Fx,
    fake: Arc<Fake>,
    dash: Dashboard,
    events: mqsim::events::EventLog,
}

/// A dashboard over a fake supervisor whose master console is the fixture's real console,
/// served on an ephemeral port (the dashboard reads its counters over HTTP).
async fn dashboard() -> Dx {
    let fx = fixture();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(fx.console.clone().serve(listener));
    let fake = Arc::new(Fake {
        status: Mutex::new(fake_status(&fx.config.state_dir().display().to_string(), port)),
        acts: Mutex::new(Vec::new()),
        cuts: Mutex::new(Vec::new()),
    });
    let znodes = vec![
        Znode {
            path: "/z/leveldb-stores/00000000000".into(),
            data: r#"{"id":"test","container":null,"address":"tcp://localhost:1","position":77,"weight":1,"elected":"0000000000"}"#.into(),
            ephemeral_owner: "0x1".into(),
        },
        Znode { path: "/z/leveldb-stores/00000000001".into(), data: "</pre><script>x</script>".into(), ephemeral_owner: "0x2".into() },
    ];
    let dash = Dashboard::with_znodes(fx.config.clone(), fake.clone(), znodes);
    let events = mqsim::events::EventLog::new(&fx.config.state_dir(), "supervisor");
    Dx { fx, fake, dash, events }
}

async fn dget(d: &Dashboard, path: &str) -> (StatusCode, HeaderMap, String) {
    read(d.handle(request("GET", path, Some(&admin()), &[], "")).await).await
}

#[tokio::test]
async fn dashboard_every_route_requires_auth() {
    let dx = dashboard().await;
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/api/status"),
        ("GET", "/events"),
        ("POST", "/action"),
        ("GET", "/assets/dashboard.js"),
        ("GET", "/assets/style.css"),
        ("GET", "/diagram/topology.svg"),
        ("GET", "/diagram/last-failover.svg"),
        ("GET", "/nope"),
    ] {
        for creds in [None, Some(Credentials::new("admin", "nope"))] {
            let req = request(method, path, creds.as_ref(), &[], "verb=kill&target=node01");
            let (status, headers, _) = read(dx.dash.handle(req).await).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
            assert!(headers.contains_key(header::WWW_AUTHENTICATE));
        }
    }
    assert!(dx.fake.acts.lock().unwrap().is_empty(), "nothing was done without auth");
}

#[tokio::test]
async fn dashboard_page_shows_servers_brokers_znodes_rate_and_timeline() {
    let dx = dashboard().await;
    let d = &dx.dash;
    // Some traffic on the master, and a failover on the timeline.
    for i in 0..5 {
        let (status, _, _) = post(&dx.fx.console, "/api/message/rate?type=queue", "text/plain", &format!("m{i}")).await;
        assert_eq!(status, StatusCode::OK);
    }
    dx.fx.set_master();
    let node = |n: &str| mqsim::events::EventLog::new(&dx.fx.config.state_dir(), n);
    node("node01").emit("promoted", "node01 is master");
    node("node01").emit("serving", "node01 accepts clients");
    dx.events.emit("killed", "node01 (pid 1) killed (SIGKILL)");
    std::thread::sleep(Duration::from_millis(30));
    node("node02").emit("promoted", "node02 is master");
    node("node02").emit("serving", "node02 accepts clients <b>now</b>");

    let (status, headers, page) = dget(d, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    for want in [
        "Master: <b id=\"master\">node01</b>",
        "data-node=\"node01\" data-state=\"master\"",
        "data-node=\"node02\" data-state=\"slave\"",
        "data-node=\"node03\" data-state=\"paused\"",
        "data-node=\"node04\" data-state=\"electing\"",
        "data-node=\"node05\" data-state=\"down\"",
        "data-zk=\"zk01\" data-state=\"leader\"",
        "data-zk=\"zk02\" data-state=\"follower\"",
        "data-zk=\"zk03\" data-state=\"down\"",
        // Buttons post the CLI's verbs; each row offers what applies.
        "name=\"verb\" value=\"kill\"><input type=\"hidden\" name=\"target\" value=\"node01\"><button type=\"submit\" class=\"danger\" data-verb=\"kill\" data-target=\"node01\" title=\"mqsim kill node01\">",
        "data-verb=\"resume\" data-target=\"node03\" title=\"mqsim resume node03\">",
        "data-verb=\"start\" data-target=\"node05\" title=\"mqsim start node05\">",
        // The znodes as zkCli shows them, escaped.
        "[zk] get /z/leveldb-stores/00000000000\n{&quot;id&quot;:&quot;test&quot;",
        "&quot;elected&quot;:&quot;0000000000&quot;}",
        "&lt;/pre&gt;&lt;script&gt;x&lt;/script&gt;",
        // The rate chart, with the master's counters read from its console.
        "id=\"chart\"",
        "node01: 5 enqueued, 0 dequeued, 5 pending in 1 destination(s)",
        // The timeline, newest first, with the failover time.
        "node02 accepts clients &lt;b&gt;now&lt;/b&gt;",
        "failover ",
        "(node01 killed → node02 serving)",
        "<script src=\"/assets/dashboard.js\"></script>",
    ] {
        assert!(page.contains(want), "dashboard lacks {want:?}:\n{page}");
    }
    assert!(!page.contains("<script>x</script>") && !page.contains("<b>now</b>"), "unescaped data:\n{page}");
    assert!(
        !page.contains("data-verb=\"start\" data-target=\"node01\" title=\"mqsim start node01\">"),
        "start is disabled on a running node"
    );
    assert!(page.contains("data-verb=\"start\" data-target=\"node01\" title=\"mqsim start node01\" disabled>"));
    let newest = page.find("node02 accepts clients").unwrap();
    let older = page.find("node01 accepts clients").unwrap();
    assert!(newest < older, "newest first");

    // The script's poll: the same data as JSON, and the live HTML.
    let (status, _, json) = dget(d, "/api/status").await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["status"]["master"], "node01");
    assert_eq!(v["master_stats"]["enqueued"], 5);
    assert_eq!(v["master_stats"]["node"], "node01");
    assert_eq!(v["znodes"][0]["path"], "/z/leveldb-stores/00000000000");
    assert!(v["znodes_error"].is_null());
    assert!(v["html"].as_str().unwrap().contains("data-node=\"node02\" data-state=\"slave\""));
    assert!(v["html_side"].as_str().unwrap().contains("data-zk=\"zk01\" data-state=\"leader\""));

    let (status, headers, js) = dget(d, "/assets/dashboard.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/javascript"));
    assert!(js.contains("EventSource") && js.contains("/api/status") && js.contains("textContent"));
    assert_eq!(dget(d, "/assets/style.css").await.0, StatusCode::OK);
    assert_eq!(dget(d, "/nope").await.0, StatusCode::NOT_FOUND);
    assert_eq!(dget(d, "/action").await.0, StatusCode::METHOD_NOT_ALLOWED);

    // No master: the page says so and has no counters.
    {
        let mut st = dx.fake.status.lock().unwrap();
        st.master = None;
    }
    let page = dget(d, "/").await.2;
    assert!(page.contains("Master: <b id=\"master\">none</b>") && page.contains("no master console"), "{page}");
}

/// Issue 14: hostile broker, node and ZooKeeper server names, event messages and znode data
/// come out escaped on the dashboard's page and in the live HTML its script inserts.
#[tokio::test]
async fn dashboard_escapes_hostile_names_everywhere() {
    let dx = dashboard().await;
    let mut config = dx.fx.config.clone();
    config.cluster.broker_name = XSS.into();
    config.nodes[2].name = XSS.into();
    {
        let mut st = dx.fake.status.lock().unwrap();
        st.nodes[2].name = XSS.into();
        st.nodes[1].replication = Some(XSS.into());
        st.nodes[1].znode = Some(XSS.into());
        st.zookeeper[1].name = XSS.into();
        st.zk_path = XSS.into();
    }
    let znodes = vec![Znode { path: XSS.into(), data: XSS.into(), ephemeral_owner: XSS.into() }];
    let d = &Dashboard::with_znodes(config, dx.fake.clone(), znodes);
    dx.events.emit("killed", XSS);
    let page = dget(d, "/").await.2;
    for want in [
        format!("<title>mqsim dashboard · {XSS_HTML}</title>"),
        format!("data-node=\"{XSS_HTML}\" data-state=\"paused\""),
        format!("data-verb=\"resume\" data-target=\"{XSS_HTML}\" title=\"mqsim resume {XSS_HTML}\">"),
        format!("data-zk=\"{XSS_HTML}\" data-state=\"follower\""),
        format!("<code title=\"{XSS_HTML}\">"),
        format!("[zk] get {XSS_HTML}\n{XSS_HTML}</pre>"),
        format!(">{XSS_HTML} console</a>"),
    ] {
        assert!(page.contains(&want), "dashboard lacks {want:?}:\n{page}");
    }
    assert_xss_escaped("dashboard", &page);
    let v: Value = serde_json::from_str(&dget(d, "/api/status").await.2).unwrap();
    for k in ["html", "html_side"] {
        assert_xss_escaped(k, v[k].as_str().unwrap());
    }
    let topology = v["html_topology"].as_str().unwrap();
    assert!(!topology.contains("<script>alert(1)"), "the topology SVG escapes its names:\n{topology}");
}

#[tokio::test]
async fn dashboard_buttons_do_what_the_cli_does() {
    let dx = dashboard().await;
    let d = &dx.dash;
    let form = "application/x-www-form-urlencoded";
    // The script posts with Accept: application/json.
    let req = request(
        "POST",
        "/action",
        Some(&admin()),
        &[("content-type", form), ("accept", "application/json")],
        "verb=kill&target=node01",
    );
    let (status, _, body) = read(d.handle(req).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["lines"][0], "node01: Kill done <ok>");
    // A plain form post (no JavaScript) redirects back with the result, shown escaped.
    for verb in ["stop", "start", "pause", "resume", "restart"] {
        let req =
            request("POST", "/action", Some(&admin()), &[("content-type", form)], &format!("verb={verb}&target=zk02"));
        let (status, headers, _) = read(d.handle(req).await).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let location = headers[header::LOCATION].to_str().unwrap().to_string();
        assert!(location.starts_with("/?said=zk02"), "{location}");
        if verb == "stop" {
            let page = dget(d, &location).await.2;
            assert!(page.contains("zk02: Stop done &lt;ok&gt;"), "{page}");
        }
    }
    let acts = dx.fake.acts.lock().unwrap().clone();
    assert_eq!(
        acts,
        [
            (Verb::Kill, "node01".to_string()),
            (Verb::Stop, "zk02".into()),
            (Verb::Start, "zk02".into()),
            (Verb::Pause, "zk02".into()),
            (Verb::Resume, "zk02".into()),
            (Verb::Restart, "zk02".into()),
        ]
    );
    // Errors: an unknown verb or target, no target, and a cross-site post.
    for body in ["verb=explode&target=node01", "verb=kill&target=nobody", "verb=kill"] {
        let req =
            request("POST", "/action", Some(&admin()), &[("content-type", form), ("accept", "application/json")], body);
        let (status, _, text) = read(d.handle(req).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["ok"], false);
    }
    let req = request(
        "POST",
        "/action",
        Some(&admin()),
        &[("content-type", form), ("origin", "http://evil.example")],
        "verb=kill&target=node01",
    );
    assert_eq!(read(d.handle(req).await).await.0, StatusCode::FORBIDDEN);
    assert_eq!(dx.fake.acts.lock().unwrap().len(), 6);
}

#[tokio::test]
async fn dashboard_draws_the_topology_and_the_last_failover_as_svg() {
    let dx = dashboard().await;
    let d = &dx.dash;
    let (status, headers, svg) = dget(d, "/diagram/topology.svg").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/svg+xml; charset=utf-8");
    let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    assert_eq!(doc.root_element().attribute("data-master"), Some("node01"));
    // Before any failover there is no sequence diagram, and the page says how to get one.
    assert_eq!(dget(d, "/diagram/last-failover.svg").await.0, StatusCode::NOT_FOUND);
    let page = dget(d, "/").await.2;
    assert!(page.contains("<div id=\"topology\" class=\"diagram\"><svg"), "{page}");
    assert!(page.contains("No failover in the timeline yet"));
    for button in ["partition-zk", "partition-peers", "heal", "load-start", "load-stop"] {
        assert!(page.contains(&format!("id=\"{button}\"")), "no {button} button");
    }
    // A failover on the timeline: killed → … → node02 serving.
    let node = |n: &str| mqsim::events::EventLog::new(&dx.fx.config.state_dir(), n);
    node("node01").emit("serving", "node01 accepts clients");
    dx.events.emit("killed", "node01 (pid 1) killed (SIGKILL)");
    dx.events.emit("znode-deleted", "znode /z/leveldb-stores/00000000000 (node01) deleted: session expired");
    node("node02").emit("elected", "node02 was elected master");
    node("node02").emit("serving", "node02 accepts clients <b>");
    let (status, _, svg) = dget(d, "/diagram/last-failover.svg").await;
    assert_eq!(status, StatusCode::OK);
    let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    assert_eq!(doc.root_element().attribute("data-new-master"), Some("node02"));
    let text: String = doc.descendants().filter_map(|n| n.text()).collect::<Vec<_>>().join(" ");
    assert!(text.contains("New master: node02") && text.contains("elected master"), "{text}");
    assert!(dget(d, "/").await.2.contains("data-new-master=\"node02\""));
}

#[tokio::test]
async fn dashboard_lesson_buttons_partition_heal_and_refuse_a_second_load() {
    let dx = dashboard().await;
    // The demo load connects to the config's STOMP ports: those of a block where no broker
    // runs (106), not this file's real cluster (block 40), so its clients only retry.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cluster.toml"), common::cluster_toml(common::port_base(106), "")).unwrap();
    let config = Config::load(&dir.path().join("cluster.toml")).unwrap();
    std::fs::create_dir_all(config.state_dir()).unwrap();
    let dash = Dashboard::with_znodes(config, dx.fake.clone(), Vec::new());
    let d = &dash;
    let post = |body: &'static str| {
        request(
            "POST",
            "/action",
            Some(&admin()),
            &[("content-type", "application/x-www-form-urlencoded"), ("accept", "application/json")],
            body,
        )
    };
    for body in
        ["verb=partition&target=master&from=zk", "verb=partition&target=master&from=peers", "verb=heal&target=nodes"]
    {
        let (status, _, text) = read(d.handle(post(body)).await).await;
        assert_eq!(status, StatusCode::OK, "{body}: {text}");
    }
    assert_eq!(
        dx.fake.cuts.lock().unwrap().clone(),
        [("master".to_string(), Some(Cut::Zk)), ("master".into(), Some(Cut::Peers)), ("nodes".into(), None)]
    );
    for body in ["verb=partition&target=master&from=moon", "verb=partition&from=zk", "verb=load-stop&target=load"] {
        let (status, _, text) = read(d.handle(post(body)).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
    }
    // One load at a time (its clients find no broker here and keep retrying until stopped).
    let (status, _, text) = read(d.handle(post("verb=load-start&target=load")).await).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let (_, _, json) = dget(d, "/api/status").await;
    assert_eq!(serde_json::from_str::<Value>(&json).unwrap()["load"]["running"], true);
    let (status, _, text) = read(d.handle(post("verb=load-start&target=load")).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("already running"), "{text}");
    let (status, _, text) = read(d.handle(post("verb=load-stop&target=load")).await).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("load stopped"), "{text}");
    let (_, _, json) = dget(d, "/api/status").await;
    assert_eq!(serde_json::from_str::<Value>(&json).unwrap()["load"], Value::Null);
}

/// Reads SSE data lines from a streaming body until `pred` holds for the collected text.
async fn sse_until(body: &mut Body, pred: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !pred(&text) {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .unwrap_or_else(|_| panic!("SSE timed out; got:\n{text}"));
        let frame = frame.expect("stream open").unwrap();
        if let Ok(data) = frame.into_data() {
            text += &String::from_utf8_lossy(&data);
        }
    }
    text
}

#[tokio::test]
async fn dashboard_events_stream_the_timeline_with_failover_times() {
    let dx = dashboard().await;
    let node = |n: &str| mqsim::events::EventLog::new(&dx.fx.config.state_dir(), n);
    node("node01").emit("serving", "node01 accepts clients");
    let resp = dx.dash.handle(request("GET", "/events", Some(&admin()), &[], "")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = resp.into_body();
    let backlog = sse_until(&mut body, |t| t.contains("node01 accepts clients")).await;
    assert!(backlog.starts_with("retry: 1000\n\n"), "{backlog}");
    // New events arrive as they are written, annotated.
    dx.events.emit("killed", "node01 (pid 1) killed (SIGKILL)");
    node("node02").emit("serving", "node02 accepts clients");
    let live = sse_until(&mut body, |t| t.contains("node02 accepts clients")).await;
    let last = live.lines().rev().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let e: Value = serde_json::from_str(last).unwrap();
    assert_eq!(e["kind"], "serving");
    assert_eq!(e["source"], "node02");
    assert!(e["failover_ms"].is_u64(), "{e}");
    assert!(e["note"].as_str().unwrap().contains("node01 killed → node02 serving"), "{e}");
    let id: u64 = live.lines().rev().find_map(|l| l.strip_prefix("id: ")).unwrap().parse().unwrap();

    // Resuming (the page's `from`, or the browser's Last-Event-ID) sends only what is newer.
    node("node03").emit("slave", "node03 is slave of node02");
    for req in [
        request("GET", &format!("/events?from={id}"), Some(&admin()), &[], ""),
        request("GET", "/events", Some(&admin()), &[("last-event-id", &id.to_string())], ""),
    ] {
        let mut body = dx.dash.handle(req).await.into_body();
        let text = sse_until(&mut body, |t| t.contains("node03 is slave")).await;
        assert!(!text.contains("accepts clients"), "{text}");
    }
}

// ---------------------------------------------------------------- a real cluster

#[test]
fn consoles_and_dashboard_on_a_real_cluster() {
    let mut c = TestCluster::new(40);
    let out = c.up();
    assert!(out.contains(&format!("Dashboard: http://127.0.0.1:{}/", c.dashboard_port())), "{out}");
    let st = c.wait_for("settled roles, slaves attached", Duration::from_secs(20), |st| {
        let nodes = st["nodes"].as_array().unwrap();
        nodes.iter().all(|n| {
            n["role"] == "master" && n["slaves"].as_array().unwrap().len() == 2 || n["replication"] == "attached"
        })
    });
    let master = st["master"].as_str().unwrap().to_string();
    let auth = Some(("admin", "admin"));

    // Every node serves its console, whatever its role; none without auth.
    for n in ["node01", "node02", "node03"] {
        let port = c.console_port(n);
        let r = http(port, "GET", "/admin/", None, &[], b"");
        assert_eq!(r.status, 401, "{n}");
        let r = http(port, "GET", "/admin/", auth, &[], b"");
        assert_eq!(r.status, 200, "{n}: {}", r.body);
        let v: Value = serde_json::from_str(&http(port, "GET", "/api/status.json", auth, &[], b"").body).unwrap();
        if n == master {
            assert!(r.body.contains(&format!("{n} is the <b>MASTER</b>")), "{}", r.body);
            assert_eq!(v["role"], "master");
            assert!(v["destinations"].is_array());
        } else {
            assert!(
                r.body.contains(&format!("{n} is a <b>SLAVE</b> of <b id=\"master-name\">{master}</b>")),
                "{}",
                r.body
            );
            assert!(r.body.contains(&format!("http://127.0.0.1:{}/admin/", c.console_port(&master))), "{}", r.body);
            assert_eq!((v["role"].as_str(), v["masterNode"].as_str()), (Some("slave"), Some(master.as_str())));
            assert_eq!(v["replication"], "attached");
            assert_eq!(http(port, "POST", "/api/message/q?type=queue", auth, &[], b"x").status, 503);
        }
    }

    // REST on the master: produce five, consume one; the slaves show up with their lag.
    let mp = c.console_port(&master);
    for i in 0..5 {
        let r = http(
            mp,
            "POST",
            "/api/message/e2e?type=queue",
            auth,
            &[("Content-Type", "text/plain")],
            format!("m{i}").as_bytes(),
        );
        assert_eq!((r.status, r.body.as_str()), (200, "Message sent\n"));
    }
    let r = http(mp, "GET", "/api/message/e2e?type=queue&readTimeout=5000", auth, &[], b"");
    assert_eq!((r.status, r.body.as_str()), (200, "m0"));
    let v: Value = serde_json::from_str(&http(mp, "GET", "/api/status.json", auth, &[], b"").body).unwrap();
    assert_eq!(v["slaves"].as_array().unwrap().len(), 2, "{v:#}");
    let e2e = v["destinations"].as_array().unwrap().iter().find(|d| d["name"] == "e2e").unwrap().clone();
    assert_eq!(
        (e2e["pending"].as_u64(), e2e["enqueued"].as_u64(), e2e["dequeued"].as_u64()),
        (Some(4), Some(5), Some(1))
    );

    // Purge through the form; the slaves replay the dequeues, so a new master has nothing.
    let form = http(mp, "GET", "/admin/send.jsp", auth, &[], b"").body;
    let secret = secret_of(&form);
    let body = format!("secret={secret}&JMSDestination=e2e");
    let r = http(
        mp,
        "POST",
        "/admin/purgeDestination.action",
        auth,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/admin/queues.jsp?purged=4&to=e2e"));
    let master_pos =
        c.status()["nodes"].as_array().unwrap().iter().find(|n| n["name"] == master.as_str()).unwrap()["position"]
            .as_i64()
            .unwrap();
    // One status, all three at the master's position then (which may have moved on from the
    // one read above, e.g. by a write still on its way when that status was read).
    c.wait_for("slaves at the master's position", Duration::from_secs(10), |st| {
        let nodes = st["nodes"].as_array().unwrap();
        let now = nodes.iter().find(|n| n["name"] == master.as_str()).and_then(|n| n["position"].as_i64());
        now.is_some_and(|p| p >= master_pos && nodes.iter().all(|n| n["position"].as_i64() == Some(p)))
    });

    // The dashboard: auth, the page, the poll, the timeline stream.
    let dp = c.dashboard_port();
    assert_eq!(http(dp, "GET", "/", None, &[], b"").status, 401);
    let page = http(dp, "GET", "/", auth, &[], b"");
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&format!("Master: <b id=\"master\">{master}</b>")), "{}", page.body);
    assert!(page.body.contains(&format!("[zk] get /mqsim-test/{}/leveldb-stores/", c.base)), "{}", page.body);
    assert!(page.body.contains("&quot;elected&quot;:&quot;"), "{}", page.body);
    assert!(page.body.contains("data-state=\"leader\"") && page.body.contains("data-state=\"follower\""));
    let v: Value = serde_json::from_str(&http(dp, "GET", "/api/status", auth, &[], b"").body).unwrap();
    assert_eq!(v["master_stats"]["enqueued"], 5, "{v:#}");
    assert_eq!(v["znodes"].as_array().unwrap().len(), 3, "{v:#}");

    // The kill button (as the page's script posts it) kills the master like `mqsim kill`.
    let r = http(
        dp,
        "POST",
        "/action",
        auth,
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Accept", "application/json"),
            ("Origin", &format!("http://127.0.0.1:{dp}")),
        ],
        format!("verb=kill&target={master}").as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("SIGKILL"), "{}", r.body);
    let st =
        c.wait_for("a new master", Duration::from_secs(20), |st| st["master"].as_str().is_some_and(|m| m != master));
    let new = st["master"].as_str().unwrap().to_string();
    let v: Value =
        serde_json::from_str(&http(c.console_port(&new), "GET", "/api/status.json", auth, &[], b"").body).unwrap();
    let e2e = v["destinations"].as_array().unwrap().iter().find(|d| d["name"] == "e2e").map(|d| d["pending"].as_u64());
    assert!(matches!(e2e, None | Some(Some(0))), "purged messages must not come back: {v:#}");
    let r = http(c.console_port(&new), "GET", "/api/message/e2e?type=queue&readTimeout=500", auth, &[], b"");
    assert_eq!(r.status, 204, "{}", r.body);

    // The timeline stream has the kill and the failover time.
    let events = sse_events(dp, &format!("{new} accepts clients"));
    assert!(
        events.iter().any(|e| e["kind"] == "killed" && e["message"].as_str().unwrap().starts_with(&master)),
        "{events:#?}"
    );
    let serving = events.iter().rev().find(|e| e["kind"] == "serving" && e["source"] == new.as_str()).unwrap();
    assert!(serving["failover_ms"].as_u64().is_some_and(|ms| ms > 0 && ms < 20_000), "{serving}");
    c.down();
}

/// Reads the dashboard's SSE stream until an event message contains `until`.
fn sse_events(port: u16, until: &str) -> Vec<Value> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!(
        "GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {}\r\n\r\n",
        common::basic("admin", "admin")
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    // Until the event that mentions `until` is complete (its blank line has arrived).
    let done = |t: &str| t.find(until).is_some_and(|i| t[i..].contains("\n\n"));
    while !done(&text) && std::time::Instant::now() < deadline {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "stream closed: {text}");
        text += &String::from_utf8_lossy(&buf[..n]);
    }
    assert!(text.contains("text/event-stream"), "{text}");
    text.lines().filter_map(|l| l.strip_prefix("data: ")).filter_map(|d| serde_json::from_str(d).ok()).collect()
}
