//! The step table's names are what users and stored records see: pinned here, one literal each.

use super::*;
use crate::saga::{Compensation, FinalizeStage, Outcome, Phase};

fn compensating(step: Option<Compensation>) -> Phase {
    Phase::Compensating { reason: "r".into(), remaining: step.into_iter().collect(), left: Vec::new() }
}

#[test]
fn every_stable_name_is_pinned() {
    let reason = || "r".to_owned();
    let table: Vec<(Phase, &str)> = vec![
        (Phase::Preflight, "Preflight"),
        (Phase::Lock, "Lock"),
        (Phase::Snapshot, "Snapshot"),
        (Phase::StartGreen, "StartGreen"),
        (Phase::AwaitGreen, "AwaitGreen"),
        (Phase::CreateDeployment, "CreateDeployment"),
        (Phase::AwaitDeployment, "AwaitDeployment"),
        (Phase::Verify, "Verify"),
        (Phase::AwaitApproval, "AwaitApproval"),
        (Phase::Finalize(FinalizeStage::AwaitSpot), "Finalize(AwaitSpot)"),
        (Phase::Finalize(FinalizeStage::RemoveBlue), "Finalize(RemoveBlue)"),
        (Phase::Finalize(FinalizeStage::PointBlue), "Finalize(PointBlue)"),
        (Phase::Finalize(FinalizeStage::RestoreCapacity), "Finalize(RestoreCapacity)"),
        (Phase::Release, "Release"),
        (compensating(None), "Compensating"),
        (compensating(Some(Compensation::StopDeployment)), "Compensating(StopDeployment)"),
        (compensating(Some(Compensation::StopGreen)), "Compensating(StopGreen)"),
        (compensating(Some(Compensation::RemoveGreen)), "Compensating(RemoveGreen)"),
        (compensating(Some(Compensation::RestoreCapacity)), "Compensating(RestoreCapacity)"),
        (compensating(Some(Compensation::ReleaseLeases)), "Compensating(ReleaseLeases)"),
        (Phase::Done(Outcome::Succeeded), "Done(Succeeded)"),
        (Phase::Done(Outcome::Rejected { reason: reason() }), "Done(Rejected)"),
        (Phase::Done(Outcome::RolledBack { reason: reason() }), "Done(RolledBack)"),
        (Phase::Done(Outcome::NeedsAttention { reason: reason(), left: Vec::new() }), "Done(NeedsAttention)"),
    ];
    for (phase, name) in &table {
        assert_eq!(phase.name(), *name);
        assert_eq!(phase.policy().name, *name);
    }
    let stages = [
        (FinalizeStage::AwaitSpot, "AwaitSpot"),
        (FinalizeStage::RemoveBlue, "RemoveBlue"),
        (FinalizeStage::PointBlue, "PointBlue"),
        (FinalizeStage::RestoreCapacity, "RestoreCapacity"),
    ];
    for (stage, name) in stages {
        assert_eq!(stage.name(), name);
    }
    let steps = [
        (Compensation::StopDeployment, "StopDeployment"),
        (Compensation::StopGreen, "StopGreen"),
        (Compensation::RemoveGreen, "RemoveGreen"),
        (Compensation::RestoreCapacity, "RestoreCapacity"),
        (Compensation::ReleaseLeases, "ReleaseLeases"),
    ];
    for (step, name) in steps {
        assert_eq!(step.name(), name);
    }
    let outcomes = [
        (Outcome::Succeeded, "Succeeded"),
        (Outcome::Rejected { reason: reason() }, "Rejected"),
        (Outcome::RolledBack { reason: reason() }, "RolledBack"),
        (Outcome::NeedsAttention { reason: reason(), left: Vec::new() }, "NeedsAttention"),
    ];
    for (outcome, name) in &outcomes {
        assert_eq!(outcome.kind(), *name);
    }
    let kinds = [
        (LifecycleKind::Accepted, "Accepted"),
        (LifecycleKind::Rejected, "Rejected"),
        (LifecycleKind::Started, "Started"),
        (LifecycleKind::Succeeded, "Succeeded"),
        (LifecycleKind::RolledBack, "RolledBack"),
        (LifecycleKind::NeedsAttention, "NeedsAttention"),
        (LifecycleKind::RequestConflicted, "RequestConflicted"),
    ];
    assert_eq!(kinds.len(), LifecycleKind::ALL.len());
    for (kind, name) in kinds {
        assert_eq!(kind.name(), name);
    }
    let wakes = [
        (crate::effect::WakeKind::Step, "Step"),
        (crate::effect::WakeKind::Poll, "Poll"),
        (crate::effect::WakeKind::Deadline, "Deadline"),
    ];
    for (kind, name) in wakes {
        assert_eq!(kind.name(), name);
    }
}

#[test]
fn every_ending_is_announced_by_its_own_event() {
    let reason = || "r".to_owned();
    let endings = [
        (Outcome::Succeeded, LifecycleKind::Succeeded),
        (Outcome::Rejected { reason: reason() }, LifecycleKind::Rejected),
        (Outcome::RolledBack { reason: reason() }, LifecycleKind::RolledBack),
        (Outcome::NeedsAttention { reason: reason(), left: Vec::new() }, LifecycleKind::NeedsAttention),
    ];
    for (outcome, kind) in endings {
        assert_eq!(outcome.event(), kind);
        assert_eq!(kind.name(), outcome.kind());
    }
}

#[test]
fn only_the_waits_on_codedeploy_follow_the_deployment_and_only_approval_waits_for_approval() {
    let following: Vec<_> = [
        Phase::Preflight,
        Phase::Lock,
        Phase::Snapshot,
        Phase::StartGreen,
        Phase::AwaitGreen,
        Phase::CreateDeployment,
        Phase::AwaitDeployment,
        Phase::Verify,
        Phase::AwaitApproval,
        Phase::Finalize(FinalizeStage::AwaitSpot),
        Phase::Release,
        compensating(Some(Compensation::StopDeployment)),
        Phase::Done(Outcome::Succeeded),
    ]
    .into_iter()
    .filter(|p| p.policy().follows_deployment)
    .map(|p| p.name())
    .collect();
    assert_eq!(following, ["AwaitDeployment", "Verify", "AwaitApproval"]);
    assert_eq!(Phase::AwaitApproval.policy().on_approve, OnApprove::Continue);
    assert_eq!(Phase::Preflight.policy().on_cancel, OnCancel::EndUnchanged);
    assert_eq!(Phase::Release.policy().on_cancel, OnCancel::TooLate);
}

#[test]
fn lock_waits_as_long_as_the_request_allows_and_verify_as_long_as_its_rounds_need() {
    let mut request = crate::scenarios::fixtures::request();
    request.timeouts.lock_wait_minutes = 0;
    assert_eq!(Deadline::LockWait.ms(&request), STEP_DEADLINE_MS);
    request.timeouts.lock_wait_minutes = 30;
    assert_eq!(Deadline::LockWait.ms(&request), 30 * 60_000);
    assert_eq!(Deadline::HealthChecks.ms(&request), verify_deadline_ms(&request));
    assert!(verify_deadline_ms(&request) >= 15 * 60_000);
}
