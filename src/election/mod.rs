//! Master election through ZooKeeper, exactly as ActiveMQ's replicated LevelDB store did it.
//!
//! # How it works
//!
//! Every broker registers one `EPHEMERAL_SEQUENTIAL` znode `<zkPath>/0` (ZooKeeper appends
//! a 10-digit counter, so names look like `00000000003`) whose data is the JSON
//! [`NodeState`]: `{"id", "container", "address", "position", "weight", "elected"}`.
//! The 10-digit counter (the name minus its leading `0`) is the member's *eid*.
//!
//! The member with the lowest sequence among those with the same `id` (brokerName) is the
//! **elector**: it alone decides, and it publishes the decision as the eid in its own
//! `elected` field. The elector is not necessarily the master. Its rule:
//!
//! 1. fewer than `replicas/2 + 1` members: nobody may be master (`elected = null`);
//! 2. the previously elected eid left the group: start a new election;
//! 3. to elect, every member must have reported its `position` (the byte length of its
//!    journal, `-1` = not reported yet); the winner is the highest position, then the
//!    highest `weight`; full ties go to the oldest member.
//!
//! Everybody reads `elected` from the head znode. A node that finds itself elected is
//! *promoted*: it binds its replication port, publishes `address`, and only then opens its
//! client ports. The others become slaves of that `address`, and at login require the peer
//! there to prove both the cluster's token and that it is the node named in the elected
//! znode's `container` (see [`crate::replication`]). While a master is elected,
//! every node reports `position = -1`; positions are only published while electing.
//!
//! A master that stops being the elected one — because the elector changed its mind, the
//! quorum was lost, or *its own ZooKeeper connection dropped* — is **demoted**: ActiveMQ
//! restarted the whole broker, which closed every client connection and re-joined the group
//! as a new (youngest) member. That self-demotion on disconnect, before the session can
//! expire on the server, is the only guard against two masters; there is no epoch or
//! fencing token.
//!
//! # Who may write the group
//!
//! With `zkPassword` set (the default), every znode mqsim creates carries a digest ACL:
//! whoever logs in with the password may do everything, anyone else may only read
//! ([`zookeeper`]). So `zkCli get` still shows `elected`, but a process without the password
//! can neither point the master's `address` elsewhere, nor register a fake member (one with a
//! huge `position` would win the next election), nor delete one. ActiveMQ logged in with the
//! same `fabric:<password>` digest but created every znode `world:anyone:cdrwa`, so its
//! password protected nothing. Even so, a rewritten address only costs availability: the
//! slaves refuse a peer that cannot prove the replication token (see [`crate::replication`]).
//! The password is in `cluster.toml`, readable by whoever can read that file.
//!
//! # Caveats (faithful to ActiveMQ, surprising to students)
//!
//! * Losing the *elector* while the master lives makes the next-oldest member elector with
//!   `elected = null`; the running master then steps down and a fresh election follows.
//! * A crashed node's znode lingers until its session expires (`zkSessionTimeout`,
//!   clamped by the server to `[2, 20] × tickTime`), so failover after `kill -9` takes
//!   about one session timeout; a clean stop deletes the znode at once.
//! * Positions are plain byte offsets: two diverged journals of equal length compare equal.
//!
//! The decision logic here is a plain state machine ([`Elector::step`]) fed with a view of
//! the group; [`zookeeper`] does the I/O, and the tests below drive several electors over
//! an in-memory group.

pub mod lease;
pub mod zookeeper;

use serde::{Deserialize, Serialize};

/// The JSON in each member's znode (field order as ActiveMQ's Jackson wrote it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    /// The brokerName: members are grouped by it.
    pub id: String,
    /// The node's name (`[[node]] name`), as Fabric put its container name here: a slave
    /// checks at login that the master it dials proves to be this node.
    pub container: Option<String>,
    /// `tcp://host:port` of the master's replication server; only set on the running master.
    pub address: Option<String>,
    /// Journal append position while electing; `-1` while a master is elected.
    pub position: i64,
    pub weight: i32,
    /// Only in the elector's znode: the eid of the chosen master.
    pub elected: Option<String>,
}

impl NodeState {
    /// ActiveMQ skips a write when only `weight` differs.
    fn same_as(&self, other: &NodeState) -> bool {
        self.id == other.id
            && self.container == other.container
            && self.address == other.address
            && self.position == other.position
            && self.elected == other.elected
    }
}

