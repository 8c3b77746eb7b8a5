use super::*;

fn pg(data: DataState, running: bool) -> PgView {
    PgView { data, running, timeline: 1, lsn: 1000, ..Default::default() }
}

fn dcs(leader: Option<&str>) -> DcsView {
    DcsView { initialized: true, leader: leader.map(String::from), ..Default::default() }
}

fn obs(me: &str, mode: SyncMode, dcs: Option<DcsView>, pg: PgView, holds: bool) -> Observed {
    Observed { me: me.into(), mode, maximum_lag: 1 << 20, dcs, pg, holds_leadership: holds }
}

#[test]
fn a_new_cluster_is_bootstrapped_by_whoever_claims_it() {
    let d = DcsView::default();
    assert_eq!(decide(&obs("a", SyncMode::On, Some(d), pg(DataState::Missing, false), false)), [Action::Bootstrap]);
}

#[test]
fn without_the_coordinator_nothing_but_waiting() {
    for holds in [false, true] {
        for data in [DataState::Missing, DataState::Primary, DataState::Standby] {
            let acts = decide(&obs("a", SyncMode::On, None, pg(data, true), holds));
            assert!(matches!(&acts[..], [Action::Wait(_)]), "{acts:?}");
        }
    }
}

#[test]
fn a_keeper_that_lost_the_key_demotes() {
    for leader in [None, Some("b")] {
        let acts = decide(&obs("a", SyncMode::On, Some(dcs(leader)), pg(DataState::Primary, true), true));
        assert_eq!(acts, [Action::Demote { resign: false }]);
    }
}

#[test]
fn followers_clone_rewind_or_follow() {
    let o = |data, running| decide(&obs("b", SyncMode::On, Some(dcs(Some("a"))), pg(data, running), false));
    assert_eq!(o(DataState::Missing, false), [Action::Clone { leader: "a".into() }]);
    assert_eq!(o(DataState::Primary, true), [Action::Rewind { leader: "a".into() }]);
    assert_eq!(o(DataState::Standby, false), [Action::StartStandby { leader: Some("a".into()) }]);
    let mut following = pg(DataState::Standby, true);
    following.following = Some("a".into());
    assert!(decide(&obs("b", SyncMode::On, Some(dcs(Some("a"))), following.clone(), false)).is_empty());
    following.following = Some("c".into());
    assert_eq!(decide(&obs("b", SyncMode::On, Some(dcs(Some("a"))), following, false)), [Action::StartStandby { leader: Some("a".into()) }]);
}

#[test]
fn a_standby_is_cloned_afresh_only_when_stuck_while_its_leader_answers() {
    let secs = Duration::from_secs;
    for (down_for, leader_answers, reclone) in [
        (None, None, false),
        (Some(secs(5)), None, false),
        (Some(secs(59)), Some(true), false),
        // Only cut off from its leader: it may hold the only copy if the leader is lost.
        (Some(secs(600)), Some(false), false),
        (Some(secs(600)), None, false),
        (Some(secs(60)), Some(true), true),
        (Some(secs(1320)), Some(true), true),
    ] {
        let mut standby = pg(DataState::Standby, true);
        standby.following = Some("a".into());
        standby.receiver_down_for = down_for;
        standby.leader_answers = leader_answers;
        let acts = decide(&obs("b", SyncMode::On, Some(dcs(Some("a"))), standby, false));
        let want: Vec<Action> = if reclone { vec![Action::Reclone { leader: "a".into() }] } else { vec![] };
        assert_eq!(acts, want, "down for {down_for:?}, leader answers {leader_answers:?}");
    }
}

#[test]
fn in_synchronous_mode_only_the_recorded_standby_or_last_leader_takes_over() {
    let mut d = dcs(None);
    d.sync_leader = Some("a".into());
    d.sync_standby = Some("b".into());
    assert_eq!(decide(&obs("b", SyncMode::On, Some(d.clone()), pg(DataState::Standby, true), false)), [Action::AcquireLeader]);
    assert_eq!(decide(&obs("a", SyncMode::On, Some(d.clone()), pg(DataState::Primary, true), false)), [Action::AcquireLeader]);
    assert!(matches!(&decide(&obs("c", SyncMode::On, Some(d.clone()), pg(DataState::Standby, true), false))[..], [Action::Wait(_)]));
    // The sync standby was lost and recorded as such: the old leader alone had every commit.
    d.sync_standby = None;
    assert!(matches!(&decide(&obs("b", SyncMode::Strict, Some(d), pg(DataState::Standby, true), false))[..], [Action::Wait(_)]));
}

