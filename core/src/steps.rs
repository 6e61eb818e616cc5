//! What each step does when entered or woken (`act`), and what happens when its deadline passes.

use crate::cloud::GreenState;
use crate::effect::{CallResult, Command, WakeKind};
use crate::machine::{Cx, DEPLOYMENT_POLL_MS, GREEN_POLL_MS, SagaError};
use crate::saga::{Compensation, FinalizeStage, Outcome, Phase};

impl Cx {
    /// The current step's action: a call, and for waiting steps the next poll.
    pub(crate) fn act(&mut self) -> Result<(), SagaError> {
        let group = self.saga.request.elastigroup_id.clone();
        let inspect = |with_dg: Option<_>| Command::Inspect { group: group.clone(), deployment_group: with_dg };
        match self.saga.phase.clone() {
            Phase::Preflight => self.call(inspect(Some(self.dg()))),
            Phase::Lock => {
                let (keys, until) = (self.lease_keys(), self.lease_until());
                self.call(Command::AcquireLeases { keys, until });
            }
            // Read under the lease, with the deployment group: the rules are checked again against the
            // fleet the previous rollout left behind.
            Phase::Snapshot => self.call(inspect(Some(self.dg()))),
            Phase::StartGreen => {
                let spec = self.green_spec();
                self.saga.facts.started_green = true;
                self.call(Command::StartGreen { group, spec });
            }
            Phase::AwaitGreen | Phase::Finalize(FinalizeStage::AwaitSpot) => {
                self.wake(WakeKind::Poll, GREEN_POLL_MS);
                self.call(inspect(None));
            }
            Phase::CreateDeployment => {
                self.saga.facts.create_attempted = true;
                let spec = self.deployment_spec();
                self.call(Command::CreateDeployment(spec));
            }
            Phase::AwaitDeployment | Phase::AwaitApproval => {
                self.wake(WakeKind::Poll, DEPLOYMENT_POLL_MS);
                let id = self.deployment_id()?;
                self.call(Command::GetDeployment(id));
            }
            Phase::Verify => {
                let hc = self
                    .saga
                    .request
                    .health_check
                    .clone()
                    .ok_or_else(|| self.invariant("Verify without a health check"))?;
                self.wake(WakeKind::Poll, u64::from(hc.interval_seconds) * 1_000);
                self.call(Command::CheckHealth {
                    group,
                    instances: self.saga.facts.green.clone(),
                    url_template: hc.url_template,
                    expected_status: hc.expected_status,
                    timeout_ms: u64::from(hc.timeout_seconds) * 1_000,
                });
            }
            Phase::Finalize(FinalizeStage::RemoveBlue | FinalizeStage::RestoreCapacity) => {
                self.call(inspect(None));
            }
            Phase::Finalize(FinalizeStage::PointBlue) => self.call(inspect(Some(self.dg()))),
            Phase::Release => {
                let keys = self.lease_keys();
                self.call(Command::ReleaseLeases { keys });
            }
            Phase::Compensating { remaining, .. } => match remaining.first() {
                None => self.end_compensation(),
                Some(step) => self.act_compensation(*step)?,
            },
            Phase::Done(_) => {}
        }
        Ok(())
    }

    /// A deadline message arrived: if the current step's deadline passed, handle it; if not, make
    /// sure another message will come by then.
    pub(crate) fn on_deadline_wake(&mut self) -> Result<(), SagaError> {
        if self.saga.deadline_wake.is_some_and(|armed| self.now >= armed) {
            self.saga.deadline_wake = None;
            self.dirty = true;
        }
        if self.now < self.saga.deadline {
            self.arm_deadline();
            return Ok(());
        }
        self.on_deadline()
    }

