//! The client against tiny in-process fake brokers (tokio listeners on 127.0.0.1:0).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;

use super::*;

/// What a fake broker does. Connections are served one after another.
#[derive(Debug, Clone, Default)]
struct Behavior {
    /// Answer CONNECT with ERROR.
    refuse: bool,
    /// Answer every SEND with ERROR.
    error_on_send: bool,
    /// On this SEND (1-based, over all connections) close without answering and stop
    /// listening, like a master that was killed.
    die_on_send: Option<usize>,
    /// After a SUBSCRIBE's RECEIPT, deliver MESSAGEs with these `mqsim-seq` values ...
    deliver: Vec<u64>,
    /// ... and then die.
    die_after_deliver: bool,
}

struct Fake {
    uri: String,
    /// Every frame received, in order.
    frames: Arc<Mutex<Vec<Frame>>>,
}

impl Fake {
    async fn start(behavior: Behavior) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let frames = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn(serve(listener, behavior, frames.clone()));
        Fake { uri: format!("tcp://{addr}"), frames }
    }

    fn received(&self, command: &str) -> Vec<Frame> {
        let frames = self.frames.lock().unwrap();
        frames.iter().filter(|f| f.command == command).cloned().collect()
    }
}

async fn serve(listener: TcpListener, b: Behavior, frames: Arc<Mutex<Vec<Frame>>>) {
    let mut sends = 0;
    while let Ok((tcp, _)) = listener.accept().await {
        let mut io = Framed::new(tcp, StompCodec::new(Limits::default()));
        let mut delivered = 0u64;
        while let Some(Ok(parsed)) = io.next().await {
            let Parsed::Frame(f) = parsed else { continue };
            frames.lock().unwrap().push(f.clone());
            let receipt = f.get("receipt").map(|r| Frame::new("RECEIPT").header("receipt-id", r));
            match f.command.as_str() {
                "CONNECT" if b.refuse => {
                    let _ = io.send(Frame::new("ERROR").header("message", "not the master")).await;
                    break;
                }
                "CONNECT" => {
                    let connected = Frame::new("CONNECTED").header("version", "1.2").header("server", "fake");
                    let _ = io.send(connected).await;
                    io.codec_mut().set_version(Version::V1_2);
                }
                "SEND" => {
                    sends += 1;
                    if b.die_on_send == Some(sends) {
                        return;
                    }
                    let reply = if b.error_on_send {
                        Some(Frame::new("ERROR").header("message", "no such destination"))
                    } else {
                        receipt
                    };
                    if let Some(r) = reply {
                        let _ = io.send(r).await;
                    }
                }
                "SUBSCRIBE" => {
                    if let Some(r) = receipt {
                        let _ = io.send(r).await;
                    }
                    let sub = f.get("id").unwrap_or_default().to_string();
                    for seq in &b.deliver {
                        delivered += 1;
                        let msg = Frame::new("MESSAGE")
                            .header("subscription", sub.as_str())
                            .header("message-id", format!("m{seq}"))
                            .header("destination", f.get("destination").unwrap_or_default())
                            .header("ack", format!("a{delivered}"))
                            .header("mqsim-seq", seq.to_string())
                            .body(format!("seq={seq};"));
                        let _ = io.send(msg).await;
                    }
                    if b.die_after_deliver {
                        return;
                    }
                }
                _ => {
                    if let Some(r) = receipt {
                        let _ = io.send(r).await;
                    }
                }
            }
        }
    }
}

/// A port nothing listens on: connecting is refused at once, like a slave's client port.
async fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = l.local_addr().unwrap();
    drop(l);
    format!("tcp://{addr}")
}

fn failover(uris: &[&str], options: &str) -> FailoverUrl {
    format!("failover:({})?randomize=false&initialReconnectDelay=1&{options}", uris.join(",")).parse().unwrap()
}

fn opts() -> ConnectOptions {
    ConnectOptions {
        connect_timeout: Duration::from_secs(1),
        reply_timeout: Duration::from_secs(1),
        ..ConnectOptions::default()
    }
}

fn body_of(f: &Frame) -> &[u8] {
    &f.body
}

#[tokio::test]
async fn send_fails_over_and_resends_the_same_frame() {
    let closed = closed_port().await;
    let master = Fake::start(Behavior { die_on_send: Some(2), ..Behavior::default() }).await;
    let next = Fake::start(Behavior::default()).await;
    let url = failover(&[&closed, &master.uri, &next.uri], "maxReconnectAttempts=3");

    let mut client = StompClient::connect(&url, opts()).await.unwrap();
    assert_eq!(client.current_uri(), master.uri, "the refused first URI is skipped");
    assert_eq!(client.server(), Some("fake"));
    let connect = &master.received("CONNECT")[0];
    assert_eq!(connect.get("accept-version"), Some("1.2"));
    assert_eq!(connect.get("heart-beat"), Some("0,0"));

    for seq in 1..=3u64 {
        let s = seq.to_string();
        let headers = [("mqsim-seq", s.as_str())];
        client.send("/queue/q", Bytes::from(format!("seq={seq};")), &headers, true).await.unwrap();
    }
    assert_eq!(client.current_uri(), next.uri);
    let events = client.take_reconnects();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].from.as_str(), events[0].uri.as_str()), (&*master.uri, &*next.uri));
    assert!(client.take_reconnects().is_empty());

    let old = master.received("SEND");
    let new = next.received("SEND");
    assert_eq!(old.len(), 2);
    assert_eq!(new.len(), 2);
    assert_eq!(old[1], new[0], "the unanswered SEND is resent unchanged");
    assert_eq!(new[0].get("persistent"), Some("true"));
    assert_eq!(body_of(&new[1]), b"seq=3;");
    client.disconnect().await.unwrap();
    assert_eq!(next.received("DISCONNECT").len(), 1);
}