/// One registered member as read from ZooKeeper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The znode name minus its leading `0`: ten digits.
    pub eid: String,
    pub state: NodeState,
}

/// `00000000003` → `Some("0000000003")`; names not matching `0\d+` are not members.
pub fn eid_of(znode: &str) -> Option<String> {
    let rest = znode.strip_prefix('0')?;
    (!rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit())).then(|| rest.to_string())
}

/// Where this node stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Role {
    /// Registered, no master known (or not yet registered).
    Electing,
    /// Following the elected master; `target` is its published address (may still be null),
    /// `node` the node name its znode gives (what the master must prove to be at login).
    Slave { master: String, target: Option<String>, node: Option<String> },
    /// Elected; `address` is set once the replication port is bound.
    Master { address: Option<String> },
}

impl Role {
    pub fn name(&self) -> &'static str {
        match self {
            Role::Electing => "electing",
            Role::Slave { .. } => "slave",
            Role::Master { .. } => "master",
        }
    }
}

/// What the I/O layer must do after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// "Promoted to master": bind the replication port, then call [`Elector::master_started`].
    Promote,
    /// "Demoted to slave": close every client connection and restart as a new member.
    Demote {
        reason: String,
    },
    /// Attach to (or stop following, when `None`) a master's replication address; `node`
    /// is the elected master's node name, which it must prove to be.
    Follow {
        master: String,
        target: Option<String>,
        node: Option<String>,
    },
    StopSlave,
    /// The elector changed `elected` (for the event log).
    Elected {
        eid: Option<String>,
        reason: String,
    },
    /// The elector is waiting, with the reason ActiveMQ logged.
    Waiting {
        reason: String,
    },
}

/// The per-node election state machine.
#[derive(Debug, Clone)]
pub struct Elector {
    broker_name: String,
    replicas: usize,
    /// My eid once registered.
    me: Option<String>,
    role: Role,
    /// What my znode should contain now.
    state: NodeState,
    /// Last reason the elector logged (to log each reason once).
    last_wait: Option<String>,
}

impl Elector {
    pub fn new(broker_name: &str, replicas: usize, weight: i32) -> Elector {
        Elector {
            broker_name: broker_name.to_string(),
            replicas,
            me: None,
            role: Role::Electing,
            state: NodeState {
                id: broker_name.to_string(),
                container: None,
                address: None,
                position: -1,
                weight,
                elected: None,
            },
            last_wait: None,
        }
    }

    /// Publishes this node's name as `container` (see [`NodeState::container`]).
    pub fn with_container(mut self, name: &str) -> Elector {
        self.state.container = Some(name.to_string());
        self
    }

    /// The JSON to register with (position -1: not reported yet).
    pub fn initial_state(&self) -> NodeState {
        self.state.clone()
    }

    pub fn registered(&mut self, eid: String) {
        self.me = Some(eid);
    }

    pub fn me(&self) -> Option<&str> {
        self.me.as_deref()
    }

    pub fn role(&self) -> &Role {
        &self.role
    }

    pub fn state(&self) -> &NodeState {
        &self.state
    }

    /// Whether `state()` differs from what was last written (ignoring `weight`).
    pub fn needs_write(&self, written: &NodeState) -> bool {
        !self.state.same_as(written)
    }

    /// The replication port is bound: publish the address.
    pub fn master_started(&mut self, address: String) {
        if let Role::Master { address: a } = &mut self.role {
            *a = Some(address.clone());
            self.state.address = Some(address);
        }
    }

