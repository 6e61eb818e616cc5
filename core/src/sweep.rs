//! The orphan sweeper's decisions, pure: given a group as read from Spot and what the table knows of
//! the rollouts that touched it, what is left behind and how to repair it. Green instances whose
//! rollout did not succeed (or is unknown) are orphans; capacity that differs from the snapshot of
//! the group's last finished rollout is drift.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cloud::{Capacity, GroupView, InstanceState, InstanceView};
use crate::ids::{ElastigroupId, InstanceId};
use crate::request::ROLLOUT_TAG_KEY;
use crate::saga::{Outcome, Saga};

/// What the table says of one rollout, as far as the sweeper cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// Still running: its instances and capacity are its own business.
    Active,
    /// Finished with this outcome; `snapshot` is the capacity it promised to leave.
    Finished {
        /// How it ended.
        outcome: Outcome,
        /// Capacity before it started, if it got that far.
        snapshot: Option<Capacity>,
        /// When it finished (for "the latest finished rollout").
        finished_at: crate::ids::Timestamp,
    },
}

impl Known {
    /// What a saga tells the sweeper.
    #[must_use]
    pub fn of(saga: &Saga) -> Self {
        match saga.outcome() {
            None => Self::Active,
            Some(o) => {
                Self::Finished { outcome: o.clone(), snapshot: saga.facts.snapshot, finished_at: saga.updated_at }
            }
        }
    }
}

/// One repair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Repair {
    /// Detach and terminate instances left by rollouts that did not succeed (or that nobody knows).
    RemoveOrphans {
        /// The group.
        group: ElastigroupId,
        /// The instances, with the rollout tag each carries.
        instances: Vec<(InstanceId, String)>,
    },
    /// Put capacity back to the last finished rollout's snapshot.
    RestoreCapacity {
        /// The group.
        group: ElastigroupId,
        /// What it is.
        now: Capacity,
        /// What it should be.
        snapshot: Capacity,
        /// The rollout whose snapshot it is.
        rollout: String,
    },
}

impl std::fmt::Display for Repair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RemoveOrphans { group, instances } => {
                let list: Vec<String> = instances.iter().map(|(i, r)| format!("{i} (rollout {r})")).collect();
                write!(f, "{group}: detach and terminate {}", list.join(", "))
            }
            Self::RestoreCapacity { group, now, snapshot, rollout } => {
                write!(f, "{group}: capacity is {now}; restore {snapshot} (snapshot of rollout {rollout})")
            }
        }
    }
}

fn rollout_tag(i: &InstanceView) -> Option<&str> {
    i.tags.iter().find(|t| t.key == ROLLOUT_TAG_KEY).map(|t| t.value.as_str())
}

/// Plans the repairs of one group. `rollouts` maps rollout ids (the tag values) to what the table knows;
/// a group with an active rollout is left alone entirely.
#[must_use]
pub fn plan(
    group: &GroupView,
    instances: &[InstanceView],
    rollouts: &BTreeMap<String, Known>,
    on_group: &[String],
) -> Vec<Repair> {
    if on_group.iter().any(|id| rollouts.get(id) == Some(&Known::Active)) {
        return Vec::new();
    }
    let mut repairs = Vec::new();
    let orphans: Vec<(InstanceId, String)> = instances
        .iter()
        .filter(|i| i.state != InstanceState::Terminating)
        .filter_map(|i| rollout_tag(i).map(|r| (i, r)))
        .filter(|(_, r)| match rollouts.get(*r) {
            None => true,
            Some(Known::Active) => false,
            Some(Known::Finished { outcome, .. }) => !matches!(outcome, Outcome::Succeeded),
        })
        .map(|(i, r)| (i.id.clone(), r.to_owned()))
        .collect();
    if !orphans.is_empty() {
        repairs.push(Repair::RemoveOrphans { group: group.id.clone(), instances: orphans });
    }
    let latest = on_group
        .iter()
        .filter_map(|id| match rollouts.get(id) {
            Some(Known::Finished { snapshot: Some(s), finished_at, .. }) => Some((finished_at, id, *s)),
            _ => None,
        })
        .max_by_key(|(at, _, _)| **at);
    if let Some((_, id, snapshot)) = latest
        && group.capacity != snapshot
    {
        repairs.push(Repair::RestoreCapacity {
            group: group.id.clone(),
            now: group.capacity,
            snapshot,
            rollout: id.clone(),
        });
    }
    repairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{Tag, Timestamp};

    fn group(c: Capacity) -> GroupView {
        GroupView {
            id: ElastigroupId::parse("sig-1").unwrap(),
            name: "g".into(),
            capacity: c,
            tags: vec![],
            codedeploy: vec![],
        }
    }

    fn instance(id: &str, rollout: Option<&str>) -> InstanceView {
        let tags = rollout.map(|r| vec![Tag { key: ROLLOUT_TAG_KEY.into(), value: r.into() }]).unwrap_or_default();
        InstanceView { id: InstanceId::parse(id).unwrap(), state: InstanceState::Running, private_ip: None, tags }
    }

    fn finished(outcome: Outcome, snapshot: Capacity, at: u64) -> Known {
        Known::Finished { outcome, snapshot: Some(snapshot), finished_at: Timestamp(at) }
    }

    const C1: Capacity = Capacity { minimum: 1, maximum: 1, target: 1 };
    const C2: Capacity = Capacity { minimum: 1, maximum: 2, target: 2 };

    #[test]
    fn orphans_of_failed_and_unknown_rollouts_and_capacity_drift_are_found() {
        let rolled_back = Outcome::RolledBack { reason: "x".into() };
        let rollouts = BTreeMap::from([
            ("ok".to_owned(), finished(Outcome::Succeeded, C1, 1)),
            ("bad".to_owned(), finished(rolled_back, C1, 2)),
        ]);
        let instances = [
            instance("i-1", Some("ok")),
            instance("i-2", Some("bad")),
            instance("i-3", Some("ghost")),
            instance("i-4", None),
        ];
        let on_group = ["ok".to_owned(), "bad".to_owned()];
        let repairs = plan(&group(C2), &instances, &rollouts, &on_group);
        assert_eq!(repairs.len(), 2);
        let Repair::RemoveOrphans { instances, .. } = &repairs[0] else { panic!("{repairs:?}") };
        let ids: Vec<&str> = instances.iter().map(|(i, _)| i.as_str()).collect();
        assert_eq!(ids, ["i-2", "i-3"]);
        assert_eq!(
            repairs[1],
            Repair::RestoreCapacity { group: group(C2).id, now: C2, snapshot: C1, rollout: "bad".into() }
        );
        assert!(repairs[1].to_string().contains("restore [Target 1, Min 1, Max 1]"));
    }

    #[test]
    fn a_group_with_an_active_rollout_is_left_alone_and_a_clean_one_needs_nothing() {
        let rollouts = BTreeMap::from([("now".to_owned(), Known::Active)]);
        let instances = [instance("i-2", Some("ghost"))];
        assert!(plan(&group(C2), &instances, &rollouts, &["now".to_owned()]).is_empty());
        let rollouts = BTreeMap::from([("ok".to_owned(), finished(Outcome::Succeeded, C1, 1))]);
        assert!(plan(&group(C1), &[instance("i-1", Some("ok"))], &rollouts, &["ok".to_owned()]).is_empty());
    }
}
