//! Inputs from outside the step flow: CodeDeploy state-change events (deduplicated, any order: F11),
//! cancel and approve.

use crate::cloud::{DeploymentEvent, DeploymentStatus, EventState};
use crate::effect::Command;
use crate::machine::{Cx, SagaError};
use crate::saga::{Outcome, Phase};
use crate::step_table::{OnApprove, OnCancel};

impl Cx {
    pub(crate) fn on_event(&mut self, event: &DeploymentEvent) -> Result<(), SagaError> {
        if self.saga.facts.deployment_id.as_ref() != Some(&event.deployment_id) {
            return Ok(());
        }
        let waiting = self.saga.phase.policy().follows_deployment;
        if let Some(instance) = &event.instance {
            if waiting && matches!(event.state, EventState::Success | EventState::Ready) {
                if !self.saga.facts.instances_done.contains(instance) {
                    self.dirty = true;
                    self.saga.facts.instances_done.push(instance.clone());
                }
            } else if waiting && event.state == EventState::Failure {
                self.note(format!("instance {instance} reported FAILURE"));
            }
            return Ok(());
        }
        let key = event.state.as_str().to_owned();
        if self.saga.facts.seen_events.contains(&key) {
            return Ok(());
        }
        self.dirty = true;
        self.saga.facts.seen_events.push(key.clone());
        if !waiting {
            self.note(format!("event {key} for {} arrived after the wait; ignored", event.deployment_id));
            return Ok(());
        }
        self.note(format!("event {key}"));
        match &event.state {
            EventState::Start => {
                let before = self.saga.facts.deployment_status.as_ref();
                if before.is_none_or(|s| matches!(s, DeploymentStatus::Created | DeploymentStatus::Queued)) {
                    self.saga.facts.deployment_status = Some(DeploymentStatus::InProgress);
                }
            }
            // An event is a hint; GetDeployment is the truth. READY, SUCCESS, FAILURE and STOP act only
            // once CodeDeploy confirms them (and a failure's read says why it failed).
            EventState::Ready | EventState::Success | EventState::Failure | EventState::Stop => {
                self.call(Command::GetDeployment(event.deployment_id.clone()));
            }
            EventState::Unknown(_) => {}
        }
        Ok(())
    }

    pub(crate) fn on_cancel(&mut self, by: &str, reason: &str) -> Result<(), SagaError> {
        let who = format!("cancelled by {by}: {reason}");
        match self.saga.phase.policy().on_cancel {
            OnCancel::Finished => {}
            OnCancel::AlreadyCompensating => self.note(format!("{who} — already compensating")),
            OnCancel::TooLate => {
                self.note(format!("{who} — ignored: the deployment already succeeded and green serves traffic"));
            }
            OnCancel::EndUnchanged => {
                self.saga.facts.cancelled = Some(who.clone());
                self.done(Outcome::RolledBack { reason: format!("{who} before anything changed") });
            }
            OnCancel::Compensate => {
                self.saga.facts.cancelled = Some(who.clone());
                self.compensate(who);
            }
        }
        Ok(())
    }

    pub(crate) fn on_approve(&mut self, by: &str) -> Result<(), SagaError> {
        if self.saga.facts.approved_by.is_some() {
            return Ok(());
        }
        match self.saga.phase.policy().on_approve {
            OnApprove::Finished => {}
            OnApprove::NothingWaits => self.note(format!("approval by {by} ignored: nothing waits for it")),
            OnApprove::Continue => {
                self.saga.facts.approved_by = Some(by.to_owned());
                self.enter(Phase::AwaitDeployment, format!("approved by {by}; continuing the deployment"));
            }
            OnApprove::InAdvance => {
                self.saga.facts.approved_by = Some(by.to_owned());
                self.note(format!("approved in advance by {by}"));
            }
        }
        Ok(())
    }
}
