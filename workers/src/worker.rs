//! The worker: takes messages from the intake (requests, trigger events, approvals and cancels),
//! step and events queues and drives sagas through them. Persist, then act, then ack: each
//! transition is written with a conditional check on the saga's version before its effects run,
//! and a message is deleted only after all of that.

use std::collections::VecDeque;
use std::sync::Arc;

use greenfleet_core::codedeploy_event::{self, QueuedEvent};
use greenfleet_core::effect::{Effect, Input};
use greenfleet_core::event::LifecycleEvent;
use greenfleet_core::fingerprint;
use greenfleet_core::ids::RolloutId;
use greenfleet_core::message::StepMessage;
use greenfleet_core::operator_event::{OperatorCommand, OperatorKind};
use greenfleet_core::ports::{Clock, Delivery, EventBus, MessageQueue, QueueError, SagaStore, StoreError};
use greenfleet_core::redelivery::{self, Chain, Step};
use greenfleet_core::request::{RolloutRequest, parse_request};
use greenfleet_core::saga::Saga;
use greenfleet_core::trigger::{IntakeBody, Triggers, classify_intake};
use tracing::{Instrument as _, debug, info, warn};

use crate::executor::Executor;

/// Everything a worker needs; `main` builds it from AWS clients, the demo from in-memory ones.
#[derive(Clone)]
pub struct Deps {
    /// Saga state.
    pub store: Arc<dyn SagaStore>,
    /// Rollout requests.
    pub intake: Arc<dyn MessageQueue>,
    /// Step and timer messages.
    pub steps: Arc<dyn MessageQueue>,
    /// CodeDeploy state-change events (from EventBridge).
    pub events: Arc<dyn MessageQueue>,
    /// Lifecycle events.
    pub bus: Arc<dyn EventBus>,
    /// Remote calls.
    pub executor: Executor,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

/// Which queue a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Rollout requests.
    Intake,
    /// Steps and timers.
    Steps,
    /// CodeDeploy events.
    Events,
}

/// What to do with a message once handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Done: delete it.
    Ack,
    /// Could not be handled now (store or queue unavailable): make it visible again after a delay.
    Retry(u64),
    /// Bad input: leave it to the redrive policy, which moves it to the dead-letter queue.
    Poison(String),
    /// A broken invariant (`SagaError`): a bug, not a cloud failure. Retrying cannot help, so the
    /// message goes to the dead-letter queue at once ([`greenfleet_core::ports::MessageQueue::dead_letter`]).
    DeadLetter(String),
}

/// A failure while handling a message; retryable failures leave the message for redelivery.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A queue or the bus failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The saga machine found a broken invariant.
    #[error(transparent)]
    Saga(#[from] greenfleet_core::SagaError),
}

/// Receives of an event for an unknown deployment before it is dropped as not greenfleet's.
const UNKNOWN_EVENT_RECEIVES: u32 = 3;
/// How many times a lost conditional write is retried before the message is left for redelivery.
const CONFLICT_RETRIES: u32 = 8;

/// The worker: stateless, so any number can share the queues.
#[derive(Clone)]
pub struct Worker {
    deps: Deps,
    triggers: Arc<Triggers>,
}

impl Worker {
    /// A worker over `deps`, without triggers.
    #[must_use]
    pub fn new(deps: Deps) -> Self {
        Self { deps, triggers: Arc::new(Triggers::default()) }
    }

    /// The same worker, starting rollouts for events that match `triggers`.
    #[must_use]
    pub fn with_triggers(mut self, triggers: Triggers) -> Self {
        self.triggers = Arc::new(triggers);
        self
    }

    /// Its dependencies.
    #[must_use]
    pub fn deps(&self) -> &Deps {
        &self.deps
    }

    /// Handles one delivery from `source`. Never panics on bad input.
    pub async fn process(&self, source: Source, d: &Delivery) -> Disposition {
        let result = match source {
            Source::Intake => self.intake(d).await,
            Source::Steps => self.step(d).await,
            Source::Events => self.event(d).await,
        };
        result.unwrap_or_else(|e| match e {
            WorkerError::Saga(bug) => {
                let greenfleet_core::SagaError::Invariant { rollout, what } = &bug;
                tracing::error!(rollout_id = %rollout, invariant = %what, ?source, "broken invariant (a bug): the message goes to the dead-letter queue now");
                Disposition::DeadLetter(bug.to_string())
            }
            e => {
                warn!(error = %e, ?source, "message left for redelivery");
                Disposition::Retry(1_000)
            }
        })
    }

