//! Compensation: undo after a failure, timeout or cancel, reading the group back to verify what it
//! did (F7). Finalize, which shares the capacity read-back, is in `finalize`.

use crate::cloud::{InstanceState, InstanceView};
use crate::effect::{CallResult, Command, Inspection, WakeKind};
use crate::machine::{Cx, MAX_ATTEMPTS, READBACK_DELAY_MS, SagaError};
use crate::ports::RemoteError;
use crate::progress::StepProgress;
use crate::request::ROLLOUT_TAG_KEY;
use crate::saga::{Compensation, Outcome, Phase};

impl Cx {
    pub(crate) fn act_compensation(&mut self, step: Compensation) -> Result<(), SagaError> {
        let group = self.saga.request.elastigroup_id.clone();
        let f = &self.saga.facts;
        match (step, self.saga.progress.stop_sent()) {
            (Compensation::StopDeployment, None) => match f.deployment_id.clone() {
                Some(id) => self.stop_deployment(id),
                // CreateDeployment was sent but its answer never came back: look it up by description.
                None => {
                    let spec = self.deployment_spec();
                    self.call(Command::FindDeployment(spec));
                }
            },
            (Compensation::StopDeployment, Some(_)) => self.act_stop_deployment()?,
            // Stop, or find it by its tags when its id never came back; read back a refused stop.
            (Compensation::StopGreen, _) => self.act_stop_green(),
            (Compensation::RemoveGreen | Compensation::RestoreCapacity, _) => {
                self.call(Command::Inspect { group, deployment_group: None });
            }
            (Compensation::ReleaseLeases, _) => {
                let keys = self.lease_keys();
                self.call(Command::ReleaseLeases { keys });
            }
        }
        Ok(())
    }

    pub(crate) fn on_compensation_result(&mut self, result: CallResult) -> Result<(), SagaError> {
        let Phase::Compensating { remaining, .. } = &self.saga.phase else { return Ok(()) };
        let Some(step) = remaining.first().copied() else { return Ok(()) };
        match (step, result) {
            // Stop, wait, and follow CodeDeploy's rollback: see stop_deployment.rs.
            (Compensation::StopDeployment, r) => self.on_stop_deployment_result(r)?,
            // A refusal is no proof it stopped: see stop_green.rs.
            (Compensation::StopGreen, r @ (CallResult::Inspected(_) | CallResult::GreenStopped(_))) => {
                self.on_stop_green_result(r)?;
            }
            (Compensation::RemoveGreen, CallResult::Inspected(r)) => match r {
                Ok(seen) => {
                    let green = self.green_instances(&seen.instances);
                    if green.is_empty() {
                        self.next_compensation("no green instance left (read back)");
                    } else if self.saga.progress.accepted_calls() >= MAX_ATTEMPTS {
                        self.skip_compensation(step, format!("{} green instances still attached", green.len()));
                    } else {
                        self.note(format!("detaching and terminating {} green instances", green.len()));
                        let group = self.saga.request.elastigroup_id.clone();
                        self.call(Command::Detach { group, instances: green });
                    }
                }
                Err(e) => self.compensation_retry(step, &e),
            },
            (
                Compensation::RemoveGreen | Compensation::RestoreCapacity,
                CallResult::Detached(r) | CallResult::CapacitySet(r),
            ) => match r {
                // Spot applies detaches and capacity changes asynchronously: read back after a pause.
                // Only accepted calls count as read-back rounds (see `StepProgress::ReadBack`).
                Ok(()) => self.read_back_after_accepted_call(),
                Err(e) => self.compensation_retry(step, &e),
            },
            (Compensation::RestoreCapacity, CallResult::Inspected(r)) => match r {
                Ok(seen) => self.restore_capacity(&seen, true)?,
                Err(e) => self.compensation_retry(step, &e),
            },
            (Compensation::ReleaseLeases, CallResult::LeasesReleased(r)) => match r {
                Ok(()) => {
                    self.saga.facts.leases.clear();
                    self.next_compensation("leases released");
                }
                Err(e) => self.compensation_retry(step, &e),
            },
            (_, other) => self.note(format!("ignored a late result during compensation: {}", result_name(&other))),
        }
        Ok(())
    }

    /// Instances this rollout launched: carrying its rollout tag, or not among the blue ones.
    fn green_instances(&self, instances: &[InstanceView]) -> Vec<crate::ids::InstanceId> {
        let f = &self.saga.facts;
        instances
            .iter()
            .filter(|i| i.state != InstanceState::Terminating)
            .filter(|i| {
                let tagged = i.tags.iter().any(|t| self.is_rollout_tag(t));
                tagged || (!f.blue.is_empty() && !f.blue.contains(&i.id))
            })
            .map(|i| i.id.clone())
            .collect()
    }

