//! Compensation (undo after a failure, timeout or cancel) and Finalize (after success). Both read the
//! group back to verify what they did (F7, F8).

use crate::cloud::{InstanceState, InstanceView};
use crate::effect::{CallResult, Command, Inspection, WakeKind};
use crate::machine::{Cx, GREEN_POLL_MS, MAX_ATTEMPTS, READBACK_DELAY_MS, STOP_POLLS, SagaError};
use crate::ports::RemoteError;
use crate::request::ROLLOUT_TAG_KEY;
use crate::saga::{Compensation, FinalizeStage, Outcome, Phase};

impl Cx {
    pub(crate) fn act_compensation(&mut self, step: Compensation) -> Result<(), SagaError> {
        let group = self.saga.request.elastigroup_id.clone();
        let f = &self.saga.facts;
        match (step, self.saga.stage) {
            (Compensation::StopDeployment, 0) => match f.deployment_id.clone() {
                Some(id) => self.call(Command::StopDeployment(id)),
                // CreateDeployment was sent but its answer never came back: look it up by description.
                None => {
                    let spec = self.deployment_spec();
                    self.call(Command::FindDeployment(spec));
                }
            },
            (Compensation::StopDeployment, _) => {
                let id = self.deployment_id()?;
                self.call(Command::GetDeployment(id));
            }
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
            (Compensation::StopDeployment, CallResult::DeploymentFound(r)) => match r {
                Ok(Some(id)) => {
                    self.note(format!("found deployment {id}, created by an attempt whose answer was lost"));
                    self.saga.facts.deployment_id = Some(id.clone());
                    self.call(Command::StopDeployment(id));
                }
                Ok(None) => self.next_compensation("CodeDeploy created no deployment for this rollout"),
                Err(e) => self.compensation_retry(step, &e),
            },
            (Compensation::StopDeployment, CallResult::DeploymentStopped(r)) => match r {
                Ok(()) | Err(RemoteError::Rejected { .. } | RemoteError::NotFound(_)) => {
                    self.saga.stage = 1;
                    self.act()?;
                }
                Err(e) => self.compensation_retry(step, &e),
            },
            (Compensation::StopDeployment, CallResult::DeploymentRead(r)) => match r {
                Ok(view) if view.status.is_terminal() => {
                    self.saga.facts.deployment_status = Some(view.status.as_str().to_owned());
                    self.next_compensation(&format!("deployment {} is {}", view.id, view.status.as_str()));
                }
                Ok(view) => {
                    self.saga.stage += 1;
                    if self.saga.stage > STOP_POLLS {
                        self.next_compensation(&format!(
                            "deployment {} still {}; moving on",
                            view.id,
                            view.status.as_str()
                        ));
                    } else {
                        self.wake(WakeKind::Step, GREEN_POLL_MS);
                    }
                }
                Err(e) => self.compensation_retry(step, &e),
            },
            // A refusal is no proof it stopped: see stop_green.rs.
            (Compensation::StopGreen, r @ (CallResult::Inspected(_) | CallResult::GreenStopped(_))) => {
                self.on_stop_green_result(r)?;
            }
            (Compensation::RemoveGreen, CallResult::Inspected(r)) => match r {
                Ok(seen) => {
                    let green = self.green_instances(&seen.instances);
                    if green.is_empty() {
                        self.next_compensation("no green instance left (read back)");
                    } else if self.saga.stage >= MAX_ATTEMPTS {
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
                // `stage` counts the calls Spot accepted without the read-back agreeing; failed calls
                // are bounded by `attempt` alone, so a fault burst gets every retry.
                Ok(()) => {
                    self.saga.stage += 1;
                    self.wake(WakeKind::Step, READBACK_DELAY_MS);
                }
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
    fn is_rollout_tag(&self, tag: &crate::ids::Tag) -> bool {
        tag.key == ROLLOUT_TAG_KEY && tag.value == self.saga.id.as_str()
    }

    /// Sets capacity to the snapshot unless it already is; `compensating` says which step to go on to.
    fn restore_capacity(&mut self, seen: &Inspection, compensating: bool) -> Result<(), SagaError> {
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
        } else if self.saga.stage >= MAX_ATTEMPTS {
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

    fn compensation_retry(&mut self, step: Compensation, err: &RemoteError) {
        self.retry(err, |cx, why| cx.skip_compensation(step, why));
    }

    /// Gives up on one compensation step (recording what is left) and goes on with the next.
    pub(crate) fn skip_compensation(&mut self, step: Compensation, why: String) {
        if let Phase::Compensating { left, .. } = &mut self.saga.phase {
            left.push((step, why.clone()));
        }
        self.next_compensation(&format!("{step:?} could not finish: {why}"));
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

    fn needs_attention_after_success(&mut self, why: String, instructions: String) {
        self.call(Command::ReleaseLeases { keys: self.lease_keys() });
        self.done(Outcome::NeedsAttention {
            reason: format!("the deployment succeeded, but finalizing failed: {why}"),
            left: vec![instructions],
        });
    }

    pub(crate) fn on_finalize_result(&mut self, stage: FinalizeStage, result: CallResult) -> Result<(), SagaError> {
        let retry = |cx: &mut Self, e: &RemoteError| {
            let instructions = match stage {
                FinalizeStage::RemoveBlue => format!(
                    "detach and terminate the blue instances of {} that are still attached",
                    cx.saga.request.elastigroup_id
                ),
                _ => Compensation::RestoreCapacity.manual_instructions(&cx.saga),
            };
            cx.retry(e, |cx, why| cx.needs_attention_after_success(why, instructions));
        };
        match (stage, result) {
            (FinalizeStage::AwaitSpot, CallResult::Inspected(Ok(seen))) => {
                let finished = seen.green.as_ref().is_none_or(|g| g.state.is_terminal());
                if finished {
                    let state = seen.green.as_ref().map_or("gone", |g| g.state.as_str()).to_owned();
                    self.advance(
                        Phase::Finalize(FinalizeStage::RemoveBlue),
                        format!("Spot Blue/Green deployment {state}"),
                    );
                }
            }
            (FinalizeStage::AwaitSpot, CallResult::Inspected(Err(e))) => {
                self.note(format!("could not read the group ({e}); will look again"))
            }
            (FinalizeStage::RemoveBlue, CallResult::Inspected(Ok(seen))) => {
                // Blue is every instance without this rollout's tag: the snapshot's, and any the group
                // launched meanwhile (someone raised its capacity), which would otherwise outlive green
                // when capacity is restored (Spot scales in the newest first).
                let blue: Vec<_> = seen
                    .instances
                    .iter()
                    .filter(|i| i.state != InstanceState::Terminating && !i.tags.iter().any(|t| self.is_rollout_tag(t)))
                    .map(|i| i.id.clone())
                    .collect();
                if blue.is_empty() {
                    self.advance(Phase::Finalize(FinalizeStage::RestoreCapacity), "no blue instance left (read back)");
                } else if self.saga.stage >= MAX_ATTEMPTS {
                    let why = format!("{} blue instances still attached", blue.len());
                    let todo = format!("detach and terminate {blue:?} from {}", self.saga.request.elastigroup_id);
                    self.needs_attention_after_success(why, todo);
                } else {
                    self.note(format!(
                        "Spot kept {} blue instances (KEEP_ALIVE); detaching and terminating them",
                        blue.len()
                    ));
                    self.call(Command::Detach { group: seen.group.id.clone(), instances: blue });
                }
            }
            (FinalizeStage::RestoreCapacity, CallResult::Inspected(Ok(seen))) => self.restore_capacity(&seen, false)?,
            (_, CallResult::Detached(Ok(())) | CallResult::CapacitySet(Ok(()))) => {
                // As in compensation: only accepted calls count as rounds.
                self.saga.stage += 1;
                self.wake(WakeKind::Step, READBACK_DELAY_MS);
            }
            (_, CallResult::Inspected(Err(e)) | CallResult::Detached(Err(e)) | CallResult::CapacitySet(Err(e))) => {
                retry(self, &e)
            }
            (_, other) => self.note(format!("ignored a late result while finalizing: {}", result_name(&other))),
        }
        Ok(())
    }
}

fn result_name(r: &CallResult) -> &'static str {
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
        CallResult::Detached(_) => "Detach",
        CallResult::CapacitySet(_) => "SetCapacity",
        CallResult::Health(_) => "CheckHealth",
    }
}
