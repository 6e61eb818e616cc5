//! Results of the forward steps: Preflight to Release.

use crate::cloud::{DeploymentStatus, DeploymentView, InstanceState, ReadyAction};
use crate::effect::{CallResult, Command, Inspection};
use crate::event::LifecycleKind;
use crate::machine::{Cx, HEALTH_FAILURES, SagaError};
use crate::ports::{LeaseOutcome, RemoteError};
use crate::preflight;
use crate::progress::StepProgress;
use crate::request::ApprovalMode;
use crate::saga::{FinalizeStage, Outcome, Phase};

impl Cx {
    /// A call of the current step finished.
    pub(crate) fn on_result(&mut self, result: CallResult) -> Result<(), SagaError> {
        match (self.saga.phase.clone(), result) {
            (Phase::Compensating { .. }, r) => self.on_compensation_result(r)?,
            (Phase::Finalize(stage), r) => self.on_finalize_result(stage, r)?,
            (Phase::Preflight, CallResult::Inspected(r)) => match r {
                Ok(seen) => self.preflight(&seen),
                Err(RemoteError::NotFound(what)) => self.reject(format!(
                    "{what}; check elastigroupId and that the Spot token's account (accountId) owns the group; nothing was changed"
                )),
                Err(e) => self.retry(&e, |cx, why| {
                    cx.reject(format!("could not read the Elastigroup or deployment group: {why}; nothing was changed"));
                }),
            },
            (Phase::Lock, CallResult::LeasesAcquired(r)) => match r {
                Ok(LeaseOutcome::Acquired) => {
                    self.saga.facts.leases = self.lease_keys();
                    self.enter(Phase::Snapshot, "leases taken; recording capacity and blue instances");
                }
                Ok(LeaseOutcome::Busy { key, holder }) => self.lock_busy(&key.0, &holder.to_string()),
                Err(e) => self.retry(&e, |cx, why| cx.reject(format!("could not take the leases: {why}"))),
            },
            (Phase::Snapshot, CallResult::Inspected(r)) => match r {
                Ok(seen) => self.snapshot(&seen),
                Err(e) => self.retry(&e, |cx, why| cx.compensate(format!("could not read the group: {why}"))),
            },
            (Phase::StartGreen, CallResult::GreenStarted(r)) => match r {
                Ok(g) => {
                    let note = format!("Spot Blue/Green deployment {} {}", g.id, g.state.as_str());
                    self.saga.facts.green_deployment = Some(g.id);
                    self.enter(Phase::AwaitGreen, note);
                }
                Err(e) => self.retry(&e, |cx, why| {
                    cx.compensate(format!("Spot did not start the Blue/Green deployment: {why}"));
                }),
            },
            (Phase::AwaitGreen, CallResult::Inspected(r)) => match r {
                Ok(seen) => self.green_progress(&seen),
                Err(e) => self.note(format!("could not read the group ({e}); will look again")),
            },
            (Phase::CreateDeployment, CallResult::DeploymentCreated(r)) => match r {
                Ok(id) => {
                    let note = format!("CodeDeploy deployment {id} created for {} green instances", self.saga.facts.green.len());
                    self.saga.facts.deployment_id = Some(id);
                    self.enter(Phase::AwaitDeployment, note);
                }
                Err(e) => self.retry(&e, |cx, why| cx.compensate(format!("CodeDeploy did not create the deployment: {why}"))),
            },
            (Phase::AwaitDeployment | Phase::Verify | Phase::AwaitApproval, CallResult::DeploymentRead(r)) => match r {
                Ok(view) => self.deployment_status(&view)?,
                Err(e) => self.note(format!("could not read the deployment ({e}); will look again")),
            },
            (Phase::AwaitDeployment, CallResult::Continued(r)) => match r {
                Ok(()) => {
                    self.saga.facts.continued = true;
                    self.note("ContinueDeployment: traffic moves to green");
                }
                Err(e) => self.note(format!("ContinueDeployment failed ({e}); the reconcile poll will decide")),
            },
            (Phase::Verify, CallResult::Health(Ok(results))) => self.health(&results),
            (Phase::Verify, CallResult::Health(Err(e))) => {
                self.note(format!("health round not run: could not read the group ({e}); will look again"));
            }
            (Phase::Release, CallResult::LeasesReleased(r)) => {
                match r {
                    Ok(()) => self.saga.facts.leases.clear(),
                    Err(e) => self.note(format!("leases not released ({e}); they expire on their own")),
                }
                self.done(Outcome::Succeeded);
            }
            (phase, other) => {
                return Err(self.invariant(format!("result {other:?} does not belong to step {}", phase.name())));
            }
        }
        Ok(())
    }