#[test]
fn in_asynchronous_mode_the_lag_limit_and_the_best_position_decide() {
    let mut d = dcs(None);
    d.members = vec![MemberView { name: "a".into(), lsn: 10 << 20, running: false }];
    let mut me = pg(DataState::Standby, true);
    me.lsn = 1 << 20;
    assert!(matches!(&decide(&obs("b", SyncMode::Off, Some(d.clone()), me.clone(), false))[..], [Action::Wait(w)] if w.contains("maximum_lag")));
    me.lsn = (10 << 20) - 100;
    assert_eq!(decide(&obs("b", SyncMode::Off, Some(d.clone()), me.clone(), false)), [Action::AcquireLeader]);
    d.members.push(MemberView { name: "c".into(), lsn: 10 << 20, running: true });
    assert!(matches!(&decide(&obs("b", SyncMode::Off, Some(d), me, false))[..], [Action::Wait(w)] if w.contains("ahead")));
}

#[test]
fn the_new_leader_promotes_or_starts_its_database() {
    let d = dcs(Some("a"));
    assert_eq!(decide(&obs("a", SyncMode::On, Some(d.clone()), pg(DataState::Standby, true), true)), [Action::Promote]);
    assert_eq!(decide(&obs("a", SyncMode::On, Some(d.clone()), pg(DataState::Primary, false), true)), [Action::StartPrimary]);
    assert_eq!(decide(&obs("a", SyncMode::On, Some(d.clone()), pg(DataState::Primary, true), false)), [Action::Reclaim]);
    // A keeper restarted after stopping its primary cleanly takes the key back too.
    assert_eq!(decide(&obs("a", SyncMode::On, Some(d.clone()), pg(DataState::Primary, false), false)), [Action::Reclaim]);
    assert!(matches!(&decide(&obs("a", SyncMode::On, Some(d), pg(DataState::Standby, true), false))[..], [Action::Wait(_)]));
}

/// The order of synchronous-mode steps: require, then record; unrecord, then drop.
#[test]
fn synchronous_standby_is_required_before_recorded_and_unrecorded_before_dropped() {
    let mut d = dcs(Some("a"));
    d.sync_leader = Some("a".into());
    d.members = ["a", "b"].map(|n| MemberView { name: n.into(), running: true, lsn: 1000 }).to_vec();
    let mut p = pg(DataState::Primary, true);
    // pg_basebackup cloning a new host streams too: never a synchronous standby candidate.
    p.replicas = vec![("pg_basebackup".into(), false)];
    let step = |d: &DcsView, p: &PgView, mode| decide(&obs("a", mode, Some(d.clone()), p.clone(), true));
    assert!(step(&d, &p, SyncMode::On).is_empty(), "{:?}", step(&d, &p, SyncMode::On));
    p.replicas = vec![("pg_basebackup".into(), false), ("b".into(), false)];

    assert_eq!(step(&d, &p, SyncMode::On), [Action::RequireStandby { names: "b".into() }]);
    p.sync_names = "b".into();
    assert!(matches!(&step(&d, &p, SyncMode::On)[..], [Action::Wait(_)]), "not yet sync in PostgreSQL");
    p.replicas = vec![("b".into(), true)];
    assert_eq!(step(&d, &p, SyncMode::On), [Action::RecordSync { standby: Some("b".into()) }]);
    d.sync_standby = Some("b".into());
    assert!(step(&d, &p, SyncMode::On).is_empty(), "steady state");

    // b is lost: first unrecord (on), then drop the requirement; strict keeps it.
    p.replicas.clear();
    assert_eq!(step(&d, &p, SyncMode::On), [Action::RecordSync { standby: None }]);
    assert!(matches!(&step(&d, &p, SyncMode::Strict)[..], [Action::Wait(_)]));
    d.sync_standby = None;
    assert_eq!(step(&d, &p, SyncMode::On), [Action::RequireStandby { names: String::new() }]);
    assert_eq!(step(&d, &p, SyncMode::Strict), [Action::RequireStandby { names: "*".into() }]);
}

#[test]
fn a_new_leader_first_records_itself_in_the_sync_key() {
    let mut d = dcs(Some("b"));
    d.sync_leader = Some("a".into());
    d.sync_standby = Some("b".into());
    let mut p = pg(DataState::Primary, true);
    p.sync_names = "b".into();
    assert_eq!(decide(&obs("b", SyncMode::On, Some(d), p, true)), [Action::RecordSync { standby: None }]);
}

