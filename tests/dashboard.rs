//! The cluster dashboard (the supervisor's), in process: handler tests call
//! `Dashboard::handle` directly over a fake supervisor, fixed znodes and a real node console
//! (`common::console`) serving the master's counters on an ephemeral port: every route,
//! auth, escaping, the buttons and the lesson bar, the SVG pictures, the SSE timeline. The
//! dashboard on a real cluster is tested with the consoles (`tests/console.rs`, block 40).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use http_body_util::BodyExt;
use hyper::StatusCode;
use hyper::header::{self, HeaderMap};
use mqsim::config::Config;
use mqsim::control::{Cut, Verb};
use mqsim::dashboard::{Control, Dashboard, Znode};
use mqsim::status::ClusterStatus;
use mqsim::web::{Body, Credentials};
use serde_json::{Value, json};

use common::console::{Fx, XSS, XSS_HTML, admin, assert_xss_escaped, fixture, post, read, request};
use mqsim::events::EventKind;

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
    node("node01").emit(EventKind::Promoted, "node01 is master");
    node("node01").emit(EventKind::Serving, "node01 accepts clients");
    dx.events.emit(EventKind::Killed, "node01 (pid 1) killed (SIGKILL)");
    std::thread::sleep(Duration::from_millis(30));
    node("node02").emit(EventKind::Promoted, "node02 is master");
    node("node02").emit(EventKind::Serving, "node02 accepts clients <b>now</b>");

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
    dx.events.emit(EventKind::Killed, XSS);
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
    node("node01").emit(EventKind::Serving, "node01 accepts clients");
    dx.events.emit(EventKind::Killed, "node01 (pid 1) killed (SIGKILL)");
    dx.events.emit(EventKind::ZnodeDeleted, "znode /z/leveldb-stores/00000000000 (node01) deleted: session expired");
    node("node02").emit(EventKind::Elected, "node02 was elected master");
    node("node02").emit(EventKind::Serving, "node02 accepts clients <b>");
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
    node("node01").emit(EventKind::Serving, "node01 accepts clients");
    let resp = dx.dash.handle(request("GET", "/events", Some(&admin()), &[], "")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = resp.into_body();
    let backlog = sse_until(&mut body, |t| t.contains("node01 accepts clients")).await;
    assert!(backlog.starts_with("retry: 1000\n\n"), "{backlog}");
    // New events arrive as they are written, annotated.
    dx.events.emit(EventKind::Killed, "node01 (pid 1) killed (SIGKILL)");
    node("node02").emit(EventKind::Serving, "node02 accepts clients");
    let live = sse_until(&mut body, |t| t.contains("node02 accepts clients")).await;
    let last = live.lines().rev().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let e: Value = serde_json::from_str(last).unwrap();
    assert_eq!(e["kind"], "serving");
    assert_eq!(e["source"], "node02");
    assert!(e["failover_ms"].is_u64(), "{e}");
    assert!(e["note"].as_str().unwrap().contains("node01 killed → node02 serving"), "{e}");
    let id: u64 = live.lines().rev().find_map(|l| l.strip_prefix("id: ")).unwrap().parse().unwrap();

    // Resuming (the page's `from`, or the browser's Last-Event-ID) sends only what is newer.
    node("node03").emit(EventKind::Slave, "node03 is slave of node02");
    for req in [
        request("GET", &format!("/events?from={id}"), Some(&admin()), &[], ""),
        request("GET", "/events", Some(&admin()), &[("last-event-id", &id.to_string())], ""),
    ] {
        let mut body = dx.dash.handle(req).await.into_body();
        let text = sse_until(&mut body, |t| t.contains("node03 is slave")).await;
        assert!(!text.contains("accepts clients"), "{text}");
    }
}