    /// The current step's deadline passed.
    fn on_deadline(&mut self) -> Result<(), SagaError> {
        let t = self.saga.request.timeouts;
        let f = &self.saga.facts;
        match self.saga.phase.clone() {
            Phase::Preflight => self.reject("preflight could not read Spot and CodeDeploy within 10 minutes; nothing was changed, publish the request again".into()),
            Phase::Lock => {
                let holder = f.lock_holder.as_deref().unwrap_or("another rollout");
                self.reject(format!(
                    "rollout {holder} kept the Elastigroup or deployment group busy for {} minute(s) (timeouts.lockWaitMinutes); nothing was changed",
                    t.lock_wait_minutes
                ));
            }
            Phase::Snapshot | Phase::StartGreen | Phase::CreateDeployment => {
                let step = self.saga.phase.name();
                self.compensate(format!("step {step} did not complete within 10 minutes"));
            }
            Phase::AwaitGreen => {
                let (ready, expected) = f.green_progress;
                self.compensate(format!(
                    "green instances were not running and tagged within {} minutes ({ready} of {expected}; timeouts.greenReadyMinutes)",
                    t.green_ready_minutes
                ));
            }
            Phase::AwaitDeployment => self.compensate(format!(
                "CodeDeploy deployment {} did not finish within {} minutes (last status {}; timeouts.deploymentMinutes)",
                f.deployment_id.as_ref().map_or("?", |d| d.as_str()),
                t.deployment_minutes,
                f.deployment_status.as_ref().map_or("unknown", crate::cloud::DeploymentStatus::as_str)
            )),
            Phase::Verify => {
                let minutes = crate::step_table::verify_deadline_ms(&self.saga.request).div_ceil(60_000);
                self.compensate(format!("health checks did not pass within {minutes} minutes"));
            }
            Phase::AwaitApproval => self.compensate(format!(
                "not approved within {} minutes (timeouts.approvalMinutes)",
                t.approval_minutes
            )),
            // Never finalize over a Spot that has not ended: both would write the group at once (F12).
            Phase::Finalize(FinalizeStage::AwaitSpot) => {
                let why = format!(
                    "CodeDeploy reports deployment {} Succeeded, but Spot's Blue/Green deployment {} did not end \
                     within 10 minutes (last seen {})",
                    f.deployment_id.as_ref().map_or("?", |d| d.as_str()),
                    f.green_deployment.as_ref().map_or("?", |d| d.as_str()),
                    f.green_state.as_deref().unwrap_or("unknown")
                );
                let todo = self.disagreement_instructions();
                self.needs_attention_after_success(why, todo);
            }
            Phase::Finalize(stage) => {
                let left = self.finalize_instructions(stage);
                self.done(Outcome::NeedsAttention {
                    reason: format!(
                        "the deployment succeeded but {} did not complete within 10 minutes",
                        stage.names().0
                    ),
                    left: vec![left],
                });
            }
            Phase::Release => self.done(Outcome::Succeeded),
            Phase::Compensating { remaining, .. } => match (remaining.first(), f.rollback_deployment.clone()) {
                // A rollback still moving traffic back to blue: green must stay until a person checks.
                (Some(Compensation::StopDeployment), Some(rollback)) => self.keep_green(format!(
                    "CodeDeploy's rollback deployment {rollback} did not end within 10 minutes: traffic may still reach green"
                )),
                (Some(step), _) => self.skip_compensation(*step, "did not complete within 10 minutes".into()),
                (None, _) => {}
            },
            Phase::Done(_) => {}
        }
        Ok(())
    }

    pub(crate) fn deployment_id(&self) -> Result<crate::ids::DeploymentId, SagaError> {
        self.saga
            .facts
            .deployment_id
            .clone()
            .ok_or_else(|| self.invariant("no deployment id while waiting for the deployment"))
    }

    /// Whether Spot's Blue/Green deployment ended without success.
    pub(crate) fn green_failed(state: &GreenState) -> bool {
        matches!(state, GreenState::Failed | GreenState::Stopped)
    }

    /// Names a Blue/Green state greenfleet does not know (Spot documents only `STARTING`) in the
    /// history, once per deployment and value. Such a state counts as not finished everywhere, so a step
    /// waiting for Spot waits on until its own deadline; the line says why it waited.
    pub(crate) fn see_green_state(&mut self, result: &CallResult) {
        let green = match result {
            CallResult::Inspected(Ok(seen)) => seen.green.as_ref(),
            CallResult::GreenStarted(Ok(g)) => Some(g),
            _ => None,
        };
        let Some(g) = green else { return };
        let GreenState::Other(value) = &g.state else { return };
        let note = format!(
            "Spot's Blue/Green deployment {} reports state `{value}`, which greenfleet does not know: \
             treated as not finished, until this step's deadline",
            g.id
        );
        if !self.saga.history.iter().any(|h| h.note == note) {
            self.note(note);
        }
    }
}