    fn preflight(&mut self, seen: &Inspection) {
        // Before the lease another rollout may be mid-way on the group (its green next to its blue), so
        // which instances the deployment group's tags select is judged under the lease, at Snapshot.
        let verdict = preflight::check(&self.saga.request, seen).or_else(|violations| {
            let now: Vec<_> = violations.into_iter().filter(|v| v.rule != preflight::Rule::FilterSelectsBlue).collect();
            if now.is_empty() { Ok(Vec::new()) } else { Err(now) }
        });
        match verdict {
            Err(violations) => {
                let reasons: Vec<String> = violations.iter().map(ToString::to_string).collect();
                self.reject(reasons.join("; "));
            }
            Ok(warnings) => {
                if let Some(Some(dg)) = &seen.deployment_group {
                    self.saga.facts.blue_action = dg.blue_action;
                    self.saga.facts.ready_action = dg.ready_action;
                }
                for w in &warnings {
                    self.note(format!("warning: {w}"));
                }
                self.saga.facts.warnings = warnings;
                self.enter(Phase::Lock, "preflight passed; taking the leases");
            }
        }
    }

    fn lock_busy(&mut self, key: &str, holder: &str) {
        if self.saga.request.timeouts.lock_wait_minutes == 0 {
            self.reject(format!(
                "rollout {holder} holds the lease {key}; only one rollout per Elastigroup and deployment group runs at a time (F12). \
                 Publish again later, or set timeouts.lockWaitMinutes to wait"
            ));
        } else {
            if self.saga.facts.lock_holder.as_deref() != Some(holder) {
                self.saga.facts.lock_holder = Some(holder.to_owned());
                self.note(format!("waiting: rollout {holder} holds {key}"));
            }
            // Busy rounds are waiting, not failures: counted apart, so they leave the retries to errors.
            let rounds = self.saga.progress.busy_rounds() + 1;
            self.saga.progress = StepProgress::LeaseBusy { rounds };
            self.wake(crate::effect::WakeKind::Step, crate::machine::LOCK_RETRY_MS);
        }
    }

    fn snapshot(&mut self, seen: &Inspection) {
        if let Err(violations) = preflight::check(&self.saga.request, seen) {
            let reasons: Vec<String> = violations.iter().map(ToString::to_string).collect();
            self.reject(format!("{} (found under the lease, after waiting for another rollout)", reasons.join("; ")));
            return;
        }
        if let Some(g) = seen.green.as_ref().filter(|g| !g.state.is_terminal()) {
            self.reject(format!(
                "Elastigroup {} has Blue/Green deployment {} running, started outside greenfleet; wait for it to finish or stop it",
                seen.group.id, g.id
            ));
            return;
        }
        // Spot launches as many green instances as run when it starts (F5): a snapshot taken while the
        // group scales would wait for green Spot never launches. Wait for it to settle (within the deadline).
        let pending = seen.instances.iter().filter(|i| i.state == InstanceState::Pending).count();
        if pending > 0 {
            let rounds = self.saga.progress.settling_rounds();
            if rounds == 0 {
                self.note(format!(
                    "{pending} instances of {} still launching; waiting for the group to settle",
                    seen.group.id
                ));
            }
            self.saga.progress = StepProgress::Settling { rounds: rounds + 1 };
            self.wake(crate::effect::WakeKind::Step, crate::machine::GREEN_POLL_MS);
            return;
        }
        let f = &mut self.saga.facts;
        f.snapshot = Some(seen.group.capacity);
        f.blue =
            seen.instances.iter().filter(|i| i.state != InstanceState::Terminating).map(|i| i.id.clone()).collect();
        f.started_at = Some(self.now);
        f.green_progress = (0, u32::try_from(f.blue.len()).unwrap_or(u32::MAX));
        let note = format!("capacity {} with {} blue instances", seen.group.capacity, f.blue.len());
        self.publish(LifecycleKind::Started);
        self.enter(Phase::StartGreen, note);
    }

