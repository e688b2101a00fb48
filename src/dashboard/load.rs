//! The dashboard's demo load: one producer and one consumer (mqsim's STOMP failover client,
//! through the cluster's failover URL) on the queue [`QUEUE`], so a class sees messages
//! flow and sees the clients fail over.
//!
//! Bounded: at most one load runs (a second start is refused), the producer sends at most
//! [`RATE`] persistent messages per second with receipts, and the load stops on the stop
//! button, when the supervisor tears the cluster down, or when its [`Load`] is dropped.
//! Each client's first connection and every failover go into the timeline (source `load`,
//! kinds `client-connected` / `client-reconnected`), which is what lets the failover
//! sequence diagram draw the clients coming back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::client::{AckMode, FailoverUrl, StompClient, timeline};
use crate::config::Config;
use crate::events::EventLog;

pub const QUEUE: &str = "/queue/mqsim.dashboard.load";
/// Messages per second the producer sends at most.
pub const RATE: u64 = 20;

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    received: AtomicU64,
    reconnects: AtomicU64,
    errors: AtomicU64,
}

/// What the page shows of the load (the script turns the counters into rates).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LoadView {
    pub running: bool,
    pub sent: u64,
    pub received: u64,
    pub reconnects: u64,
    pub errors: u64,
    pub seconds: f64,
    pub queue: &'static str,
}

pub struct Load {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    counters: Arc<Counters>,
    started: Instant,
}

fn record(config: &Config, events: &EventLog, who: &str, client: &mut StompClient, counters: &Counters) {
    let n = timeline::record_reconnects(config, events, who, client);
    counters.reconnects.fetch_add(n as u64, Ordering::Relaxed);
}

async fn connect(config: &Config, url: &FailoverUrl, events: &EventLog, who: &str) -> Option<StompClient> {
    timeline::connect(config, url, events, who).await.ok()
}

async fn producer(config: Config, url: FailoverUrl, c: Arc<Counters>, mut stop: watch::Receiver<bool>) {
    let events = EventLog::new(&config.state_dir(), "load");
    let mut client = None;
    let mut seq = 0u64;
    let tick = Duration::from_millis(1000 / RATE);
    while !*stop.borrow() {
        let Some(cl) = client.as_mut() else {
            tokio::select! {
                c2 = connect(&config, &url, &events, "producer") => client = c2,
                _ = stop.changed() => break,
            }
            if client.is_none() {
                c.errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            continue;
        };
        seq += 1;
        let body = Bytes::from(format!("dashboard load message {seq}"));
        let sent = tokio::select! {
            r = cl.send(QUEUE, body, &[], true) => r,
            _ = stop.changed() => break,
        };
        record(&config, &events, "producer", cl, &c);
        match sent {
            Ok(()) => {
                c.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                c.errors.fetch_add(1, Ordering::Relaxed);
                client = None;
            }
        }
        tokio::time::sleep(tick).await;
    }
    if let Some(cl) = client {
        let _ = tokio::time::timeout(Duration::from_secs(2), cl.disconnect()).await;
    }
}

async fn consumer(config: Config, url: FailoverUrl, c: Arc<Counters>, mut stop: watch::Receiver<bool>) {
    let events = EventLog::new(&config.state_dir(), "load");
    let mut client: Option<StompClient> = None;
    while !*stop.borrow() {
        let Some(cl) = client.as_mut() else {
            let subscribed = async {
                let mut cl = connect(&config, &url, &events, "consumer").await?;
                cl.subscribe(QUEUE, AckMode::Auto, Some(100)).await.ok()?;
                Some(cl)
            };
            tokio::select! {
                c2 = subscribed => client = c2,
                _ = stop.changed() => break,
            }
            if client.is_none() {
                c.errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            continue;
        };
        let got = tokio::select! {
            r = cl.recv(Duration::from_millis(500)) => r,
            _ = stop.changed() => break,
        };
        record(&config, &events, "consumer", cl, &c);
        match got {
            Ok(Some(_)) => {
                c.received.fetch_add(1, Ordering::Relaxed);
            }
            Ok(None) => {}
            Err(_) => {
                c.errors.fetch_add(1, Ordering::Relaxed);
                client = None;
            }
        }
    }
    if let Some(cl) = client {
        let _ = tokio::time::timeout(Duration::from_secs(2), cl.disconnect()).await;
    }
}

impl Load {
    /// Starts the producer and the consumer (they connect in the background).
    pub fn start(config: &Config) -> crate::Result<Load> {
        let url: FailoverUrl = format!("{}&maxReconnectDelay=500", config.stomp_failover_url()).parse()?;
        let (stop, rx) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let tasks = vec![
            tokio::spawn(producer(config.clone(), url.clone(), counters.clone(), rx.clone())),
            tokio::spawn(consumer(config.clone(), url, counters.clone(), rx)),
        ];
        Ok(Load { stop, tasks, counters, started: Instant::now() })
    }

    pub fn view(&self) -> LoadView {
        let c = &self.counters;
        LoadView {
            running: true,
            sent: c.sent.load(Ordering::Relaxed),
            received: c.received.load(Ordering::Relaxed),
            reconnects: c.reconnects.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            seconds: self.started.elapsed().as_secs_f64(),
            queue: QUEUE,
        }
    }

    /// Stops both clients (each disconnects, at most 2 s) and returns the final figures.
    pub async fn stop(mut self) -> LoadView {
        let _ = self.stop.send(true);
        for t in std::mem::take(&mut self.tasks) {
            let abort = t.abort_handle();
            if tokio::time::timeout(Duration::from_secs(4), t).await.is_err() {
                abort.abort();
            }
        }
        LoadView { running: false, ..self.view() }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for t in &self.tasks {
            t.abort();
        }
    }
}
