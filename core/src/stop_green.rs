//! Compensation's StopGreen: stop Spot's Blue/Green deployment, and decide from what Spot shows, not
//! from how it refused.
//!
//! Spot documents no error for stopping a deployment that already ended or that it does not know, and
//! a 400 may as well mean a bad request or the wrong account. So a refused stop ends nothing by
//! itself: greenfleet reads the group's Blue/Green deployment back (`StepProgress::StopGreenReadBack`), and only two answers end
//! the step — this rollout's deployment in a terminal state, or a `200` that lists no deployment at
//! all. Anything else (still running, a state greenfleet does not know, another deployment, a read that
//! fails however it fails) is tried again, and if it persists StopGreen is left on the NeedsAttention
//! list with Spot's last answer: never skipped.

use crate::effect::{CallResult, Command, Inspection, WakeKind};
use crate::machine::{Cx, MAX_ATTEMPTS, SagaError, backoff_ms};
use crate::ports::RemoteError;
use crate::progress::StepProgress;
use crate::request::ROLLOUT_TAG_KEY;
use crate::saga::Compensation;

/// StopGreen sends the stop (or, without an id, looks for the deployment by its tags).
const STOP: StepProgress = StepProgress::Start;
/// StopGreen reads the deployment back after Spot refused the stop.
const READ_BACK: StepProgress = StepProgress::StopGreenReadBack;

impl Cx {
    /// StopGreen's call for the current stage.
    pub(crate) fn act_stop_green(&mut self) {
        let group = self.saga.request.elastigroup_id.clone();
        match self.saga.facts.green_deployment.clone() {
            Some(id) if self.saga.progress != READ_BACK => self.call(Command::StopGreen { group, id }),
            // Its id never came back (look for it by its tags), or Spot refused the stop (read it back).
            _ => self.call(Command::Inspect { group, deployment_group: None }),
        }
    }

    /// A result of StopGreen's call.
    pub(crate) fn on_stop_green_result(&mut self, result: CallResult) -> Result<(), SagaError> {
        match result {
            CallResult::GreenStopped(Ok(())) => self.next_compensation("Spot Blue/Green deployment stopped"),
            CallResult::GreenStopped(Err(e)) if e.is_retryable() => {
                self.stop_green_again(&e.to_string(), Some(&e), STOP)
            }
            CallResult::GreenStopped(Err(e)) => {
                let id = self.saga.facts.green_deployment.as_ref().map(ToString::to_string).unwrap_or_default();
                self.note(format!("Spot refused to stop Blue/Green deployment {id} ({e}); reading it back"));
                self.saga.progress = READ_BACK;
                self.act()?;
            }
            CallResult::Inspected(Ok(seen)) if self.saga.facts.green_deployment.is_none() => self.find_green(&seen)?,
            CallResult::Inspected(Ok(seen)) => self.green_read_back(&seen),
            CallResult::Inspected(Err(e)) => {
                let progress = self.saga.progress;
                self.stop_green_again(&e.to_string(), Some(&e), progress);
            }
            _ => {}
        }
        Ok(())
    }

    /// The stop's answer was lost before the id came back: this rollout's deployment is the one carrying
    /// its rollout tag. A group whose read lists none had none started.
    fn find_green(&mut self, seen: &Inspection) -> Result<(), SagaError> {
        let rollout = self.saga.id.as_str();
        let ours =
            |g: &crate::cloud::GreenDeployment| g.tags.iter().any(|t| t.key == ROLLOUT_TAG_KEY && t.value == rollout);
        match seen.green.clone().filter(ours) {
            Some(g) => {
                self.note(format!("found Spot Blue/Green deployment {} of this rollout", g.id));
                self.saga.facts.green_deployment = Some(g.id);
                self.saga.progress = STOP;
                self.act()?;
            }
            None => self.next_compensation("Spot started no Blue/Green deployment for this rollout"),
        }
        Ok(())
    }

    /// What the group shows after Spot refused the stop.
    fn green_read_back(&mut self, seen: &Inspection) {
        let Some(ours) = self.saga.facts.green_deployment.clone() else { return };
        match &seen.green {
            Some(g) if g.id == ours && g.state.is_terminal() => {
                self.next_compensation(&format!(
                    "Spot Blue/Green deployment {ours} is {} (read back)",
                    g.state.as_str()
                ));
            }
            // A 200 listing no deployment: Spot has nothing running on the group to stop.
            None => self.next_compensation(&format!(
                "Spot lists no Blue/Green deployment on {} (read back); nothing to stop",
                seen.group.id
            )),
            Some(g) => {
                let why = if g.id == ours {
                    format!(
                        "Spot Blue/Green deployment {ours} is still {} after Spot refused to stop it",
                        g.state.as_str()
                    )
                } else {
                    format!(
                        "the group's latest Blue/Green deployment is {} ({}), not {ours}: Spot did not confirm {ours} ended",
                        g.id,
                        g.state.as_str()
                    )
                };
                self.stop_green_again(&why, None, STOP);
            }
        }
    }

    /// Tries StopGreen again at `progress` (stop or read back) after a backoff (at least what a throttling `err` asked for) —
    /// whatever went wrong, since Spot documents none of it for this call — or, after
    /// [`MAX_ATTEMPTS`], leaves it for a person with `why`.
    fn stop_green_again(&mut self, why: &str, err: Option<&RemoteError>, progress: StepProgress) {
        self.saga.attempt += 1;
        if self.saga.attempt < MAX_ATTEMPTS {
            let plain = RemoteError::Unavailable(String::new());
            let delay = backoff_ms(self.saga.attempt, self.saga.id.as_str(), err.unwrap_or(&plain));
            self.note(format!("StopGreen attempt {} failed ({why}); trying again in {delay} ms", self.saga.attempt));
            self.saga.progress = progress;
            self.wake(WakeKind::Step, delay);
        } else {
            self.skip_compensation(Compensation::StopGreen, format!("{why} (after {} attempts)", self.saga.attempt));
        }
    }
}