    async fn intake(&self, d: &Delivery) -> Result<Disposition, WorkerError> {
        let now = self.deps.clock.now();
        let body = match classify_intake(&d.body) {
            IntakeBody::Request(body) => body,
            IntakeBody::Event(event) if OperatorKind::of_event(&event).is_some() => {
                return self.operator_event(d, &event).await;
            }
            IntakeBody::Event(event) => return self.trigger_event(d, &event).await,
        };
        let request = match parse_request(body.as_bytes()) {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, receive_count = d.receive_count, "rollout request rejected");
                if d.receive_count <= 1 {
                    let event = LifecycleEvent::invalid_request(e.request_id.clone(), e.to_string(), now);
                    self.deps.bus.publish(&event).await?;
                }
                return Ok(Disposition::Poison(e.to_string()));
            }
        };
        self.accept(request).await?;
        Ok(Disposition::Ack)
    }

    /// A `Rollout Approved` or `Rollout Cancel Requested` event: drives the saga with the input
    /// `greenfleet approve` / `cancel` would, under a cause taken from the event's id (a redelivered
    /// event is handled once). A malformed one is poison; one for an unknown or finished rollout is
    /// logged and acked.
    async fn operator_event(&self, d: &Delivery, event: &serde_json::Value) -> Result<Disposition, WorkerError> {
        let command = match OperatorCommand::decode(event) {
            Ok(Some(c)) => c,
            Ok(None) => return Ok(Disposition::Poison("not an approval or cancel event".into())),
            Err(e) => {
                warn!(error = %e, receive_count = d.receive_count, "operator event refused; it goes to the intake dead-letter queue");
                return Ok(Disposition::Poison(e.to_string()));
            }
        };
        let (id, event_id, by, source) = (&command.rollout_id, &command.event_id, command.by(), &command.source);
        let what = command.kind.detail_type();
        async {
            match self.deps.store.load(id).await? {
                None => {
                    warn!(event_id, by, source, "`{what}` for a rollout greenfleet does not know; ignored (check the rolloutId)");
                    return Ok(Disposition::Ack);
                }
                Some(saga) if saga.phase.is_done() => {
                    info!(event_id, by, source, phase = %saga.phase.name(), "`{what}` for a rollout that already ended; ignored");
                    return Ok(Disposition::Ack);
                }
                Some(_) => info!(event_id, by, source, "`{what}` received"),
            }
            self.drive(id, Chain::new(command.cause()), Begin::Input(command.input())).await?;
            Ok(Disposition::Ack)
        }
        .instrument(rollout_span(id))
        .await
    }

    /// An EventBridge event on the intake queue: a rollout for each trigger it matches (the request
    /// id comes from the trigger and the event id, so a redelivered event starts nothing new).
    async fn trigger_event(&self, d: &Delivery, event: &serde_json::Value) -> Result<Disposition, WorkerError> {
        let source = event.get("source").and_then(|v| v.as_str()).unwrap_or_default();
        let detail_type = event.get("detail-type").and_then(|v| v.as_str()).unwrap_or_default();
        let event_id = event.get("id").and_then(|v| v.as_str()).unwrap_or_default();
        let requests = self.triggers.requests_for(event);
        if requests.is_empty() {
            info!(source, detail_type, event_id, "event matches no trigger; ignored");
            return Ok(Disposition::Ack);
        }
        let mut poison = None;
        for result in requests {
            match result {
                Ok(request) => {
                    info!(rollout_id = %request.rollout_id(), event_id, source, detail_type, "trigger matched");
                    self.accept(request).await?;
                }
                Err(e) => {
                    warn!(error = %e, receive_count = d.receive_count, "trigger could not start a rollout");
                    if d.receive_count <= 1 {
                        let now = self.deps.clock.now();
                        let event = LifecycleEvent::invalid_request(Some(e.request_id.clone()), e.to_string(), now);
                        self.deps.bus.publish(&event).await?;
                    }
                    poison = Some(e.to_string());
                }
            }
        }
        Ok(poison.map_or(Disposition::Ack, Disposition::Poison))
    }

    /// Stores a new saga for `request` and runs its first effects; a duplicate request id finds
    /// the saga already there (and replays its effects if the first worker died before them). The
    /// same id with a different request (another fingerprint) is refused with a `Rollout Request
    /// Conflicted` event and the existing rollout left untouched.
    async fn accept(&self, request: RolloutRequest) -> Result<(), WorkerError> {
        let span = rollout_span(&request.rollout_id());
        self.accept_in_span(request).instrument(span).await
    }

    async fn accept_in_span(&self, request: RolloutRequest) -> Result<(), WorkerError> {
        let now = self.deps.clock.now();
        let mut chain = Chain::new(format!("intake:{}", request.request_id));
        let refused = request.clone();
        let (saga, effects) = redelivery::create(greenfleet_core::accept(request, now), &chain);
        match self.deps.store.create(&saga).await {
            Ok(()) => {
                info!("rollout accepted");
                chain.reached(&saga);
                self.drive(&saga.id.clone(), chain, Begin::Effects(saga, effects)).await?;
            }
            Err(StoreError::Conflict) => {
                let existing = self.deps.store.load(&saga.id).await?;
                // Before the redelivery check: a different request under the same id would otherwise
                // be taken for a redelivery of the first while the outbox still names `intake:<id>`.
                let conflicted = existing.as_ref().and_then(|s| Some((s, fingerprint::conflict(s, &refused)?)));
                if let Some((s, conflict)) = conflicted {
                    warn!(fingerprint = %conflict.fingerprint, "{}", conflict.explain());
                    let event = LifecycleEvent::request_conflicted(s, &refused, &conflict, now);
                    self.deps.bus.publish(&event).await?;
                    return Ok(());
                }
                match existing.map(|s| (redelivery::replay(&s, &chain, now), s)) {
                    Some((Some(effects), s)) => {
                        debug!("intake redelivered; replaying its effects");
                        chain.reached(&s);
                        self.drive(&saga.id, chain, Begin::Effects(s, effects)).await?;
                    }
                    _ => info!("duplicate requestId: the rollout already exists; ignored"),
                }
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    async fn step(&self, d: &Delivery) -> Result<Disposition, WorkerError> {
        let msg = match StepMessage::decode(&d.body) {
            Ok(m) => m,
            Err(e) => return Ok(Disposition::Poison(e)),
        };
        let now = self.deps.clock.now();
        if msg.due > now {
            // A timer longer than the queue's longest delay: send it on again for the rest.
            let rest = msg.due.since(now);
            self.deps.steps.send(&msg.encode(), rest.min(self.deps.steps.max_delay_ms())).await?;
            return Ok(Disposition::Ack);
        }
        let chain = Chain::new(msg.id.clone());
        self.drive(&msg.rollout_id, chain, Begin::Input(msg.input())).instrument(rollout_span(&msg.rollout_id)).await?;
        Ok(Disposition::Ack)
    }

    async fn event(&self, d: &Delivery) -> Result<Disposition, WorkerError> {
        let decoded = match codedeploy_event::decode(d.body.as_bytes()) {
            Ok(e) => e,
            Err(e) => return Ok(Disposition::Poison(e)),
        };
        match decoded {
            QueuedEvent::Foreign { source, detail_type } => {
                info!(%source, %detail_type, "event from another source ignored");
            }
            QueuedEvent::CodeDeploy { event_id, event, .. } => {
                match self.deps.store.find_by_deployment(&event.deployment_id).await? {
                    // The index may lag the write that recorded the deployment: look again a few times.
                    None if d.receive_count < UNKNOWN_EVENT_RECEIVES => return Ok(Disposition::Retry(5_000)),
                    None => {
                        info!(deployment_id = %event.deployment_id, "event for a deployment greenfleet did not create; ignored")
                    }
                    Some(rollout) => {
                        let cause = format!("event:{event_id}:{}:{}", event.deployment_id, event.state.as_str());
                        let begin = Begin::Input(Input::Deployment(event));
                        self.drive(&rollout, Chain::new(cause), begin).instrument(rollout_span(&rollout)).await?;
                    }
                }
            }
        }
        Ok(Disposition::Ack)
    }

    /// Runs one message's chain for a saga: its input (or the effects already persisted for it), then
    /// every call result their effects produce, until nothing is left; then settles the outbox. What
    /// each input does — replay, nothing, or a write with the effects to run after it — is
    /// [`redelivery::decide`]'s; this loop only loads, writes, executes and repeats.
    async fn drive(&self, id: &RolloutId, mut chain: Chain, begin: Begin) -> Result<(), WorkerError> {
        let (mut latest, mut inputs) = match begin {
            Begin::Input(input) => (None, VecDeque::from([input])),
            Begin::Effects(saga, effects) => (Some(saga), self.execute(id, effects).await?.into()),
        };
        while let Some(input) = inputs.pop_front() {
            let effects = self.transition(id, &mut chain, input, &mut latest).await?;
            queue_results(&mut inputs, self.execute(id, effects).await?);
        }
        // Every effect of the chain ran: a duplicate of the message must not replay its wake-ups.
        if let Some(w) = latest.and_then(|saga| redelivery::settle(saga, &chain))
            && let Err(e) = self.deps.store.save(&w.next, w.expected).await
        {
            debug!(error = %e, "outbox not cleared; a duplicate may repeat its effects");
        }
        Ok(())
    }

    /// Decides one input of `chain` and persists it (reloading after a lost race), returning the
    /// effects to execute. `latest` is the saga as this chain last left it: reused for the next input,
    /// so a transition costs one conditional write and no read; dropped on a lost race.
    async fn transition(
        &self,
        id: &RolloutId,
        chain: &mut Chain,
        input: Input,
        latest: &mut Option<Saga>,
    ) -> Result<Vec<Effect>, WorkerError> {
        for _ in 0..CONFLICT_RETRIES {
            let saga = match latest.take() {
                Some(s) => s,
                None => match self.deps.store.load(id).await? {
                    Some(s) => s,
                    None => {
                        warn!("message for an unknown rollout; ignored");
                        return Ok(Vec::new());
                    }
                },
            };
            let now = self.deps.clock.now();
            match redelivery::decide(&saga, chain, input.clone(), now)? {
                Step::Replay(effects) => {
                    // Persisted for this message by a worker that may have died before acting on it (an
                    // earlier delivery, or one racing this one, which may ack it): finish what it started.
                    debug!(cause = chain.cause(), "redelivered; replaying the last transition's effects");
                    chain.reached(&saga);
                    *latest = Some(saga);
                    return Ok(effects);
                }
                Step::Unchanged(effects) => {
                    chain.reached(&saga);
                    *latest = Some(saga);
                    return Ok(effects);
                }
                Step::Persist { write, effects, carried } => {
                    match self.deps.store.save(&write.next, write.expected).await {
                        Ok(()) => {
                            if carried > 0 {
                                debug!(cause = chain.cause(), carried, "carried effects of the previous transition");
                            }
                            log_transition(&saga, &write.next);
                            chain.reached(&write.next);
                            *latest = Some(write.next);
                            return Ok(effects);
                        }
                        Err(StoreError::Conflict) => debug!("lost a race for the saga; reloading"),
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Err(StoreError::Conflict.into())
    }

    /// Executes effects in order; call results come back as inputs.
    async fn execute(&self, id: &RolloutId, effects: Vec<Effect>) -> Result<Vec<Input>, WorkerError> {
        // Sized for the call results up front: `Input` is large, and growing the vector would ask
        // the allocator for ever bigger blocks on every message.
        let calls = effects.iter().filter(|e| matches!(e, Effect::Call { .. })).count();
        let mut results = Vec::with_capacity(calls);
        let now = self.deps.clock.now();
        for effect in effects {
            match effect {
                Effect::Call { fence, command } => {
                    let result = self.deps.executor.execute(id, command, self.deps.clock.now()).await;
                    results.push(Input::Completed { fence, result });
                }
                Effect::Wake { fence, kind, seq, delay_ms } => {
                    let msg = StepMessage::wake(id, fence, kind, seq, now, delay_ms);
                    self.deps.steps.send(&msg.encode(), delay_ms.min(self.deps.steps.max_delay_ms())).await?;
                }
                Effect::Publish(event) => self.deps.bus.publish(&event).await?,
            }
        }
        Ok(results)
    }
}

/// Where a message's chain begins.
// Made and consumed at once, never stored: boxing the saga would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
enum Begin {
    /// Handle the message's input (loading the saga).
    Input(Input),
    /// Run effects already persisted for the message (a new rollout's first, or a redelivered
    /// request's) on the saga they were persisted with.
    Effects(Saga, Vec<Effect>),
}

/// Appends call results to the inputs still to handle, reusing the results' allocation when nothing
/// else is waiting (the usual case: one call at a time).
fn queue_results(inputs: &mut VecDeque<Input>, results: Vec<Input>) {
    if inputs.is_empty() {
        *inputs = results.into();
    } else {
        inputs.extend(results);
    }
}

/// The span around everything one message does for one rollout, so every line logged meanwhile —
/// the worker's, the executor's, the adapters' and their retries' — carries `rollout_id`. At ERROR
/// level so that no log filter that lets any line through drops the span (and its field) alone.
fn rollout_span(id: &RolloutId) -> tracing::Span {
    tracing::error_span!("rollout", rollout_id = %id)
}

fn log_transition(before: &Saga, after: &Saga) {
    if before.phase != after.phase {
        info!(step = %after.phase.name(), from = %before.phase.name(), "{}", after.waiting_for());
    }
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;