    /// One round: `group` is the members read from ZooKeeper in znode order, or `None`
    /// while disconnected. `store_position` is this node's journal length.
    pub fn step(&mut self, group: Option<&[Member]>, store_position: i64) -> Vec<Action> {
        let mut actions = Vec::new();
        let members: Vec<&Member> =
            group.unwrap_or_default().iter().filter(|m| m.state.id == self.broker_name).collect();
        let head = members.first();
        let i_am_elector = head.is_some() && head.map(|m| Some(m.eid.as_str())) == Some(self.me.as_deref());

        // 1. The elector decides.
        if i_am_elector {
            let decided = self.decide(&members, &mut actions);
            if decided != self.state.elected {
                let reason = match &decided {
                    Some(_) => "highest position, then weight, then oldest member".to_string(),
                    None => self.last_wait.clone().unwrap_or_else(|| "no master".into()),
                };
                actions.push(Action::Elected { eid: decided.clone(), reason });
            }
            self.state.elected = decided;
        } else {
            self.state.elected = None;
            self.last_wait = None;
        }

        // 2. Everybody reads the decision from the head znode (mine if I am the elector).
        let master_elected = if group.is_none() {
            None
        } else if i_am_elector {
            self.state.elected.clone()
        } else {
            head.and_then(|m| m.state.elected.clone())
        };
        let i_am_elected = master_elected.is_some() && master_elected.as_deref() == self.me.as_deref();

        // 3. Role transitions.
        match (&self.role, i_am_elected) {
            (Role::Master { .. }, false) => {
                let reason = if group.is_none() {
                    "lost the ZooKeeper connection".to_string()
                } else if members.len() < self.quorum() {
                    format!("only {} of {} members registered (quorum {})", members.len(), self.replicas, self.quorum())
                } else {
                    match &master_elected {
                        Some(eid) => format!("the elector now names {eid}"),
                        None => "the elector cleared `elected`".to_string(),
                    }
                };
                self.role = Role::Electing;
                self.state.address = None;
                actions.push(Action::Demote { reason });
            }
            (Role::Master { .. }, true) => {}
            (_, true) => {
                if matches!(self.role, Role::Slave { .. }) {
                    actions.push(Action::StopSlave);
                }
                self.role = Role::Master { address: None };
                actions.push(Action::Promote);
            }
            (_, false) => {
                let next = master_elected.as_ref().map(|eid| {
                    let elected = members.iter().find(|m| &m.eid == eid);
                    let target = elected.and_then(|m| m.state.address.clone());
                    (eid.clone(), target, elected.and_then(|m| m.state.container.clone()))
                });
                match (next, &self.role) {
                    (Some((master, target, node)), Role::Slave { master: m, target: t, node: n })
                        if *m == master && *t == target && *n == node => {}
                    (Some((master, target, node)), _) => {
                        self.role = Role::Slave { master: master.clone(), target: target.clone(), node: node.clone() };
                        actions.push(Action::Follow { master, target, node });
                    }
                    (None, Role::Slave { .. }) => {
                        self.role = Role::Electing;
                        actions.push(Action::StopSlave);
                    }
                    (None, _) => {}
                }
            }
        }

        // 4. Position: reported only while no master is elected.
        self.state.position = match (&master_elected, &self.role) {
            (Some(_), _) | (None, Role::Master { .. }) => -1,
            (None, _) => store_position,
        };
        actions
    }

    fn quorum(&self) -> usize {
        self.replicas / 2 + 1
    }

    /// The elector's rule (module docs, 1–3). Returns the eid to publish.
    fn decide(&mut self, members: &[&Member], actions: &mut Vec<Action>) -> Option<String> {
        let mut wait = |this: &mut Self, reason: String| {
            if this.last_wait.as_deref() != Some(&reason) {
                actions.push(Action::Waiting { reason: reason.clone() });
                this.last_wait = Some(reason);
            }
        };
        if members.len() < self.quorum() {
            wait(
                self,
                format!(
                    "Not enough cluster members connected to elect a master ({} of {}, quorum {})",
                    members.len(),
                    self.replicas,
                    self.quorum()
                ),
            );
            return None;
        }
        if let Some(prev) = &self.state.elected {
            if members.iter().any(|m| &m.eid == prev) {
                return Some(prev.clone());
            }
            wait(self, format!("Previously elected master {prev} is not online, starting new election"));
        }
        let unreported = members.iter().filter(|m| m.state.position < 0).count();
        if unreported > 0 {
            wait(
                self,
                format!("Not enough cluster members have reported their update positions yet ({unreported} pending)"),
            );
            return None;
        }
        // max_by keeps the *last* maximum; iterate youngest-first so ties go to the oldest.
        let winner = members.iter().rev().max_by_key(|m| (m.state.position, m.state.weight)).map(|m| m.eid.clone());
        self.last_wait = None;
        winner
    }
}

#[cfg(test)]
mod tests;
