//! The `mqsim` command line (clap). Each subcommand is a small function; the work is done
//! by the supervisor (over its control socket) or by reading the state directory.

mod client_cmds;
mod config_cmd;
mod purge;
mod show;
mod up;
mod wait;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::control::{Request, Response, Verb};
use crate::error::{Error, Result};

#[derive(Debug, Parser)]
#[command(
    name = "mqsim",
    version,
    about = "Run a real ActiveMQ-style master/slave cluster (ZooKeeper election) on one machine",
    long_about = "mqsim starts a real 3-server ZooKeeper ensemble (zk01..zk03) and three broker nodes \
(node01..node03) that elect a master through ZooKeeper exactly as ActiveMQ's replicated LevelDB store did.\n\n\
Typical session:\n  mqsim up              # start everything, wait for a master\n  mqsim status          # who is master?\n  \
mqsim kill master     # crash it; a slave takes over after the session timeout\n  mqsim events          # what happened, in order\n  \
mqsim start node01    # it comes back as a slave\n  mqsim down            # stop everything",
    after_help = "Targets: node01..node03, zk01..zk03 (names from cluster.toml), master, slave (the youngest slave), slaves, elector (the oldest znode's node: it elects), next-elector, zk-leader, nodes, zk, all."
)]
pub struct Cli {
    /// The cluster layout.
    #[arg(short, long, global = true, env = "MQSIM_CONFIG", default_value = "cluster.toml")]
    pub config: PathBuf,
    /// Multi-host layouts: the members this machine runs (e.g. `zk01,node01`), instead of
    /// those whose address is one of this machine's. Give it to every command on that machine
    /// (or set MQSIM_MEMBERS there): it also names that machine's supervisor directory.
    #[arg(long, global = true, env = "MQSIM_MEMBERS", value_delimiter = ',', value_name = "NAMES")]
    pub members: Vec<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// What a fault verb's `<TARGET>` may name.
const TARGET_HELP: &str = "What to act on: a process by name from cluster.toml (node01..node03, zk01..zk03), \
or a role resolved when the command runs: master, slaves, zk-leader; or a group: nodes (every broker), \
zk (every ZooKeeper server), all";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start ZooKeeper, then the brokers; wait until a master accepts connections.
    Up {
        /// Stay attached; Ctrl-C stops everything.
        #[arg(long)]
        foreground: bool,
        /// Return once the processes are started, without waiting for a master.
        #[arg(long)]
        no_wait: bool,
    },
    /// Stop every process of the cluster (brokers cleanly, then ZooKeeper).
    Down {
        /// Then delete what this cluster left in its state directory (stores, ZooKeeper data,
        /// logs, timeline, chaos runs, token), so the next `up` starts fresh: positions 0 and
        /// znodes from 00000000000 again. Stops the cluster first; refuses if any of its
        /// processes still runs. Removes only the entries the configuration names (other files
        /// are left and listed) and never follows a symbolic link out of the state directory.
        #[arg(long)]
        purge: bool,
        /// Multi-host layouts: also ask every other host's supervisor (control endpoint) to stop its members.
        #[arg(long)]
        all: bool,
    },
    /// Wait until the cluster reaches a state (what a reader does by watching `mqsim status`).
    ///
    /// Exits 0 and says what holds, or after --timeout exits non-zero naming what it still saw.
    /// Fails at once when no cluster is running.
    Wait {
        #[arg(value_enum)]
        until: wait::Until,
        /// How long to wait at most, e.g. 30s or 2m.
        #[arg(long, default_value = "60s", value_parser = client_cmds::parse_duration)]
        timeout: std::time::Duration,
    },
    /// ZooKeeper servers (leader/follower/down) and brokers (master/slave/electing/down).
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Refresh every INTERVAL (default 1s) until Ctrl-C; on a terminal the table is redrawn
        /// in place, otherwise each refresh is printed after a time stamp.
        #[arg(long, short, value_name = "INTERVAL", num_args = 0..=1, default_missing_value = "1s",
              value_parser = client_cmds::parse_duration)]
        watch: Option<std::time::Duration>,
    },
    /// Start a stopped or crashed process.
    Start {
        #[arg(help = TARGET_HELP, value_name = "TARGET")]
        target: String,
    },
    /// Stop cleanly (SIGTERM): the broker deletes its znode at once.
    Stop {
        #[arg(help = TARGET_HELP, value_name = "TARGET")]
        target: String,
        /// Then say what should happen and, once it has, what did (`mqsim explain`).
        #[arg(long)]
        explain: bool,
    },
    /// Crash (SIGKILL): the znode stays until the ZooKeeper session expires.
    Kill {
        #[arg(help = TARGET_HELP, value_name = "TARGET")]
        target: String,
        /// Then say what should happen and, once it has, what did (`mqsim explain`).
        #[arg(long)]
        explain: bool,
    },
    /// Stop, then start.
    Restart {
        #[arg(help = TARGET_HELP, value_name = "TARGET")]
        target: String,
    },
    /// Freeze (SIGSTOP), like a long GC pause; shown as PAUSED.
    Pause {
        #[arg(help = TARGET_HELP, value_name = "TARGET")]
        target: String,
        /// Then say what should happen and, once it has, what did (`mqsim explain`).
        #[arg(long)]
        explain: bool,
    },
    /// Unfreeze (SIGCONT).
    Resume {
        #[arg(help = TARGET_HELP, value_name = "TARGET")]
        target: String,
        /// Then say what should happen and, once it has, what did (`mqsim explain`).
        #[arg(long)]
        explain: bool,
    },
    /// Cut a broker off from ZooKeeper or its peers (a black hole, not a reset); `heal` undoes.
    Partition {
        #[arg(help = TARGET_HELP, value_name = "TARGET")]
        target: String,
        #[arg(long, value_enum)]
        from: crate::control::Cut,
        /// Then say what should happen and, once it has, what did (`mqsim explain`).
        #[arg(long)]
        explain: bool,
    },
    /// Undo `partition` (default: every node).
    Heal {
        #[arg(default_value = "nodes", help = TARGET_HELP, value_name = "TARGET")]
        target: String,
    },
    /// Faults against the running cluster under a producer and a consumer; a verdict against what `sync` promises, and a run folder.
    Chaos {
        /// How long to inject faults, e.g. 120s or 5m.
        #[arg(long, default_value = "60s", value_parser = client_cmds::parse_duration)]
        duration: std::time::Duration,
        /// Seed for the fault sequence (same seed, same sequence).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Fault kinds to draw from.
        #[arg(long, value_delimiter = ',', default_value = "kill,pause,partition,zk")]
        faults: Vec<String>,
        /// Quiet time after each recovery.
        #[arg(long, default_value = "2s", value_parser = client_cmds::parse_duration)]
        interval: std::time::Duration,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Also write the figures into this markdown file's `chaos` section.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Lessons that make a failure happen on purpose and count what it cost.
    Lab {
        #[command(subcommand)]
        what: LabOp,
    },
    /// Explain the last fault: what should happen (timeouts, expected winner) and what did.
    Explain {
        /// One JSON object: `fault`, `should_happen` (lines), `expected_winner`, `happened`
        /// (after_ms, source, kind, message) and `serves_again`.
        #[arg(long)]
        json: bool,
    },
    /// Print a node's or ZooKeeper server's log (`supervisor` for the supervisor's).
    Logs {
        target: String,
        /// Keep printing new lines.
        #[arg(short, long)]
        follow: bool,
        /// Only the last N lines.
        #[arg(short = 'n', long)]
        lines: Option<usize>,
    },
    /// The timeline: started, killed, znode deleted (and why), elected, promoted, ...
    Events {
        #[arg(short, long)]
        follow: bool,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// The layout from cluster.toml: deployment plan, a node's settings or activemq.xml, /etc/hosts lines.
    Config {
        #[command(subcommand)]
        op: config_cmd::ConfigOp,
    },
    /// Read ZooKeeper like zkCli: `mqsim zk ls /activemq/leveldb-stores`.
    Zk {
        #[command(subcommand)]
        op: ZkOp,
    },
    /// Measure start-up, failover and STOMP throughput; writes docs/benchmarks.md.
    Bench {
        #[command(subcommand)]
        what: BenchOp,
    },
    /// Send messages over STOMP, each waiting for its RECEIPT; fails over like ActiveMQ.
    Send(client_cmds::SendArgs),
    /// Receive messages over STOMP; counts duplicates and gaps left by failovers.
    Recv(client_cmds::RecvArgs),
    /// Print a shell completion script: `mqsim completions bash > ~/.local/share/bash-completion/completions/mqsim`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `mqsim man | man -l -`.
    Man,
    /// (internal) The supervisor process that `up` starts.
    #[command(hide = true)]
    Supervise,
    /// (internal) One broker node, started by the supervisor.
    #[command(hide = true)]
    Node {
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum LabOp {
    /// Lose acknowledged messages on purpose: what the cluster's `sync` mode really promises.
    ///
    /// On the running cluster: sends a numbered batch to the master and waits until every
    /// slave has it; cuts the master off from its peers (it keeps its ZooKeeper session, so it
    /// stays master); keeps sending for a while; kills the master; consumes everything from
    /// the new master; restarts the old one, which rejoins as a slave. Prints how many
    /// messages were acknowledged, received and lost, and why, in this sync mode: under
    /// local_disk/local_mem the master acknowledged sends no slave had, and the failover lost
    /// them; under remote_*/quorum_* it acknowledged nothing while cut off, and nothing
    /// acknowledged is lost. The verdict fails only on a loss the sync mode does not allow.
    /// About 10-30 s.
    Loss {
        /// Messages sent, acknowledged and replicated before the cut.
        #[arg(long, default_value_t = 20)]
        batch: u64,
        /// How long to keep sending while the master is cut off.
        #[arg(long, default_value = "3s", value_parser = client_cmds::parse_duration)]
        cut_for: std::time::Duration,
        /// At most this many sends while the master is cut off.
        #[arg(long, default_value_t = 100)]
        cut_max: u64,
        /// Print the summary as JSON (no step lines).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ZkOp {
    /// List children, like `ls <path>`.
    Ls {
        path: String,
        /// A JSON array of the children's names, sorted.
        #[arg(long)]
        json: bool,
    },
    /// Print data (and with --stat the stat), like `get <path>`.
    Get {
        path: String,
        #[arg(short, long)]
        stat: bool,
        /// One JSON object: `data` (the znode's JSON, or a string when it is not JSON) and,
        /// with --stat, `stat`.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchOp {
    /// `mqsim up` → master accepting, and kill -9 master → new master accepting, per profile.
    Lifecycle {
        /// Launches per profile.
        #[arg(long, default_value_t = 5)]
        ups: usize,
        /// Master kills per profile.
        #[arg(long, default_value_t = 10)]
        kills: usize,
        /// Markdown file whose `lifecycle` section is replaced with the results.
        #[arg(long, default_value = "docs/benchmarks.md")]
        out: PathBuf,
        /// Also print every sample as JSON on stdout: `[{profile, up_ms, zk_ms, failover_ms}]`
        /// (the markdown then goes to stderr).
        #[arg(long)]
        json: bool,
    },
    /// STOMP load: synchronous persistent sends (1 and 4 producers) and consumes, per rep.
    Stomp {
        /// The broker's STOMP connector.
        #[arg(long)]
        url: String,
        /// Messages per test.
        #[arg(long, default_value_t = 5000)]
        n: usize,
        /// Body size in bytes.
        #[arg(long, default_value_t = 1024)]
        size: usize,
        /// Messages sent and consumed before the first rep (not reported).
        #[arg(long, default_value_t = 2000)]
        warmup: usize,
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// The broker's PID, to report its RSS before and after.
        #[arg(long)]
        pid: Option<u32>,
        /// What is measured, carried into the JSON.
        #[arg(long, default_value = "")]
        label: String,
        /// The CONNECT frame's `host` header, the virtual host (`/` for RabbitMQ).
        #[arg(long, default_value = "localhost")]
        host: String,
        /// Name the tests' queues PREFIX.warmup, PREFIX.a.REP and PREFIX.b.REP, e.g. with
        /// `/amq/queue/bench.r1` (RabbitMQ queues declared beforehand, empty), instead of a fresh
        /// `/queue/bench.<run>.*`.
        #[arg(long)]
        queue_prefix: Option<String>,
        /// Print the results as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// A durable 1 KiB journal append (append + fsync) on this disk, alone and three at once.
    Disk {
        /// A directory on the disk the clusters use (their state directories' filesystem).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Appends per writer.
        #[arg(long, default_value_t = 2000)]
        appends: usize,
        /// Print the result as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Issue 11's attacks on a private cluster: per probe the master's peak RSS, an unrelated
    /// producer's longest stall, any failover, what the offender got, and whether acknowledged
    /// messages survived; writes the `hostile` section of docs/benchmarks.md.
    ///
    /// Starts its own 3-node cluster (real ZooKeeper; ports BASE..BASE+22; a temporary state
    /// directory; one `[[user]]`; storeLimit 64 MiB; nodes at a soft limit of 1024 open files),
    /// then for each probe: seeds a canary (20 persistent sends acknowledged by RECEIPT), starts
    /// an unrelated STOMP producer (small persistent sends with receipts; its longest wait for a
    /// receipt is the stall) and a 50 ms sampler of the master's RSS, runs the probe (bounded,
    /// 5-40 s), waits 3 s, then records the figures, whether the master changed, and whether the
    /// canary is intact. The probes are the rows of `issues show 11`: 1 zk-set, 2 long-queue-name
    /// (restarts every node), 3 replication-login, 4 openwire-null-list, 5 selector-flood,
    /// 6 wrong-credentials, 7 forged-receipt, 8 idle-console-flood, 9 slow-subscriber,
    /// 11 cross-site, 12 namespace, 13 store-fill, 14 heartbeat-overflow (10, journal
    /// corruption, is left to the store's tests), 15 selector-budget (row 5 with selectors
    /// just under the limit), plus an idle baseline. A probe that fails or takes the master
    /// down is recorded and the run goes on (the cluster is rebuilt if no master returns);
    /// everything is stopped at the end. About 4 minutes.
    ///
    /// The section keeps the first run written (the "before") and the latest, with a comparison;
    /// each is labelled with its commit. A run of only some probes (--probes) prints its table
    /// and leaves the file alone.
    Hostile {
        /// First of the 23 consecutive ports the bench cluster uses.
        #[arg(long, default_value_t = 26000)]
        base: u16,
        /// Only these probes, by row number or name (e.g. `5,selector-flood`); the idle
        /// baseline always runs.
        #[arg(long, value_delimiter = ',')]
        probes: Vec<String>,
        /// Drop the runs already in the section (start a new "before").
        #[arg(long)]
        fresh: bool,
        /// The label of this run (default: `git rev-parse --short HEAD`, `+changes` if src/ differs).
        #[arg(long)]
        commit: Option<String>,
        /// Print the run as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Markdown file whose `hostile` section is rewritten.
        #[arg(long, default_value = "docs/benchmarks.md")]
        out: PathBuf,
    },
    /// The store at scale (issue 12), one step at a time: fill, drain, du, restart, catch-up,
    /// and the `store` section of docs/benchmarks.md; driven by `scripts/bench-store.sh`.
    Store {
        #[command(subcommand)]
        op: crate::bench::store::StoreOp,
    },
    /// Prints a cluster.toml on 23 consecutive ports from `base` with the given `sync` mode.
    #[command(hide = true)]
    ClusterToml {
        #[arg(long)]
        base: u16,
        #[arg(long, default_value = "quorum_mem")]
        sync: String,
    },
    /// Writes the `stomp` section of docs/benchmarks.md from `bench stomp --json` outputs: one
    /// or more per broker (rounds of one rep each, interleaved), merged in the order given.
    /// (For scripts/bench-stomp.sh.)
    #[command(hide = true)]
    StompReport {
        #[arg(long, num_args = 1.., required = true)]
        activemq: Vec<PathBuf>,
        /// RabbitMQ 3.10, 3 nodes, quorum queues (`scripts/lib/rabbitmq.sh`).
        #[arg(long, num_args = 1.., required = true)]
        rabbitmq: Vec<PathBuf>,
        #[arg(long, num_args = 1.., required = true)]
        quorum_mem: Vec<PathBuf>,
        #[arg(long, num_args = 1.., required = true)]
        quorum_disk: Vec<PathBuf>,
        /// `bench disk --json` output from the same run.
        #[arg(long)]
        disk: Option<PathBuf>,
        /// `rabbitmqctl list_queues name messages --formatter json` after the run.
        #[arg(long)]
        rabbitmq_left: Option<PathBuf>,
        /// How mqsim was built (e.g. "release build").
        #[arg(long, default_value = "debug build")]
        build: String,
        #[arg(long, default_value = "docs/benchmarks.md")]
        out: PathBuf,
    },
}

impl Command {
    /// The long-running processes (a broker, the supervisor, a foreground `up`): they keep
    /// SIGPIPE ignored, unlike the reporting verbs (see `main`).
    pub fn is_daemon(&self) -> bool {
        matches!(self, Command::Node { .. } | Command::Supervise | Command::Up { foreground: true, .. })
    }
}

/// Runs a parsed command; the error's `Display` is the one-line reason.
pub fn run(cli: Cli) -> Result<()> {
    let config_path = discover(&cli.config);
    crate::hosts::select(cli.members.clone());
    let load = || Config::load(&std::path::absolute(&config_path).unwrap_or(config_path.clone()));
    match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "mqsim",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Man => clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
            .render(&mut std::io::stdout())
            .map_err(Error::io("writing the manual page")),
        Command::Node { name } => {
            let config = load()?;
            if config.node(&name).is_none() {
                return Err(Error::Target(format!("no node named {name} in {}", config.source.display())));
            }
            crate::logging::init(true);
            runtime(true).block_on(crate::node::run(config, name))
        }
        Command::Supervise => {
            let config = load()?;
            crate::logging::init(true);
            runtime(false).block_on(crate::supervisor::run(config))
        }
        Command::Up { foreground, no_wait } => up::up(load()?, foreground, no_wait),
        Command::Down { purge, all } => runtime(false).block_on(async {
            let config = load()?;
            if all {
                up::down_others(&config).await?;
            }
            up::down(config.clone()).await?;
            if purge {
                for line in purge::purge(&config).await? {
                    anstream::println!("{line}");
                }
            }
            Ok(())
        }),
        Command::Wait { until, timeout } => runtime(false).block_on(wait::run(&load()?, until, timeout)),
        Command::Status { json, watch } => runtime(false).block_on(show::status(load()?, json, watch)),
        Command::Start { target } => act(load()?, Verb::Start, target),
        Command::Stop { target, explain } => act_explain(load()?, Verb::Stop, target, explain),
        Command::Kill { target, explain } => act_explain(load()?, Verb::Kill, target, explain),
        Command::Restart { target } => act(load()?, Verb::Restart, target),
        Command::Pause { target, explain } => act_explain(load()?, Verb::Pause, target, explain),
        Command::Resume { target, explain } => act_explain(load()?, Verb::Resume, target, explain),
        Command::Partition { target, from, explain } => {
            let config = load()?;
            request(config.clone(), Request::Partition { target, from })?;
            if explain {
                print!("\n{}", runtime(false).block_on(crate::explain::run(&config, true))?.render());
            }
            Ok(())
        }
        Command::Explain { json } => {
            let config = load()?;
            let explanation = runtime(false).block_on(crate::explain::run(&config, false))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&explanation)?);
            } else {
                print!("{}", explanation.render());
            }
            Ok(())
        }
        Command::Chaos { duration, seed, faults, interval, json, report } => {
            let config = load()?;
            if let Some(bad) = faults.iter().find(|f| !crate::chaos::FAULTS.contains(&f.as_str())) {
                return Err(Error::InvalidInput(format!(
                    "unknown fault `{bad}`; use {}",
                    crate::chaos::FAULTS.join(",")
                )));
            }
            let opts = crate::chaos::Options { duration, seed, faults, interval };
            let summary = runtime(false).block_on(crate::chaos::run(&config, &opts))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                println!(
                    "{} faults, {} acknowledged, {} received, lost {}, duplicated {}, producer failovers {}",
                    summary.faults.len(),
                    summary.acknowledged,
                    summary.received_distinct,
                    summary.lost,
                    summary.duplicates,
                    summary.producer_failovers
                );
                println!("run folder: {}\nverdict: {}", summary.run_dir, summary.verdict_line());
            }
            if let Some(path) = report {
                let when = time::OffsetDateTime::now_utc()
                    .format(&time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC"))
                    .unwrap_or_default();
                crate::bench::write_section(&path, "chaos", &crate::chaos::report(&summary, &when))?;
            }
            if summary.verdict.passed() { Ok(()) } else { Err(Error::Verdict(summary.verdict.to_string())) }
        }
        Command::Lab { what: LabOp::Loss { batch, cut_for, cut_max, json } } => {
            let config = load()?;
            if batch == 0 || cut_max == 0 || cut_for.is_zero() || cut_for > std::time::Duration::from_secs(20) {
                return Err(Error::InvalidInput(
                    "--batch and --cut-max must be at least 1, --cut-for between 1ms and 20s".into(),
                ));
            }
            let opts = crate::lab::Options { batch, cut_for, cut_max };
            let say = |line: String| {
                if !json {
                    println!("{line}");
                }
            };
            let s = runtime(false).block_on(crate::lab::run(&config, &opts, &say))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                println!("acknowledged {}, received {}, lost {}", s.acknowledged, s.received, s.lost);
                println!("{}", s.explanation);
                println!("verdict: {}", s.verdict_line());
            }
            if s.verdict.passed() { Ok(()) } else { Err(Error::Verdict(s.verdict.to_string())) }
        }
        Command::Heal { target } => request(load()?, Request::Heal { target }),
        Command::Logs { target, follow, lines } => runtime(false).block_on(show::logs(load()?, &target, follow, lines)),
        Command::Events { follow, json } => runtime(false).block_on(show::events(load()?, follow, json)),
        Command::Bench { what: BenchOp::Lifecycle { ups, kills, out, json } } => {
            let results = crate::bench::lifecycle(ups, kills, 0)?;
            let when = time::OffsetDateTime::now_utc()
                .format(&time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC"))
                .unwrap_or_default();
            let text = crate::bench::report(&results, &when, &host());
            if json {
                let rows: Vec<_> = results
                    .iter()
                    .map(|(profile, s)| serde_json::json!({ "profile": profile, "up_ms": s.up_ms, "zk_ms": s.zk_ms, "failover_ms": s.failover_ms }))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
                eprintln!("{text}");
            } else {
                println!("{text}");
            }
            crate::bench::write_section(&out, "lifecycle", &text)?;
            eprintln!("written to {}", out.display());
            Ok(())
        }
        Command::Bench {
            what: BenchOp::Stomp { url, n, size, warmup, reps, pid, label, host, queue_prefix, json },
        } => {
            let opts = crate::bench::stomp::Options { url, n, size, warmup, reps, pid, label, host, queue_prefix };
            let run = crate::bench::stomp::run(&opts)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&run)?);
            }
            Ok(())
        }
        Command::Bench { what: BenchOp::Hostile { base, probes, fresh, commit, json, out } } => {
            let opts = crate::bench::hostile::Options { base, only: probes };
            crate::bench::hostile::command(&opts, &out, fresh, commit, json, host())
        }
        Command::Bench { what: BenchOp::Store { op } } => crate::bench::store::command(op, &cli.config, host()),
        Command::Bench { what: BenchOp::ClusterToml { base, sync } } => {
            crate::config::SyncMode::parse(&sync).map_err(Error::InvalidInput)?;
            let cluster =
                format!("brokerName = \"bench\"\nzkPath = \"/mqsim-bench/leveldb-stores\"\nsync = \"{sync}\"");
            print!("{}", crate::config::port_block_toml(base, &cluster, 500));
            Ok(())
        }
        Command::Bench { what: BenchOp::Disk { dir, appends, json } } => {
            let d = crate::bench::disk::run(&dir, appends)?;
            if json {
                println!("{}", serde_json::to_string(&d)?);
            } else {
                let io = d.alone_io.map_or(String::new(), |io| {
                    format!(" ({:.2} cache flushes, {:.1} KiB written per append)", io.flushes, io.kib_written)
                });
                println!(
                    "durable 1 KiB journal append: {:.0} µs alone{io}, {:.0} µs each with {} writers at once ({} each)",
                    d.alone_us,
                    d.together_us,
                    crate::bench::disk::WRITERS,
                    d.appends
                );
            }
            Ok(())
        }
        Command::Bench {
            what: BenchOp::StompReport { activemq, rabbitmq, quorum_mem, quorum_disk, disk, rabbitmq_left, build, out },
        } => {
            fn read<T: serde::de::DeserializeOwned>(p: &PathBuf) -> Result<T> {
                let text = std::fs::read_to_string(p).map_err(Error::io(format!("reading {}", p.display())))?;
                Ok(serde_json::from_str(&text)?)
            }
            let merged = |paths: &[PathBuf]| -> Result<crate::bench::stomp::Run> {
                crate::bench::stomp::Run::merge(paths.iter().map(read).collect::<Result<Vec<_>>>()?)
            };
            let runs = crate::bench::stomp::Runs {
                activemq: merged(&activemq)?,
                rabbitmq: merged(&rabbitmq)?,
                quorum_mem: merged(&quorum_mem)?,
                quorum_disk: merged(&quorum_disk)?,
                disk: disk.as_ref().map(read).transpose()?,
                rabbitmq_left: rabbitmq_left.as_ref().map(read).transpose()?,
            };
            let text = crate::bench::stomp::report(&runs, &host(), &build);
            println!("{text}");
            crate::bench::write_section(&out, "stomp", &text)?;
            eprintln!("written to {}", out.display());
            Ok(())
        }
        Command::Zk { op } => runtime(false).block_on(show::zk(load()?, op)),
        Command::Config { op } => config_cmd::run(&load()?, op),
        Command::Send(args) => client_cmds::send(args, load),
        Command::Recv(args) => client_cmds::recv(args, load),
    }
}