#[test]
fn switchover_hands_over_only_to_a_ready_candidate() {
    let mut d = dcs(Some("a"));
    d.sync_leader = Some("a".into());
    d.sync_standby = Some("b".into());
    d.failover_candidate = Some("b".into());
    let mut p = pg(DataState::Primary, true);
    p.sync_names = "b".into();
    assert!(matches!(&decide(&obs("a", SyncMode::On, Some(d.clone()), p.clone(), true))[..], [Action::Wait(_)]));
    p.replicas = vec![("b".into(), true)];
    assert_eq!(decide(&obs("a", SyncMode::On, Some(d.clone()), p, true)), [Action::Demote { resign: true }]);
    // Others leave the key to the candidate.
    let mut free = d.clone();
    free.leader = None;
    assert!(matches!(&decide(&obs("a", SyncMode::On, Some(free), pg(DataState::Primary, true), false))[..], [Action::Wait(_)]));
}

/// Every combination: the safety rules hold whatever the situation.
#[test]
fn safety_rules_hold_in_every_combination() {
    let names = [None, Some("a"), Some("b"), Some("c")];
    let mut n = 0;
    for mode in [SyncMode::Off, SyncMode::On, SyncMode::Strict] {
        for data in [DataState::Missing, DataState::Primary, DataState::Standby] {
            for running in [false, true] {
                for holds in [false, true] {
                    for leader in names {
                        for sync_standby in names {
                            for sync_leader in names {
                                for candidate in names {
                                    let mut d = dcs(leader);
                                    d.sync_standby = sync_standby.map(String::from);
                                    d.sync_leader = sync_leader.map(String::from);
                                    d.failover_candidate = candidate.map(String::from);
                                    let o = obs("a", mode, Some(d.clone()), pg(data, running), holds);
                                    let acts = decide(&o);
                                    n += 1;
                                    for act in &acts {
                                        match act {
                                            Action::AcquireLeader => {
                                                assert!(leader.is_none() && !holds, "{o:?}");
                                                assert!(candidate.is_none() || candidate == Some("a"), "{o:?}");
                                                if mode != SyncMode::Off {
                                                    assert!(sync_standby == Some("a") || sync_leader == Some("a"), "unsafe takeover {o:?}");
                                                }
                                            }
                                            Action::Promote | Action::StartPrimary | Action::RequireStandby { .. } | Action::RecordSync { .. } => {
                                                assert!(holds && leader == Some("a"), "{act:?} without the key: {o:?}")
                                            }
                                            Action::Reclaim => assert!(leader == Some("a") && data == DataState::Primary),
                                            Action::Clone { leader: l } | Action::Rewind { leader: l } => {
                                                assert_eq!(Some(l.as_str()), leader);
                                                assert_ne!(l, "a");
                                            }
                                            _ => {}
                                        }
                                    }
                                    if holds && leader != Some("a") {
                                        assert_eq!(acts, [Action::Demote { resign: false }], "{o:?}");
                                    }
                                    // Recording a standby happens only when PostgreSQL counts it synchronous.
                                    assert!(!acts.iter().any(|a| matches!(a, Action::RecordSync { standby: Some(_) })));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(n, 3 * 3 * 2 * 2 * 4 * 4 * 4 * 4);
}

/// The fresh-lease rule: a keeper whose leadership is not backed by a lease renewed in time
/// (restarted, frozen, cut off) never starts or promotes a primary; it only reclaims the key
/// (which binds it to a lease it renews now) or waits.
#[test]
fn without_a_fresh_lease_no_primary_is_started_or_promoted() {
    for mode in [SyncMode::On, SyncMode::Strict, SyncMode::Off] {
        for data in [DataState::Missing, DataState::Primary, DataState::Standby] {
            for running in [false, true] {
                for leader in [Some("a"), Some("b"), None] {
                    let mut d = dcs(leader);
                    d.sync_leader = Some("a".into());
                    d.sync_standby = Some("b".into());
                    for a in decide(&obs("a", mode, Some(d), pg(data, running), false)) {
                        assert!(!matches!(a, Action::StartPrimary | Action::Promote | Action::RequireStandby { .. } | Action::RecordSync { .. }), "{mode:?} {data:?} {running} {leader:?}: {a:?}");
                    }
                }
            }
        }
    }
}

/// A standby never takes over early, not even the synchronous one: while the leader key exists
/// (its holder's lease has not expired) nothing but following it is decided, in every mode.
#[test]
fn no_takeover_while_the_leader_key_exists() {
    for mode in [SyncMode::On, SyncMode::Strict, SyncMode::Off] {
        for data in [DataState::Missing, DataState::Primary, DataState::Standby] {
            for running in [false, true] {
                let mut d = dcs(Some("a"));
                d.sync_leader = Some("a".into());
                d.sync_standby = Some("b".into());
                for a in decide(&obs("b", mode, Some(d), pg(data, running), false)) {
                    assert!(!matches!(a, Action::AcquireLeader | Action::Promote | Action::StartPrimary | Action::Bootstrap), "{mode:?} {data:?} {running}: {a:?}");
                }
            }
        }
    }
}