#[tokio::test]
async fn recv_resubscribes_after_failover_and_drops_stale_acks() {
    let master = Fake::start(Behavior { deliver: vec![1, 2], die_after_deliver: true, ..Behavior::default() }).await;
    let next = Fake::start(Behavior { deliver: vec![3], ..Behavior::default() }).await;
    let url = failover(&[&master.uri, &next.uri], "");

    let mut client = StompClient::connect(&url, opts()).await.unwrap();
    let id = client.subscribe("/queue/q", AckMode::ClientIndividual, Some(10)).await.unwrap();
    assert_eq!(id, "0");
    let wait = Duration::from_secs(1);
    let one = client.recv(wait).await.unwrap().unwrap();
    let two = client.recv(wait).await.unwrap().unwrap();
    assert_eq!((one.get("mqsim-seq"), two.get("mqsim-seq")), (Some("1"), Some("2")));
    let three = client.recv(wait).await.unwrap().unwrap();
    assert_eq!(three.get("mqsim-seq"), Some("3"));
    assert_eq!(client.current_uri(), next.uri);
    assert_eq!(client.take_reconnects().len(), 1);

    let resub = &next.received("SUBSCRIBE")[0];
    assert_eq!(resub.get("id"), Some("0"));
    assert_eq!(resub.get("destination"), Some("/queue/q"));
    assert_eq!(resub.get("ack"), Some("client-individual"));
    assert_eq!(resub.get("activemq.prefetchSize"), Some("10"));

    assert!(!client.ack(&one).await.unwrap(), "came over the dead connection");
    assert!(client.ack(&three).await.unwrap());
    assert!(!client.ack(&three).await.unwrap(), "already acknowledged");
    assert!(client.recv(Duration::from_millis(50)).await.unwrap().is_none());
    client.disconnect().await.unwrap();
    let acks = next.received("ACK");
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].get("id"), three.get("ack"));
}

#[tokio::test]
async fn a_broker_answering_error_to_connect_is_skipped() {
    let slave = Fake::start(Behavior { refuse: true, ..Behavior::default() }).await;
    let master = Fake::start(Behavior::default()).await;
    let url = failover(&[&slave.uri, &master.uri], "");
    let client = StompClient::connect(&url, opts()).await.unwrap();
    assert_eq!(client.current_uri(), master.uri);
    assert!(client.is_connected());
}

#[tokio::test]
async fn an_error_reply_is_returned_not_retried() {
    let broker = Fake::start(Behavior { error_on_send: true, ..Behavior::default() }).await;
    let url = failover(&[&broker.uri], "");
    let mut client = StompClient::connect(&url, opts()).await.unwrap();
    let err = client.send("/queue/q", Bytes::from_static(b"x"), &[], false).await.unwrap_err();
    assert!(err.to_string().contains("no such destination"), "{err}");
    assert_eq!(broker.received("SEND").len(), 1);
    assert!(client.take_reconnects().is_empty());
}

#[tokio::test]
async fn no_broker_means_an_error_after_the_allowed_passes() {
    let a = closed_port().await;
    let b = closed_port().await;
    let url = failover(&[&a, &b], "startupMaxReconnectAttempts=2");
    let err = StompClient::connect(&url, opts()).await.err().unwrap().to_string();
    assert!(err.contains("after 2 attempt(s)"), "{err}");
    assert!(err.contains(&a) && err.contains(&b), "{err}");

    let plain: FailoverUrl = a.parse().unwrap();
    let err = StompClient::connect(&plain, opts()).await.err().unwrap().to_string();
    assert!(err.contains("after 1 attempt(s)"), "{err}");
}

#[tokio::test]
async fn plain_tcp_does_not_reconnect() {
    let broker = Fake::start(Behavior { die_on_send: Some(1), ..Behavior::default() }).await;
    let url: FailoverUrl = broker.uri.parse().unwrap();
    let mut client = StompClient::connect(&url, opts()).await.unwrap();
    let err = client.send("/queue/q", Bytes::from_static(b"x"), &[], false).await.unwrap_err().to_string();
    assert!(err.contains("not reconnecting"), "{err}");
}

#[tokio::test]
async fn the_failover_timeout_bounds_a_send() {
    let broker = Fake::start(Behavior { die_on_send: Some(1), ..Behavior::default() }).await;
    let url = failover(&[&broker.uri], "timeout=150");
    let mut client = StompClient::connect(&url, opts()).await.unwrap();
    let started = Instant::now();
    let err = client.send("/queue/q", Bytes::from_static(b"x"), &[], false).await.unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err}");
    assert_eq!(err.to_string(), "Failover timeout of 150 ms reached.");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(!client.is_connected());
}
