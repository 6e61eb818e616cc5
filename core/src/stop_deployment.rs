//! Compensation's StopDeployment step: stop the CodeDeploy deployment, wait until it is terminal, and,
//! when CodeDeploy rolls it back, follow the rollback deployment (a new id, `creator=codeDeployRollback`,
//! named by the stopped one's `rollbackInfo`) to its end before anything removes green: until then it
//! may still be moving traffic back to blue, and it holds the deployment group.
//!
//! A rollback is asked for only when traffic may have moved to green: the deployment group reroutes at
//! once (`CONTINUE_DEPLOYMENT`), greenfleet continued it at READY, or greenfleet cannot know. A stop
//! while a `STOP_DEPLOYMENT` group still waits at READY, never continued, needs none.

use crate::cloud::{DeploymentStatus, DeploymentView, ReadyAction};
use crate::effect::{CallResult, Command, WakeKind};
use crate::ids::DeploymentId;
use crate::machine::{Cx, GREEN_POLL_MS, STOP_POLLS, SagaError};
use crate::ports::RemoteError;
use crate::progress::StepProgress;
use crate::saga::{Compensation, FinalizeStage, Phase};

impl Cx {
    /// Whether traffic may have moved to green, so that stopping needs CodeDeploy's rollback.
    pub(crate) fn traffic_may_have_moved(&self) -> bool {
        let f = &self.saga.facts;
        f.ready_action != Some(ReadyAction::StopDeployment) || f.continued
    }

    /// The stop itself: with or without CodeDeploy's rollback.
    pub(crate) fn stop_deployment(&mut self, id: DeploymentId) {
        if self.traffic_may_have_moved() {
            self.call(Command::StopDeployment(id));
        } else {
            self.call(Command::StopWithoutRollback(id));
        }
    }

    /// Reads the deployment being waited for: the stopped one, or its rollback once known.
    pub(crate) fn act_stop_deployment(&mut self) -> Result<(), SagaError> {
        let id = match self.saga.facts.rollback_deployment.clone() {
            Some(rollback) => rollback,
            None => self.deployment_id()?,
        };
        self.call(Command::GetDeployment(id));
        Ok(())
    }

    pub(crate) fn on_stop_deployment_result(&mut self, result: CallResult) -> Result<(), SagaError> {
        let step = Compensation::StopDeployment;
        match result {
            CallResult::DeploymentFound(r) => match r {
                Ok(Some(id)) => {
                    self.note(format!("found deployment {id}, created by an attempt whose answer was lost"));
                    self.saga.facts.deployment_id = Some(id.clone());
                    self.stop_deployment(id);
                }
                Ok(None) => self.next_compensation("CodeDeploy created no deployment for this rollout"),
                Err(e) => self.compensation_retry(step, &e),
            },
            CallResult::DeploymentStopped(r) => match r {
                // Already completed or gone: its read says what became of it.
                Ok(()) | Err(RemoteError::Rejected { .. } | RemoteError::NotFound(_)) => {
                    self.saga.progress = StepProgress::Stopping { unfinished_reads: 0 };
                    self.act()?;
                }
                Err(e) => self.compensation_retry(step, &e),
            },
            CallResult::DeploymentRead(Ok(view)) => self.stopped_deployment_read(&view),
            CallResult::DeploymentRead(Err(e)) => self.compensation_retry(step, &e),
            other => {
                self.note(format!("ignored a late result during compensation: {}", other.name()));
            }
        }
        Ok(())
    }

    fn stopped_deployment_read(&mut self, view: &DeploymentView) {
        let following = self.saga.facts.rollback_deployment.as_ref() == Some(&view.id);
        let status = view.status.as_str().to_owned();
        if !view.status.is_terminal() {
            let unfinished_reads = self.saga.progress.stop_sent().unwrap_or(0) + 1;
            self.saga.progress = StepProgress::Stopping { unfinished_reads };
            // A rollback is followed to its end (bounded by the step's deadline); a stop is quick. A
            // deployment that will not stop is left behind only when no traffic can have moved.
            if !following && unfinished_reads >= STOP_POLLS {
                let why = format!("deployment {} still {status}", view.id);
                if self.traffic_may_have_moved() {
                    self.keep_green(format!("{why} after the stop, and traffic may have moved to green"));
                } else {
                    self.next_compensation(&format!("{why}; moving on"));
                }
            } else {
                self.wake(WakeKind::Step, GREEN_POLL_MS);
            }
            return;
        }
        if following {
            if view.status == DeploymentStatus::Succeeded {
                self.next_compensation(&format!("rollback deployment {} Succeeded: traffic is back on blue", view.id));
            } else {
                self.keep_green(format!(
                    "CodeDeploy's rollback deployment {} ended {status}: traffic may still reach green",
                    view.id
                ));
            }
            return;
        }
        self.saga.facts.deployment_status = Some(view.status.clone());
        match (&view.rollback, &view.status) {
            (Some(rollback), _) => {
                self.saga.facts.rollback_deployment = Some(rollback.clone());
                self.saga.progress = StepProgress::Stopping { unfinished_reads: 0 };
                self.note(format!(
                    "deployment {} is {status}; CodeDeploy rolls it back with deployment {rollback}: following it \
                     before removing green",
                    view.id
                ));
                self.wake(WakeKind::Step, GREEN_POLL_MS);
            }
            // It finished before the stop reached it: green serves traffic, and must not be removed.
            // Nothing was undone yet (StopDeployment comes first), so the rollout finishes as it went.
            (None, DeploymentStatus::Succeeded) => {
                let why = format!("deployment {} Succeeded before it could be stopped: green serves traffic", view.id);
                if matches!(&self.saga.phase, Phase::Compensating { left, .. } if left.is_empty()) {
                    // A cancel that came too late was not acted on: the rollout ends as it went.
                    if let Some(cancel) = self.saga.facts.cancelled.take() {
                        self.note(format!("{cancel} — came too late"));
                    }
                    self.enter(Phase::Finalize(FinalizeStage::AwaitSpot), format!("{why}; finalizing instead"));
                } else {
                    self.keep_green(why);
                }
            }
            (None, _) => self.next_compensation(&format!("deployment {} is {status}", view.id)),
        }
    }

    /// Compensation must not remove a fleet that may hold traffic: what would remove or shrink green is
    /// left for a person, with why, and only the leases are released.
    pub(crate) fn keep_green(&mut self, why: String) {
        let Phase::Compensating { reason, remaining, mut left } = self.saga.phase.clone() else { return };
        left.push((Compensation::StopDeployment, why.clone()));
        for step in remaining.iter().skip(1).filter(|s| **s != Compensation::ReleaseLeases) {
            let todo = format!(
                "not done, because {why}: once traffic is confirmed on blue, {}",
                step.manual_instructions(&self.saga)
            );
            left.push((*step, todo));
        }
        let rest =
            if remaining.contains(&Compensation::ReleaseLeases) { vec![Compensation::ReleaseLeases] } else { vec![] };
        self.advance(Phase::Compensating { reason, remaining: rest, left }, format!("{why}; green is kept"));
    }
}
