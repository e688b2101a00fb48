//! The election rule driven over an in-memory "ZooKeeper": a vector of members in znode
//! order, each node stepping and writing its state until nothing changes.

use super::*;

/// A fake group: members in creation order, plus each node's elector.
struct Sim {
    next_seq: u32,
    znodes: Vec<(String, NodeState)>,
    nodes: Vec<(Elector, i64, bool)>, // elector, store position, alive
}

impl Sim {
    fn new(positions: &[i64]) -> Sim {
        let mut sim = Sim { next_seq: 0, znodes: Vec::new(), nodes: Vec::new() };
        for (i, &p) in positions.iter().enumerate() {
            sim.nodes.push((Elector::new("localhost", 3, 1).with_container(&format!("node{i}")), p, false));
        }
        sim
    }

    /// All nodes joined in order and settled.
    fn started(positions: &[i64]) -> Sim {
        let mut sim = Sim::new(positions);
        for i in 0..positions.len() {
            sim.join(i);
        }
        sim.settle();
        sim
    }

    fn join(&mut self, i: usize) {
        let eid = format!("{:010}", self.next_seq);
        self.next_seq += 1;
        let e = &mut self.nodes[i].0;
        *e = Elector::new("localhost", 3, e.state().weight).with_container(&format!("node{i}"));
        e.registered(eid.clone());
        self.znodes.push((eid, e.initial_state()));
        self.nodes[i].2 = true;
    }

    fn leave(&mut self, i: usize) {
        let eid = self.nodes[i].0.me().unwrap().to_string();
        self.znodes.retain(|(e, _)| *e != eid);
        self.nodes[i].2 = false;
    }

    fn members(&self) -> Vec<Member> {
        self.znodes.iter().map(|(eid, s)| Member { eid: eid.clone(), state: s.clone() }).collect()
    }

    /// Step every live node until no znode changes; demoted nodes re-join (as ActiveMQ restarts).
    fn settle(&mut self) -> Vec<(usize, Action)> {
        let mut log = Vec::new();
        for _round in 0..50 {
            let mut changed = false;
            for i in 0..self.nodes.len() {
                if !self.nodes[i].2 {
                    continue;
                }
                let group = self.members();
                let pos = self.nodes[i].1;
                let actions = self.nodes[i].0.step(Some(&group), pos);
                let mut restart = false;
                for a in actions {
                    match &a {
                        Action::Promote => self.nodes[i].0.master_started(format!("tcp://node{i}:63631")),
                        Action::Demote { .. } => restart = true,
                        _ => {}
                    }
                    log.push((i, a));
                }
                if restart {
                    self.leave(i);
                    self.join(i);
                    changed = true;
                    continue;
                }
                let me = self.nodes[i].0.me().unwrap().to_string();
                let state = self.nodes[i].0.state().clone();
                let slot = self.znodes.iter_mut().find(|(e, _)| *e == me).unwrap();
                if !slot.1.same_as(&state) {
                    slot.1 = state;
                    changed = true;
                }
            }
            if !changed {
                return log;
            }
        }
        panic!("election did not settle: {:?}", self.znodes);
    }

    fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].2 && matches!(self.nodes[i].0.role(), Role::Master { address: Some(_) }))
            .collect()
    }
}

#[test]
fn eid_parsing_follows_the_member_regex() {
    assert_eq!(eid_of("00000000003").as_deref(), Some("0000000003"));
    assert_eq!(eid_of("0"), None);
    assert_eq!(eid_of("lock-0001"), None);
    assert_eq!(eid_of("1000"), None);
}

