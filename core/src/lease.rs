//! The leases that serialize rollouts per Elastigroup and deployment group (F12): their names and
//! what asking for them answers. Plain data, below the effects and the saga that carry it
//! (re-exported by [`crate::ports`], whose [`crate::ports::Leases`] takes them).

use serde::{Deserialize, Serialize};

use crate::cloud::DeploymentGroupRef;
use crate::ids::{ElastigroupId, RolloutId};

/// A lock name: one per Elastigroup and one per deployment group (F12).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LeaseKey(pub String);

impl LeaseKey {
    /// The lease on an Elastigroup.
    #[must_use]
    pub fn group(id: &ElastigroupId) -> Self {
        Self(format!("group#{id}"))
    }

    /// The lease on a deployment group.
    #[must_use]
    pub fn deployment_group(g: &DeploymentGroupRef) -> Self {
        Self(format!("dg#{g}"))
    }
}

/// Result of asking for leases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeaseOutcome {
    /// All keys are ours (newly, or already).
    Acquired,
    /// One key is held by another rollout.
    Busy {
        /// The key.
        key: LeaseKey,
        /// Who holds it.
        holder: RolloutId,
    },
}