    fn green_progress(&mut self, seen: &Inspection) {
        let tags = self.saga.request.all_green_tags();
        let f = &self.saga.facts;
        let green: Vec<_> = seen
            .instances
            .iter()
            .filter(|i| i.state == InstanceState::Running && !f.blue.contains(&i.id) && i.has_all(&tags))
            .map(|i| i.id.clone())
            .collect();
        let expected = u32::try_from(f.blue.len()).unwrap_or(u32::MAX);
        let ready = u32::try_from(green.len()).unwrap_or(u32::MAX);
        if self.saga.facts.green_progress != (ready, expected) {
            self.saga.facts.green_progress = (ready, expected);
            self.note(format!("{ready}/{expected} green instances running and tagged"));
        }
        if ready >= expected {
            self.saga.facts.green = green;
            self.enter(Phase::CreateDeployment, "green fleet ready; creating the CodeDeploy deployment");
        } else if let Some(g) = seen.green.as_ref().filter(|g| Self::green_failed(&g.state)) {
            self.compensate(format!(
                "Spot's Blue/Green deployment {} ended {} before green was ready",
                g.id,
                g.state.as_str()
            ));
        }
    }

    /// Applies what GetDeployment (or an event) says of the deployment.
    pub(crate) fn deployment_status(&mut self, view: &DeploymentView) -> Result<(), SagaError> {
        let status = view.status.as_str().to_owned();
        if self.saga.facts.deployment_status.as_ref() != Some(&view.status) {
            self.saga.facts.deployment_status = Some(view.status.clone());
            self.note(format!("deployment {} is {status}", view.id));
        }
        match &view.status {
            DeploymentStatus::Succeeded => self.deployment_succeeded(),
            DeploymentStatus::Failed | DeploymentStatus::Stopped => {
                let why =
                    view.error.as_ref().map_or_else(|| "no error information".to_owned(), |(c, m)| format!("{c}: {m}"));
                self.saga.facts.deployment_error = Some(why.clone());
                self.compensate(format!("CodeDeploy deployment {} {status}: {why}", view.id));
            }
            DeploymentStatus::Ready => self.deployment_ready()?,
            _ => {}
        }
        Ok(())
    }

    pub(crate) fn deployment_succeeded(&mut self) {
        if self.saga.phase.policy().follows_deployment {
            self.enter(Phase::Finalize(FinalizeStage::AwaitSpot), "deployment succeeded; waiting for Spot to finish");
        }
    }

    /// CodeDeploy installed green and waits: gates first, then ContinueDeployment.
    pub(crate) fn deployment_ready(&mut self) -> Result<(), SagaError> {
        if self.saga.phase != Phase::AwaitDeployment {
            return Ok(());
        }
        let req = &self.saga.request;
        let f = &self.saga.facts;
        let healthy = req.health_check.as_ref().is_none_or(|h| f.health_streak.0 >= h.consecutive_successes);
        if !healthy {
            self.enter(Phase::Verify, "green is READY; running health checks");
        } else if req.approval == ApprovalMode::Manual && f.approved_by.is_none() {
            self.enter(
                Phase::AwaitApproval,
                format!("green is READY; waiting for `greenfleet approve {}`", self.saga.id),
            );
        } else if !f.continued && f.ready_action != Some(ReadyAction::ContinueDeployment) {
            let id = self.deployment_id()?;
            self.call(Command::ContinueDeployment(id));
        }
        Ok(())
    }

    fn health(&mut self, results: &[(crate::ids::InstanceId, Result<(), String>)]) {
        let Some(hc) = self.saga.request.health_check.clone() else { return };
        let failures: Vec<String> =
            results.iter().filter_map(|(id, r)| r.as_ref().err().map(|e| format!("{id}: {e}"))).collect();
        let streak = &mut self.saga.facts.health_streak;
        if failures.is_empty() && !results.is_empty() {
            *streak = (streak.0 + 1, 0);
            let passed = streak.0;
            self.note(format!("health round passed ({passed}/{})", hc.consecutive_successes));
            if passed >= hc.consecutive_successes {
                let next =
                    if self.saga.request.approval == ApprovalMode::Manual && self.saga.facts.approved_by.is_none() {
                        Phase::AwaitApproval
                    } else {
                        Phase::AwaitDeployment
                    };
                self.enter(next, "health checks passed");
            }
        } else {
            *streak = (0, streak.1 + 1);
            let failed = streak.1;
            self.note(format!("health round failed ({failed}/{HEALTH_FAILURES}): {}", failures.join(", ")));
            if failed >= HEALTH_FAILURES {
                self.compensate(format!("green failed its health checks: {}", failures.join(", ")));
            }
        }
    }
}