#[test]
fn znode_json_matches_activemq_field_order() {
    let e = Elector::new("localhost", 3, 1);
    let json = serde_json::to_string(&e.initial_state()).unwrap();
    assert_eq!(json, r#"{"id":"localhost","container":null,"address":null,"position":-1,"weight":1,"elected":null}"#);
}

#[test]
fn fresh_cluster_elects_exactly_one_master_and_others_follow() {
    let sim = Sim::started(&[0, 0, 0]);
    assert_eq!(sim.masters(), vec![0], "full tie goes to the oldest member");
    for i in 1..3 {
        assert_eq!(
            sim.nodes[i].0.role(),
            &Role::Slave {
                master: "0000000000".into(),
                target: Some("tcp://node0:63631".into()),
                node: Some("node0".into())
            }
        );
    }
    // Only the elector's znode carries `elected`; positions are -1 while a master is elected.
    assert_eq!(sim.znodes[0].1.elected.as_deref(), Some("0000000000"));
    assert!(sim.znodes[1..].iter().all(|(_, s)| s.elected.is_none()));
    assert!(sim.znodes.iter().all(|(_, s)| s.position == -1));
}

#[test]
fn highest_position_wins_then_weight() {
    let sim = Sim::started(&[10, 30, 20]);
    assert_eq!(sim.masters(), vec![1]);

    let mut sim = Sim::new(&[5, 5, 5]);
    sim.nodes[2].0 = Elector::new("localhost", 3, 7);
    for i in 0..3 {
        sim.join(i);
    }
    sim.settle();
    assert_eq!(sim.masters(), vec![2]);
}

#[test]
fn no_master_without_quorum() {
    let mut sim = Sim::new(&[0, 0, 0]);
    sim.join(0);
    let log = sim.settle();
    assert!(sim.masters().is_empty());
    assert!(log.iter().any(
        |(_, a)| matches!(a, Action::Waiting { reason } if reason.contains("Not enough cluster members connected"))
    ));
    sim.join(1);
    sim.settle();
    assert_eq!(sim.masters().len(), 1);
}

#[test]
fn master_loss_elects_a_slave() {
    // A master that is not the elector: node 1 wins by having more data.
    let mut sim = Sim::started(&[0, 9, 0]);
    assert_eq!(sim.masters(), vec![1]);
    sim.leave(1);
    let log = sim.settle();
    assert!(log.iter().any(|(_, a)| matches!(a, Action::Waiting { reason } if reason.contains("not online"))));
    assert_eq!(sim.masters().len(), 1);
    assert_ne!(sim.masters(), vec![1]);
}

#[test]
fn losing_the_elector_restarts_the_election_and_demotes_the_master() {
    // node 1 is master, node 0 the elector.
    let mut sim = Sim::started(&[0, 9, 0]);
    sim.leave(0);
    let log = sim.settle();
    assert!(log.iter().any(|(i, a)| *i == 1 && matches!(a, Action::Demote { .. })));
    assert_eq!(sim.masters().len(), 1);
}

#[test]
fn disconnected_master_steps_down_at_once() {
    let mut sim = Sim::started(&[0, 0, 0]);
    let actions = sim.nodes[0].0.step(None, 0);
    assert!(matches!(&actions[..], [Action::Demote { reason }] if reason.contains("ZooKeeper connection")));
    assert_eq!(sim.nodes[0].0.role(), &Role::Electing);
}

#[test]
fn losing_quorum_demotes_the_master() {
    let mut sim = Sim::started(&[0, 0, 0]);
    sim.leave(1);
    sim.leave(2);
    let log = sim.settle();
    assert!(log.iter().any(|(i, a)| *i == 0 && matches!(a, Action::Demote { .. })));
    assert!(sim.masters().is_empty());
}

#[test]
fn rejoining_node_becomes_a_slave_even_with_more_data() {
    let mut sim = Sim::started(&[0, 0, 0]);
    sim.leave(2);
    sim.settle();
    sim.nodes[2].1 = 1_000;
    sim.join(2);
    sim.settle();
    assert_eq!(sim.masters(), vec![0]);
    assert!(matches!(sim.nodes[2].0.role(), Role::Slave { .. }));
}
