//! The web console (every node). Handler tests call `Console::handle` directly, with a real
//! broker core on a temporary store (`common::console`): every route, auth, escaping, the
//! REST message API, forms, a slave's pages. The last test runs a real cluster (port block
//! 40) and drives the consoles and the dashboard over HTTP. The dashboard's handler tests
//! are in `tests/dashboard.rs`.

mod common;

use std::time::Duration;

use hyper::StatusCode;
use hyper::header;
use mqsim::broker::Destination;
use mqsim::console::{Console, NodeView};
use mqsim::replication::master::SlaveInfo;
use mqsim::status::NodeReport;
use mqsim::store::record::StoredMessage;
use mqsim::web::Credentials;
use serde_json::Value;

use common::console::{XSS, XSS_HTML, admin, assert_xss_escaped, fixture, get, post, read, request};
use common::{TestCluster, http};

const EVIL_NAME: &str = "<script>alert('q')</script>";
const EVIL_BODY: &str = "<img src=x onerror=alert(\"b\")>&amp;";

/// The form secret from a page of this console.
fn secret_of(page: &str) -> String {
    let at = page.find("name=\"secret\" value=\"").expect("a form with the secret") + 21;
    page[at..at + 32].to_string()
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
