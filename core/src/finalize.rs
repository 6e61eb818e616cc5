//! Finalize, after CodeDeploy succeeded: wait for Spot to end its Blue/Green deployment, remove what
//! is left of blue, point the deployment group's original-fleet tags at the new blue, and restore
//! capacity to the snapshot (F8), last, so nothing changes the group after its read-back. Each stage
//! reads back what it did before moving on.

use crate::cloud::{GreenState, InstanceState};
use crate::effect::{CallResult, Command, Inspection};
use crate::machine::{Cx, MAX_ATTEMPTS, SagaError};
use crate::ports::RemoteError;
use crate::readback::ReadBack;
use crate::saga::{Compensation, FinalizeStage, Outcome, Phase};

impl Cx {
    /// Ends a rollout whose deployment succeeded but whose finalizing could not finish.
    pub(crate) fn needs_attention_after_success(&mut self, why: String, instructions: String) {
        self.call(Command::ReleaseLeases { keys: self.lease_keys() });
        self.done(Outcome::NeedsAttention {
            reason: format!("the deployment succeeded, but finalizing failed: {why}"),
            left: vec![instructions],
        });
    }

    /// What an operator does by hand when Finalize stops at `stage`.
    pub(crate) fn finalize_instructions(&self, stage: FinalizeStage) -> String {
        let group = &self.saga.request.elastigroup_id;
        match stage {
            FinalizeStage::AwaitSpot | FinalizeStage::RemoveBlue => format!(
                "detach and terminate the blue instances {:?} of {group} that are still attached",
                self.saga.facts.blue
            ),
            FinalizeStage::RestoreCapacity => Compensation::RestoreCapacity.manual_instructions(&self.saga),
            FinalizeStage::PointBlue => self.point_blue_instructions(),
        }
    }

    fn point_blue_instructions(&self) -> String {
        let dg = self.dg();
        let tag = self.saga.request.rollout_tag();
        let filter = format!("Key={},Value={},Type=KEY_AND_VALUE", tag.key, tag.value);
        format!(
            "point deployment group {dg} at the new blue fleet: aws deploy update-deployment-group --application-name {} \
             --current-deployment-group-name {} --ec2-tag-filters {filter} (or, if it uses a tag set, \
             --ec2-tag-set 'ec2TagSetList=[[{{{filter}}}]]')",
            dg.application, dg.deployment_group
        )
    }

    pub(crate) fn on_finalize_result(&mut self, stage: FinalizeStage, result: CallResult) -> Result<(), SagaError> {
        let retry = |cx: &mut Self, e: &RemoteError| {
            let instructions = cx.finalize_instructions(stage);
            cx.retry(e, |cx, why| cx.needs_attention_after_success(why, instructions));
        };
        match (stage, result) {
            (FinalizeStage::AwaitSpot, CallResult::Inspected(Ok(seen))) => self.await_spot(&seen),
            (FinalizeStage::AwaitSpot, CallResult::Inspected(Err(e))) => {
                self.note(format!("could not read the group ({e}); will look again"));
            }
            (FinalizeStage::RemoveBlue, CallResult::Inspected(Ok(seen))) => self.remove_blue(&seen),
            (FinalizeStage::RestoreCapacity, CallResult::Inspected(Ok(seen))) => {
                match self.read_back_capacity(&seen)? {
                    ReadBack::Agreed(note) => {
                        // Release gets its own timeline line, as every step does: `watch` shows it too.
                        self.note(note);
                        self.enter(Phase::Release, "releasing the leases");
                    }
                    ReadBack::GaveUp(why) => {
                        self.needs_attention_after_success(
                            why,
                            Compensation::RestoreCapacity.manual_instructions(&self.saga),
                        );
                    }
                    ReadBack::Again => {}
                }
            }
            (FinalizeStage::PointBlue, CallResult::Inspected(Ok(seen))) => self.point_blue(&seen),
            (_, CallResult::Detached(Ok(())) | CallResult::CapacitySet(Ok(())) | CallResult::BluePointed(Ok(()))) => {
                // As in compensation: only accepted calls count as rounds, then read back after a pause.
                self.read_back_after_accepted_call();
            }
            (
                _,
                CallResult::Inspected(Err(e))
                | CallResult::Detached(Err(e))
                | CallResult::CapacitySet(Err(e))
                | CallResult::BluePointed(Err(e)),
            ) => retry(self, &e),
            (_, other) => {
                self.note(format!("ignored a late result while finalizing: {}", other.name()));
            }
        }
        Ok(())
    }