/// `cluster.toml` (the default, unset `MQSIM_CONFIG`) is looked for in the current directory,
/// then in its parents, as docker compose finds its file: `mqsim status` works from anywhere
/// inside the project. Any other path is taken as given.
fn discover(given: &std::path::Path) -> PathBuf {
    if given != std::path::Path::new("cluster.toml") || given.exists() {
        return given.to_path_buf();
    }
    let Ok(cwd) = std::env::current_dir() else { return given.to_path_buf() };
    cwd.ancestors().map(|d| d.join("cluster.toml")).find(|p| p.is_file()).unwrap_or_else(|| given.to_path_buf())
}

fn host() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name").map(|r| r.trim_start_matches([' ', '\t', ':']).to_string()))
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} × {cpu}")
}

fn runtime(multi: bool) -> tokio::runtime::Runtime {
    let mut b = if multi {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    b.enable_all().build().expect("tokio runtime")
}

fn act(config: Config, verb: Verb, target: String) -> Result<()> {
    request(config, Request::Act { verb, target })
}

fn act_explain(config: Config, verb: Verb, target: String, explain: bool) -> Result<()> {
    request(config.clone(), Request::Act { verb, target })?;
    if explain {
        print!("\n{}", runtime(false).block_on(crate::explain::run(&config, true))?.render());
    }
    Ok(())
}

fn request(config: Config, req: Request) -> Result<()> {
    runtime(false).block_on(async {
        match crate::hosts::request(&config, &req).await? {
            Response::Done { lines } => {
                for l in lines {
                    anstream::println!("{l}");
                }
                Ok(())
            }
            Response::Error { message } => Err(Error::Target(message)),
            Response::Status(_) => Err(Error::protocol("unexpected reply")),
        }
    })
}
