//! Time in the model. Nothing runs by itself: every future happening (an instance reaching Running,
//! tags landing, a terminated instance vanishing, Spot's B/G deadline, a deployment's next step) is a
//! due time stored on the thing it concerns. [`Model::advance`] applies them in time order up to now.

use greenfleet_core::cloud::InstanceState;
use greenfleet_core::ids::{ElastigroupId, InstanceId, Timestamp};

use crate::model::Model;

/// One thing that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Happening {
    /// A Pending instance becomes Running.
    Running(ElastigroupId, InstanceId),
    /// Late (green) tags land on an instance.
    Tagged(ElastigroupId, InstanceId),
    /// A Terminating instance disappears from its group.
    Gone(ElastigroupId, InstanceId),
    /// Spot's Blue/Green deadline on a group.
    GreenDeadline(ElastigroupId),
    /// Spot finishes a group's Blue/Green deployment some time after CodeDeploy succeeded.
    GreenFinish(ElastigroupId),
    /// A deployment's next lifecycle step (index into `Model::deployments`).
    DeploymentStep(usize),
}

impl Model {
    /// The earliest due happening; ties go to groups (by id, instances oldest first), then deployments
    /// in creation order, so a run is reproducible.
    pub(crate) fn next_due(&self) -> Option<(Timestamp, Happening)> {
        let mut best: Option<(Timestamp, Happening)> = None;
        let mut offer = |t: Option<Timestamp>, h: &dyn Fn() -> Happening| {
            if let Some(t) = t
                && best.as_ref().is_none_or(|(b, _)| t < *b)
            {
                best = Some((t, h()));
            }
        };
        for (gid, g) in &self.groups {
            for i in &g.instances {
                let running = (i.state == InstanceState::Pending).then_some(i.running_at).flatten();
                offer(running, &|| Happening::Running(gid.clone(), i.id.clone()));
                offer(i.tags_due(), &|| Happening::Tagged(gid.clone(), i.id.clone()));
                let gone = (i.state == InstanceState::Terminating).then_some(i.gone_at).flatten();
                offer(gone, &|| Happening::Gone(gid.clone(), i.id.clone()));
            }
            offer(Self::green_deadline(g), &|| Happening::GreenDeadline(gid.clone()));
            offer(Self::green_finish(g), &|| Happening::GreenFinish(gid.clone()));
        }
        for (idx, d) in self.deployments.iter().enumerate() {
            offer(d.next_at, &|| Happening::DeploymentStep(idx));
        }
        best
    }

    /// Applies everything due at or before `to`, in time order, then sets model time to `to`.
    pub(crate) fn advance(&mut self, to: Timestamp) {
        while let Some((at, happening)) = self.next_due() {
            if at > to {
                break;
            }
            self.now = self.now.max(at);
            self.apply(happening);
        }
        self.now = self.now.max(to);
    }

    fn apply(&mut self, happening: Happening) {
        match happening {
            Happening::Running(gid, iid) => {
                if let Some(i) = self.instance_mut(&gid, &iid) {
                    i.state = InstanceState::Running;
                }
            }
            Happening::Tagged(gid, iid) => {
                if let Some(i) = self.instance_mut(&gid, &iid) {
                    let late = std::mem::take(&mut i.late_tags);
                    i.tags.extend(late);
                }
            }
            Happening::Gone(gid, iid) => {
                if let Some(g) = self.groups.get_mut(&gid) {
                    g.instances.retain(|i| i.id != iid);
                }
            }
            Happening::GreenDeadline(gid) => self.green_timed_out(&gid),
            Happening::GreenFinish(gid) => self.green_finish_due(&gid),
            Happening::DeploymentStep(idx) => self.step_deployment(idx),
        }
        self.settle_greens();
    }

    fn instance_mut(&mut self, group: &ElastigroupId, id: &InstanceId) -> Option<&mut crate::model::Instance> {
        self.groups.get_mut(group)?.instances.iter_mut().find(|i| &i.id == id)
    }
}
