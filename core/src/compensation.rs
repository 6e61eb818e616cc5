//! Compensation: undo after a failure, timeout or cancel, reading the group back to verify what it
//! did (F7). The read-back itself, shared with Finalize, is in `readback`; StopDeployment and StopGreen
//! have modules of their own.

use crate::cloud::{InstanceState, InstanceView};
use crate::effect::{CallResult, Command};
use crate::machine::{Cx, MAX_ATTEMPTS, SagaError};
use crate::ports::RemoteError;
use crate::readback::ReadBack;
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
                Ok(seen) => match self.read_back_capacity(&seen)? {
                    ReadBack::Agreed(note) => self.next_compensation(&note),
                    ReadBack::GaveUp(why) => self.skip_compensation(step, why),
                    ReadBack::Again => {}
                },
                Err(e) => self.compensation_retry(step, &e),
            },
            (Compensation::ReleaseLeases, CallResult::LeasesReleased(r)) => match r {
                Ok(()) => {
                    self.saga.facts.leases.clear();
                    self.next_compensation("leases released");
                }
                Err(e) => self.compensation_retry(step, &e),
            },
            (_, other) => self.note(format!("ignored a late result during compensation: {}", other.name())),
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