    /// Whether `tag` is this rollout's `greenfleet:rollout=<id>`.
    pub(crate) fn is_rollout_tag(&self, tag: &crate::ids::Tag) -> bool {
        tag.key == ROLLOUT_TAG_KEY && tag.value == self.saga.id.as_str()
    }

    /// Sets capacity to the snapshot unless it already is; `compensating` says which step to go on to.
    pub(crate) fn restore_capacity(&mut self, seen: &Inspection, compensating: bool) -> Result<(), SagaError> {
        let snapshot = self.saga.facts.snapshot.ok_or_else(|| self.invariant("no capacity snapshot to restore"))?;
        let now = seen.group.capacity;
        if now == snapshot {
            let note = format!("capacity is {snapshot} again (read back)");
            if compensating {
                self.next_compensation(&note);
            } else {
                // Release gets its own timeline line, as every step does: `watch` shows it too.
                self.note(note);
                self.enter(Phase::Release, "releasing the leases");
            }
        } else if self.saga.progress.accepted_calls() >= MAX_ATTEMPTS {
            let why = format!("capacity is {now}, expected {snapshot}");
            if compensating {
                self.skip_compensation(Compensation::RestoreCapacity, why);
            } else {
                self.needs_attention_after_success(why, Compensation::RestoreCapacity.manual_instructions(&self.saga));
            }
        } else {
            self.note(format!("capacity is {now}; restoring {snapshot}"));
            self.call(Command::SetCapacity { group: seen.group.id.clone(), capacity: snapshot });
        }
        Ok(())
    }

    /// Spot accepted a detach, capacity change or deployment-group update, and applies it
    /// asynchronously: count it, and read the group back after a pause.
    pub(crate) fn read_back_after_accepted_call(&mut self) {
        let accepted = self.saga.progress.accepted_calls() + 1;
        self.saga.progress = StepProgress::ReadBack { accepted };
        self.wake(WakeKind::Step, READBACK_DELAY_MS);
    }

    pub(crate) fn compensation_retry(&mut self, step: Compensation, err: &RemoteError) {
        self.retry(err, |cx, why| cx.skip_compensation(step, why));
    }

    /// Gives up on one compensation step (recording what is left) and goes on with the next.
    pub(crate) fn skip_compensation(&mut self, step: Compensation, why: String) {
        if let Phase::Compensating { left, .. } = &mut self.saga.phase {
            left.push((step, why.clone()));
        }
        self.next_compensation(&format!("{} could not finish: {why}", step.name()));
    }

    pub(crate) fn next_compensation(&mut self, note: &str) {
        let Phase::Compensating { reason, remaining, left } = self.saga.phase.clone() else { return };
        let rest = remaining.get(1..).unwrap_or_default().to_vec();
        self.advance(Phase::Compensating { reason, remaining: rest, left }, note);
    }

    pub(crate) fn end_compensation(&mut self) {
        let Phase::Compensating { reason, left, .. } = self.saga.phase.clone() else { return };
        if left.is_empty() {
            self.done(Outcome::RolledBack { reason });
        } else {
            let left = left.iter().map(|(c, why)| format!("{} — {why}", c.manual_instructions(&self.saga))).collect();
            self.done(Outcome::NeedsAttention { reason, left });
        }
    }
}

pub(crate) fn result_name(r: &CallResult) -> &'static str {
    match r {
        CallResult::Inspected(_) => "Inspect",
        CallResult::LeasesAcquired(_) => "AcquireLeases",
        CallResult::LeasesReleased(_) => "ReleaseLeases",
        CallResult::GreenStarted(_) => "StartGreen",
        CallResult::DeploymentCreated(_) => "CreateDeployment",
        CallResult::DeploymentFound(_) => "FindDeployment",
        CallResult::DeploymentRead(_) => "GetDeployment",
        CallResult::Continued(_) => "ContinueDeployment",
        CallResult::DeploymentStopped(_) => "StopDeployment",
        CallResult::GreenStopped(_) => "StopGreen",
        CallResult::BluePointed(_) => "PointBlue",
        CallResult::Detached(_) => "Detach",
        CallResult::CapacitySet(_) => "SetCapacity",
        CallResult::Health(_) => "CheckHealth",
    }
}
