//! In-process fixtures for the console and dashboard tests (`tests/console.rs`,
//! `tests/dashboard.rs`): a node console over a real broker core on a temporary store,
//! requests built by hand and handed to `Console::handle` / `Dashboard::handle` without a
//! socket, and the hostile string every page must escape.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderMap};
use hyper::{Request, Response, StatusCode};
use mqsim::broker::Broker;
use mqsim::config::Config;
use mqsim::console::Console;
use mqsim::replication::master::SlaveInfo;
use mqsim::status::NodeReport;
use mqsim::store::Store;
use mqsim::web::{Body, Credentials};
use tokio::sync::watch;

/// One value that breaks out of element content and of either kind of quoted attribute.
pub const XSS: &str = "<script>alert(1)</script>\"'&";
/// [`XSS`] as an HTML page must show it (text or double-quoted attribute).
pub const XSS_HTML: &str = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;";

pub struct Fx {
    _dir: tempfile::TempDir,
    pub config: Config,
    pub store: Arc<Store>,
    pub broker: Arc<Broker>,
    pub console: Console,
}

/// A console of node01 on a block-40 config, master with a real broker on a temp store.
pub fn fixture() -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let base = super::port_base(40);
    let path = dir.path().join("cluster.toml");
    std::fs::write(&path, super::cluster_toml(base, "")).unwrap();
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
    pub fn base(&self) -> u16 {
        super::port_base(40)
    }

    pub fn set_master(&self) {
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
    pub fn set_slave(&self) {
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

pub fn request(
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

pub async fn read(resp: Response<Body>) -> (StatusCode, HeaderMap, String) {
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, String::from_utf8_lossy(&bytes).into_owned())
}

pub fn admin() -> Credentials {
    Credentials::new("admin", "admin")
}

pub async fn get(c: &Console, path: &str) -> (StatusCode, HeaderMap, String) {
    read(c.handle(request("GET", path, Some(&admin()), &[], "")).await).await
}

pub async fn post(c: &Console, path: &str, ctype: &str, body: &str) -> (StatusCode, HeaderMap, String) {
    read(c.handle(request("POST", path, Some(&admin()), &[("content-type", ctype)], body)).await).await
}

/// `page` shows [`XSS`], escaped, and nowhere raw.
pub fn assert_xss_escaped(what: &str, page: &str) {
    assert!(!page.contains("<script>alert(1)") && !page.contains("</script>\"'"), "{what}: raw markup:\n{page}");
    assert!(page.contains(XSS_HTML), "{what}: the value is shown, escaped:\n{page}");
}