    /// CodeDeploy said Succeeded; Spot finishes its Blue/Green a little later (and may detach blue
    /// itself). Nothing touches the group before Spot has ended (F12), and a Spot that ends otherwise
    /// than FINISHED means the two disagree about which fleet serves: stop, remove nothing, say so.
    fn await_spot(&mut self, seen: &Inspection) {
        let ours = self.saga.facts.green_deployment.clone();
        let green = seen.green.as_ref().filter(|g| Some(&g.id) == ours.as_ref());
        let state = green.map_or_else(|| "(none of this rollout's)".to_owned(), |g| g.state.as_str().to_owned());
        if self.saga.facts.green_state.as_deref() != Some(state.as_str()) {
            self.saga.facts.green_state = Some(state.clone());
            self.dirty = true;
        }
        match green.map(|g| &g.state) {
            Some(GreenState::Finished) => {
                self.advance(Phase::Finalize(FinalizeStage::RemoveBlue), format!("Spot Blue/Green deployment {state}"));
            }
            Some(GreenState::Failed | GreenState::Stopped) => {
                let why = format!(
                    "CodeDeploy reports deployment {} Succeeded, but Spot's Blue/Green deployment {} ended {state}",
                    opt(self.saga.facts.deployment_id.as_ref()),
                    opt(ours.as_ref())
                );
                let todo = self.disagreement_instructions();
                self.needs_attention_after_success(why, todo);
            }
            // Starting, in progress, a state greenfleet does not know, or none at all: wait (deadline-bounded).
            _ => {}
        }
    }

    /// What to do by hand when CodeDeploy and Spot disagree on how the rollout ended.
    pub(crate) fn disagreement_instructions(&self) -> String {
        let f = &self.saga.facts;
        let snapshot = f.snapshot.map_or_else(|| "its snapshot".to_owned(), |c| c.to_string());
        format!(
            "greenfleet removed nothing. Check which instances the load balancer's target group serves: green ({}={}), \
             or blue {:?}. Then detach and terminate the other fleet from {}, set its capacity back to {snapshot}, and \
             point deployment group {} at the serving fleet's tags",
            crate::request::ROLLOUT_TAG_KEY,
            self.saga.id,
            f.blue,
            self.saga.request.elastigroup_id,
            self.dg()
        )
    }

    fn remove_blue(&mut self, seen: &Inspection) {
        // Blue is every instance without this rollout's tag in EC2: the snapshot's, and any the group
        // launched meanwhile (someone raised its capacity), which would otherwise outlive green when
        // capacity is restored (Spot scales in the newest first).
        let blue: Vec<_> = seen
            .instances
            .iter()
            .filter(|i| i.state != InstanceState::Terminating && !i.tags.iter().any(|t| self.is_rollout_tag(t)))
            .map(|i| i.id.clone())
            .collect();
        if blue.is_empty() {
            self.advance(Phase::Finalize(FinalizeStage::PointBlue), "no blue instance left (read back)");
        } else if self.saga.progress.accepted_calls() >= MAX_ATTEMPTS {
            let why = format!("{} blue instances still attached", blue.len());
            let todo = format!("detach and terminate {blue:?} from {}", self.saga.request.elastigroup_id);
            self.needs_attention_after_success(why, todo);
        } else {
            self.note(format!("Spot kept {} blue instances (KEEP_ALIVE); detaching and terminating them", blue.len()));
            self.call(Command::Detach { group: seen.group.id.clone(), instances: blue });
        }
    }

    /// CodeDeploy's original fleet is whatever the deployment group's tags select: after success that
    /// must be the new blue (this rollout's green), or the next rollout finds no original instances —
    /// or no replacement, if the old filter happens to match the next green.
    fn point_blue(&mut self, seen: &Inspection) {
        let Some(Some(dg)) = &seen.deployment_group else {
            let why = format!("deployment group {} could not be read: it no longer exists", self.dg());
            let todo = self.point_blue_instructions();
            self.needs_attention_after_success(why, todo);
            return;
        };
        let wanted = dg.blue.only(&self.saga.request.rollout_tag());
        if dg.blue == wanted {
            let note =
                format!("deployment group {} selects blue by {} = {wanted} (read back)", self.dg(), wanted.field());
            self.advance(Phase::Finalize(FinalizeStage::RestoreCapacity), note);
        } else if self.saga.progress.accepted_calls() >= MAX_ATTEMPTS {
            let why = format!(
                "the deployment group's {} still read {} after {MAX_ATTEMPTS} updates",
                wanted.field(),
                dg.blue
            );
            let todo = self.point_blue_instructions();
            self.needs_attention_after_success(why, todo);
        } else {
            self.note(format!(
                "pointing deployment group {} at the new blue: {} {} → {wanted}",
                self.dg(),
                wanted.field(),
                dg.blue
            ));
            self.call(Command::PointBlue { group: self.dg(), blue: wanted });
        }
    }
}

fn opt<T: std::fmt::Display>(v: Option<&T>) -> String {
    v.map_or_else(|| "(unknown)".to_owned(), ToString::to_string)
}
