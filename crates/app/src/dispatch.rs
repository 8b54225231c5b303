//! Dispatch: claim due communications, decide under each client's lock,
//! reserve the slot, call the providers, record how each call ended.
//!
//! A claim is a batch: one transaction claims, loads the policies, decides
//! and reserves for every communication of the batch; the provider calls then
//! run concurrently (at most `concurrency` at once), and their outcomes are
//! written in batches as they end. A worker that dies leaves its claims to
//! the next one when their lease ends.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use omnichannel_domain::decision::{Counted, Decision, Skip, decide};
use omnichannel_domain::ports::{
    Claim, Clock, DispatchQueue, Outcome, Outgoing, PolicySnapshot, Provider, ProviderError,
    RepoError, Step,
};
use omnichannel_domain::{
    Communication, CommunicationId, DepartmentId, Event, EventKind, SourceId, StatusReason, UserId,
};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::channels::Channels;
use crate::policy::PolicyView;

/// The most outcomes written in one transaction.
const MAX_COMPLETION_BATCH: usize = 512;
/// Claims made at once, each with half of the call slots: while one is
/// written, the next decides.
const CLAIMS_AT_ONCE: usize = 2;
/// Outcome batches written at once: while one waits for its commit to be
/// flushed, the next is written.
const OUTCOME_WRITERS: usize = 2;
/// The shortest pause between two claims while work is due but could not be
/// claimed (its clients are locked by another worker).
const BUSY_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// How dispatch runs (`[worker]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchSettings {
    /// Provider calls at once.
    pub concurrency: usize,
    /// How often the queue is looked at when nothing wakes the worker.
    pub poll_interval: std::time::Duration,
    /// How long a claim is held before another worker may take it over.
    pub lease: Duration,
    /// The first retry delay after a transient error; each retry doubles it.
    pub retry_base: Duration,
    /// Provider calls on one channel before falling back to the next.
    pub max_attempts: u32,
    /// A deferral longer than this fails instead.
    pub horizon: Duration,
}

/// What a claim answers: how many communications it claimed, and the calls
/// to make.
type Claimed = Result<(usize, Vec<Job>), RepoError>;

/// One provider call to make, for a reserved communication.
#[derive(Clone)]
pub struct Job {
    pub id: CommunicationId,
    pub lease: uuid::Uuid,
    pub channel: SourceId,
    pub channel_code: String,
    /// Calls made on the channel before this one.
    pub channel_attempts: u32,
    pub outgoing: Outgoing,
    pub provider: Arc<dyn Provider>,
    /// When the communication became due (its next attempt, else its date):
    /// the dispatch lag is counted from it.
    pub due: DateTime<Utc>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("channel", &self.channel_code)
            .field("channel_attempts", &self.channel_attempts)
            .finish_non_exhaustive()
    }
}

pub struct Dispatcher {
    queue: Arc<dyn DispatchQueue>,
    channels: Arc<Channels>,
    clock: Arc<dyn Clock>,
    settings: DispatchSettings,
    /// Notified when a communication becomes due now.
    wake: Arc<Notify>,
    /// On stop, how long the calls in flight may take before their leases
    /// are given back; `None`: as long as they take.
    shutdown_grace: Option<std::time::Duration>,
}

impl Dispatcher {
    pub fn new(
        queue: Arc<dyn DispatchQueue>,
        channels: Arc<Channels>,
        clock: Arc<dyn Clock>,
        settings: DispatchSettings,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            queue,
            channels,
            clock,
            settings,
            wake,
            shutdown_grace: None,
        }
    }

    /// On stop, waits at most `grace` for the calls in flight, then cancels
    /// them and gives their leases back.
    #[must_use]
    pub fn with_shutdown_grace(mut self, grace: std::time::Duration) -> Self {
        self.shutdown_grace = Some(grace);
        self
    }

    /// The step of each claim at `now`, in order, and the provider calls to
    /// make. A reservation counts for the claims of the same client after it.
    pub fn plan(
        &self,
        claims: &[Claim],
        snapshot: &PolicySnapshot,
        now: DateTime<Utc>,
    ) -> (Vec<Step>, Vec<Job>) {
        let view = PolicyView::new(snapshot, &self.channels);
        let mut counted: HashMap<(UserId, DepartmentId), Vec<Counted>> = HashMap::new();
        let mut steps = Vec::with_capacity(claims.len());
        let mut jobs = Vec::new();
        for claim in claims {
            let c = &claim.communication;
            let key = (c.user_id, c.department_id);
            let client_counted = counted.entry(key).or_insert_with(|| {
                view.client(c.user_id, c.department_id)
                    .map(|client| client.counted.clone())
                    .unwrap_or_default()
            });
            let Some(situation) = view.situation(c, client_counted, &claim.given_up) else {
                // The client is gone: the database keeps a client's
                // communications, so this is not expected; give up loudly.
                tracing::error!(communication.id = %c.id, "the client of a claimed communication is missing");
                steps.push(fail(c.id, now, StatusReason::NoChannel));
                continue;
            };
            match decide(&situation, now, self.settings.horizon) {
                Decision::Send {
                    channel,
                    to,
                    skipped,
                } => {
                    let (Some(source), Some(provider)) = (
                        view.source(channel),
                        view.source(channel)
                            .and_then(|s| self.channels.provider(s.code.as_str())),
                    ) else {
                        steps.push(fail(c.id, now, StatusReason::NoChannel));
                        continue;
                    };
                    let detail = choice_detail(c, &skipped, &view);
                    let chosen = Event::new(c.id, now, EventKind::ChannelChosen)
                        .with_channel(source.code.as_str())
                        .with_detail(detail);
                    client_counted.push(Counted {
                        at: now,
                        type_id: c.type_id,
                    });
                    let type_ = view.communication_type(c.type_id);
                    jobs.push(Job {
                        id: c.id,
                        lease: claim.lease,
                        channel,
                        channel_code: source.code.as_str().to_owned(),
                        channel_attempts: if c.source_id == Some(channel) {
                            claim.channel_attempts
                        } else {
                            0
                        },
                        outgoing: Outgoing {
                            communication_id: c.id,
                            user_id: c.user_id,
                            department_id: c.department_id,
                            communication_type: type_
                                .map(|t| t.code.as_str().to_owned())
                                .unwrap_or_default(),
                            communication_type_name: type_
                                .map(|t| t.name.as_str().to_owned())
                                .unwrap_or_default(),
                            channel: source.code.as_str().to_owned(),
                            to,
                            message: c.message.as_str().to_owned(),
                        },
                        provider,
                        due: c.next_attempt_at.unwrap_or(c.communication_date),
                    });
                    steps.push(Step::Reserve {
                        id: c.id,
                        channel,
                        at: now,
                        events: vec![chosen],
                    });
                }
                Decision::Defer { until, reason } => steps.push(Step::Defer {
                    id: c.id,
                    until,
                    reason,
                    events: vec![Event::deferred(c.id, now, until, reason)],
                }),
                Decision::Fail { reason } => steps.push(fail(c.id, now, reason)),
            }
        }
        (steps, jobs)
    }

    /// How a provider call that ended at `now` is recorded.
    pub fn outcome(
        &self,
        job: &Job,
        result: Result<omnichannel_domain::ports::Delivery, ProviderError>,
        now: DateTime<Utc>,
    ) -> Outcome {
        let error = match result {
            Ok(delivery) => {
                let mut sent =
                    Event::new(job.id, now, EventKind::Sent).with_channel(&job.channel_code);
                if let Some(id) = &delivery.provider_message_id {
                    sent = sent.with_detail(format!("provider message id {id}"));
                }
                return Outcome::Sent {
                    id: job.id,
                    lease: job.lease,
                    provider_message_id: delivery.provider_message_id,
                    events: vec![sent],
                };
            }
            Err(error) => error,
        };
        let failed = Event::new(job.id, now, EventKind::AttemptFailed)
            .with_channel(&job.channel_code)
            .with_detail(error.to_string());
        let calls = job.channel_attempts + 1;
        match error {
            ProviderError::Transient(_) if calls < self.settings.max_attempts => {
                let until = now + self.backoff(calls);
                Outcome::Retry {
                    id: job.id,
                    lease: job.lease,
                    at: until,
                    channel_attempts: calls,
                    events: vec![
                        failed,
                        Event::deferred(job.id, now, until, StatusReason::Retrying)
                            .with_channel(&job.channel_code),
                    ],
                }
            }
            _ => Outcome::GiveUpChannel {
                id: job.id,
                lease: job.lease,
                channel: job.channel,
                at: now,
                events: vec![failed],
            },
        }
    }

    /// The delay before the call after `calls` calls: `retry_base`, doubled
    /// for each further call.
    fn backoff(&self, calls: u32) -> Duration {
        let doublings = calls.saturating_sub(1).min(20);
        self.settings.retry_base * 2_i32.pow(doublings)
    }

    /// Calls the provider and records how the call ended.
    pub async fn call(&self, job: Job) -> Outcome {
        let span = tracing::info_span!("dispatch", communication.id = %job.id, channel = %job.channel_code);
        tracing::Instrument::instrument(self.call_in_span(job), span).await
    }

    /// [`Self::call`], inside the span of the communication.
    async fn call_in_span(&self, job: Job) -> Outcome {
        tracing::debug!("calling the provider");
        let started = std::time::Instant::now();
        let result = job.provider.send(job.outgoing.clone()).await;
        crate::metrics::provider_call(&job.channel_code, &result, started.elapsed());
        if result.is_ok() {
            crate::metrics::dispatch_lag(&job.channel_code, job.due, self.clock.now());
        }
        if let Err(error) = &result {
            tracing::info!(communication.id = %job.id, channel = job.channel_code, %error, "provider call failed");
        }
        self.outcome(&job, result, self.clock.now())
    }

    /// Claims once, with room for `limit` provider calls: the number claimed
    /// and the calls to make.
    pub async fn claim(self: &Arc<Self>, limit: u32) -> Claimed {
        let this = self.clone();
        let work = move || {
            let now = this.clock.now();
            let lease_until = now + this.settings.lease;
            let mut jobs = Vec::new();
            let mut moves = crate::metrics::StepMoves::default();
            let claimed = this
                .queue
                .claim(now, lease_until, limit, &mut |claims, snapshot| {
                    let (steps, planned) = this.plan(claims, snapshot, now);
                    jobs = planned;
                    moves = crate::metrics::StepMoves::of(&steps);
                    steps
                })?;
            moves.record();
            Ok((claimed, jobs))
        };
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| RepoError::Unexpected(anyhow::anyhow!("the claim task failed: {e}")))?
    }

    /// Runs until `stop` turns true: claims while there is room for calls,
    /// sleeps until woken, the next due moment or the poll interval. On stop,
    /// claims no more, lets the calls in flight end and records them.
    ///
    /// A claim first takes the call slots it may fill — half of them, so
    /// that rows are claimed in batches rather than a few at a time, and two
    /// claims can be under way at once — so that every communication it
    /// claims is called at once; up to [`CLAIMS_AT_ONCE`] claims run at the
    /// same time, each with its own slots. (A claim that took every free
    /// slot left the next one waiting for its calls to end: the claims, a
    /// dozen round trips each, then ran one after the other, and the
    /// database sat idle between them.)
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let concurrency = self.settings.concurrency.max(1);
        let batch = u32::try_from(concurrency.div_ceil(2)).unwrap_or(u32::MAX);
        let slots = Arc::new(Semaphore::new(concurrency));
        let (done, outcomes) = mpsc::unbounded_channel();
        let mut in_flight = crate::in_flight::InFlight::default();
        let mut claims: JoinSet<(OwnedSemaphorePermit, Claimed)> = JoinSet::new();
        // While the queue has nothing to claim: when to look at it again.
        let mut idle_until: Option<tokio::time::Instant> = None;
        let recorder = tokio::spawn(self.clone().record(outcomes));
        // The stop's sender gone: no one can stop this any more, so it stops.
        let mut orphaned = false;
        tracing::info!(concurrency, "dispatch started");
        loop {
            let stopping = orphaned || *stop.borrow();
            if stopping && claims.is_empty() {
                break;
            }
            let may_claim = !stopping && idle_until.is_none() && claims.len() < CLAIMS_AT_ONCE;
            let idle = idle_until.unwrap_or_else(tokio::time::Instant::now);
            tokio::select! {
                joined = claims.join_next(), if !claims.is_empty() => {
                    let Some(joined) = joined else { continue };
                    let Ok((mut permits, claimed)) = joined else {
                        tracing::error!("a claim task failed");
                        continue;
                    };
                    let limit = permits.num_permits();
                    let pause = match claimed {
                        Ok((claimed, jobs)) => {
                            for job in jobs {
                                let Some(slot) = permits.split(1) else { break };
                                let this = self.clone();
                                let (id, lease) = (job.id, job.lease);
                                let call = async move {
                                    let outcome = this.call(job).await;
                                    drop(slot);
                                    outcome
                                };
                                in_flight.spawn(id, lease, call, done.clone());
                            }
                            // A claim that found fewer rows than its slots
                            // emptied what is due now; one that filled them
                            // may have left more.
                            if claimed >= limit {
                                idle_until = None;
                                None
                            } else {
                                Some(self.pause().await)
                            }
                        }
                        Err(error) => {
                            tracing::error!(
                                error = format!("{error:#}"),
                                "claiming due communications failed"
                            );
                            Some(self.settings.poll_interval)
                        }
                    };
                    if let Some(pause) = pause {
                        idle_until = Some(tokio::time::Instant::now() + pause);
                    }
                }
                permits = slots.clone().acquire_many_owned(batch), if may_claim => {
                    let Ok(permits) = permits else { break };
                    let this = self.clone();
                    claims.spawn(async move {
                        let limit = u32::try_from(permits.num_permits()).unwrap_or(u32::MAX);
                        let claimed = this.claim(limit).await;
                        (permits, claimed)
                    });
                }
                () = self.wake.notified(), if idle_until.is_some() => idle_until = None,
                () = tokio::time::sleep_until(idle), if idle_until.is_some() => idle_until = None,
                changed = stop.changed(), if !stopping => orphaned = changed.is_err(),
            }
        }
        tracing::info!(grace = ?self.shutdown_grace, "dispatch stopping: waiting for the calls in flight");
        let unfinished = in_flight.end(self.shutdown_grace).await;
        drop(done);
        drop(recorder.await);
        self.release(unfinished).await;
        tracing::info!("dispatch stopped");
    }

    /// Gives back the leases of calls cancelled by a stop: the next worker
    /// takes their communications at once.
    async fn release(&self, unfinished: Vec<(CommunicationId, uuid::Uuid)>) {
        if unfinished.is_empty() {
            return;
        }
        let count = unfinished.len();
        tracing::warn!(
            count,
            "the grace period ended: giving back the leases of the calls still in flight"
        );
        let queue = self.queue.clone();
        let now = self.clock.now();
        match tokio::task::spawn_blocking(move || queue.release(&unfinished, now)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(
                error = format!("{error:#}"),
                count,
                "giving back leases failed: they will end and the calls be made again"
            ),
            Err(error) => tracing::error!(%error, "the release task failed"),
        }
    }

    /// How long to sleep when the queue has nothing more to claim now.
    async fn pause(self: &Arc<Self>) -> std::time::Duration {
        let queue = self.queue.clone();
        let next = tokio::task::spawn_blocking(move || queue.next_due()).await;
        let poll = self.settings.poll_interval;
        match next {
            Ok(Ok(Some(due))) => {
                let wait = (due - self.clock.now()).to_std().unwrap_or_default();
                wait.clamp(BUSY_PAUSE, poll)
            }
            Ok(Ok(None)) => poll,
            Ok(Err(error)) => {
                tracing::error!(error = format!("{error:#}"), "reading the queue failed");
                poll
            }
            Err(_) => poll,
        }
    }

    /// Writes outcomes in batches as they arrive, until every sender is gone
    /// and every batch is written. Up to [`OUTCOME_WRITERS`] batches are
    /// written at once; the outcomes that arrive while every writer is busy
    /// make the next batch.
    async fn record(self: Arc<Self>, mut outcomes: mpsc::UnboundedReceiver<Outcome>) {
        let writers = Arc::new(Semaphore::new(OUTCOME_WRITERS));
        let mut writes = JoinSet::new();
        while let Some(first) = outcomes.recv().await {
            let Ok(writer) = writers.clone().acquire_owned().await else {
                break;
            };
            let mut batch = vec![first];
            while batch.len() < MAX_COMPLETION_BATCH {
                match outcomes.try_recv() {
                    Ok(outcome) => batch.push(outcome),
                    Err(_) => break,
                }
            }
            let this = self.clone();
            writes.spawn(async move {
                let again_now = batch
                    .iter()
                    .any(|o| matches!(o, Outcome::GiveUpChannel { .. }));
                this.write_outcomes(batch).await;
                drop(writer);
                if again_now {
                    this.wake.notify_one();
                }
            });
            while writes.try_join_next().is_some() {}
        }
        while writes.join_next().await.is_some() {}
    }
}

impl Dispatcher {
    /// Writes one batch of outcomes. While the database cannot be reached
    /// the write is tried again, for as long as the claims' lease lasts: a
    /// provider's answer that is not written is a call made again once the
    /// lease ends. A write after the lease changes nothing (outcomes are
    /// written only under their lease), so trying longer is harmless but
    /// useless.
    async fn write_outcomes(&self, batch: Vec<Outcome>) {
        let count = batch.len();
        let give_up_at =
            std::time::Instant::now() + self.settings.lease.to_std().unwrap_or_default();
        let mut pause = RECORD_RETRY_FIRST;
        let mut batch = batch;
        loop {
            let queue = self.queue.clone();
            let written = tokio::task::spawn_blocking(move || {
                let result = queue.complete(&batch);
                (batch, result)
            })
            .await;
            match written {
                Ok((batch, Ok(()))) => {
                    crate::metrics::outcomes_written(&batch);
                    return;
                }
                Ok((back, Err(error))) => {
                    if std::time::Instant::now() + pause >= give_up_at {
                        tracing::error!(
                            error = format!("{error:#}"),
                            count,
                            "recording provider outcomes failed until their lease ended: the calls will be made again"
                        );
                        return;
                    }
                    tracing::warn!(
                        error = format!("{error:#}"),
                        count,
                        retry_in_ms = pause.as_millis(),
                        "recording provider outcomes failed: trying again"
                    );
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RECORD_RETRY_MAX);
                    batch = back;
                }
                Err(error) => {
                    tracing::error!(%error, "the recording task failed");
                    return;
                }
            }
        }
    }
}

/// The pauses between tries of an outcome write the database refused.
const RECORD_RETRY_FIRST: std::time::Duration = std::time::Duration::from_millis(200);
const RECORD_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(5);

fn fail(id: CommunicationId, at: DateTime<Utc>, reason: StatusReason) -> Step {
    Step::Fail {
        id,
        at,
        reason,
        events: vec![Event::new(id, at, EventKind::Failed).with_reason(reason)],
    }
}

/// Why the channel was chosen, in words.
fn choice_detail(c: &Communication, skipped: &[(SourceId, Skip)], view: &PolicyView<'_>) -> String {
    if c.requested_source_id.is_some() {
        return "asked for by the caller".to_owned();
    }
    let mut detail = "the department's first usable favourite for the type".to_owned();
    if !skipped.is_empty() {
        let passed: Vec<String> = skipped
            .iter()
            .map(|(id, skip)| {
                let code = view
                    .source(*id)
                    .map_or_else(|| id.to_string(), |s| s.code.as_str().to_owned());
                format!("{code} ({})", skip.as_str())
            })
            .collect();
        detail.push_str("; passed over: ");
        detail.push_str(&passed.join(", "));
    }
    detail
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use omnichannel_domain::ports::{
        ClientPolicy, Delivery, DepartmentPolicy, MockClock, MockDispatchQueue, MockProvider,
    };
    use omnichannel_domain::{
        Availability, Code, CommunicationSource, CommunicationStatus, CommunicationType,
        DictionaryStatus, FavoriteSource, Message, Name, PersonName, Phone, Rule, RuleId,
        RuleLimit, SourceKind, TimeUnit, TypeId, User,
    };

    use super::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0)
            .single()
            .unwrap_or_default()
            + Duration::seconds(seconds)
    }

    fn source(code: &str, kind: SourceKind) -> CommunicationSource {
        CommunicationSource {
            id: SourceId::generate(),
            code: Code::parse(code).expect("code"),
            name: Name::parse(code).expect("name"),
            kind,
            status: DictionaryStatus::Active,
            created_at: t(0),
            updated_at: t(0),
        }
    }

    /// One client with a phone and an e-mail; the department prefers sms,
    /// then email, for the one type.
    struct World {
        snapshot: PolicySnapshot,
        user: UserId,
        department: DepartmentId,
        type_id: TypeId,
        sms: SourceId,
        email: SourceId,
    }

    impl World {
        fn new(rules: Vec<RuleLimit>) -> Self {
            let user = User {
                id: UserId::generate(),
                first_name: PersonName::parse("Ann").expect("name"),
                last_name: PersonName::parse("Lee").expect("name"),
                phone: Some(Phone::parse("+15551234567").expect("phone")),
                email: Some(omnichannel_domain::Email::parse("ann@example.com").expect("email")),
                push_token: None,
                external_id: None,
                created_at: t(0),
                updated_at: t(0),
            };
            let department = DepartmentId::generate();
            let kind = CommunicationType {
                id: TypeId::generate(),
                code: Code::parse("service").expect("code"),
                name: Name::parse("Service").expect("name"),
                status: DictionaryStatus::Active,
                created_at: t(0),
                updated_at: t(0),
            };
            let sms = source("sms", SourceKind::Sms);
            let email = source("email", SourceKind::Email);
            let favorites = [(&sms, 1), (&email, 2)]
                .into_iter()
                .map(|(s, priority)| FavoriteSource {
                    department_id: department,
                    type_id: kind.id,
                    source_id: s.id,
                    priority,
                })
                .collect();
            let rules = rules
                .into_iter()
                .map(|limit| Rule {
                    id: RuleId::generate(),
                    department_id: department,
                    type_id: None,
                    limit,
                    created_at: t(0),
                    updated_at: t(0),
                })
                .collect();
            let mut snapshot = PolicySnapshot::default();
            snapshot.clients.insert(
                (user.id, department),
                ClientPolicy {
                    availability: Availability::always(user.id),
                    user: user.clone(),
                    counted: Vec::new(),
                },
            );
            snapshot
                .departments
                .insert(department, DepartmentPolicy { rules, favorites });
            let world = Self {
                user: user.id,
                department,
                type_id: kind.id,
                sms: sms.id,
                email: email.id,
                snapshot,
            };
            Self {
                snapshot: PolicySnapshot {
                    types: vec![kind],
                    sources: vec![sms, email],
                    ..world.snapshot
                },
                ..world
            }
        }

        fn claim(&self, given_up: Vec<SourceId>, channel_attempts: u32) -> Claim {
            let id = CommunicationId::generate();
            Claim {
                communication: Communication {
                    id,
                    department_id: self.department,
                    user_id: self.user,
                    type_id: self.type_id,
                    requested_source_id: None,
                    source_id: (channel_attempts > 0).then_some(self.sms),
                    communication_date: t(0),
                    status: CommunicationStatus::NotSent,
                    status_reason: None,
                    message: Message::parse("Hello").expect("message"),
                    sent_at: None,
                    delivered_at: None,
                    read_at: None,
                    attempts: channel_attempts,
                    next_attempt_at: None,
                    provider_message_id: None,
                    batch_id: None,
                    created_at: t(0),
                    updated_at: t(0),
                },
                lease: uuid::Uuid::new_v4(),
                given_up,
                channel_attempts,
            }
        }
    }

    fn settings() -> DispatchSettings {
        DispatchSettings {
            concurrency: 4,
            poll_interval: std::time::Duration::from_millis(100),
            lease: Duration::seconds(30),
            retry_base: Duration::seconds(2),
            max_attempts: 3,
            horizon: Duration::days(7),
        }
    }

    /// A provider that answers `answers` in turn, one per call.
    fn provider(answers: Vec<Result<Delivery, ProviderError>>) -> Arc<dyn Provider> {
        let mut provider = MockProvider::new();
        let mut answers = answers.into_iter();
        provider.expect_send().returning(move |_| {
            let answer = answers.next().expect("no more calls were expected");
            Box::pin(async move { answer })
        });
        Arc::new(provider)
    }

    fn dispatcher(queue: MockDispatchQueue, channels: Channels, now: DateTime<Utc>) -> Dispatcher {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(now);
        Dispatcher::new(
            Arc::new(queue),
            Arc::new(channels),
            Arc::new(clock),
            settings(),
            Arc::new(Notify::new()),
        )
    }

    fn on_one_provider(provider: Arc<dyn Provider>) -> Channels {
        Channels::new(provider)
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    /// A queue whose claims take a while and claim nothing, noting the room
    /// each was given and how many were under way at once. (A mock would
    /// not do: mockall calls one expectation at a time.)
    #[derive(Default)]
    struct SlowClaims {
        limits: std::sync::Mutex<Vec<u32>>,
        under_way: std::sync::atomic::AtomicUsize,
        most: std::sync::atomic::AtomicUsize,
    }

    impl DispatchQueue for SlowClaims {
        fn claim<'a>(
            &self,
            _: DateTime<Utc>,
            _: DateTime<Utc>,
            limit: u32,
            _: &mut omnichannel_domain::ports::Planner<'a>,
        ) -> Result<usize, RepoError> {
            use std::sync::atomic::Ordering::SeqCst;
            self.limits.lock().unwrap().push(limit);
            let at_once = self.under_way.fetch_add(1, SeqCst) + 1;
            self.most.fetch_max(at_once, SeqCst);
            // Long enough for another claim to start, if it may.
            std::thread::sleep(std::time::Duration::from_millis(200));
            self.under_way.fetch_sub(1, SeqCst);
            Ok(0)
        }

        fn complete(&self, _: &[Outcome]) -> Result<(), RepoError> {
            Ok(())
        }

        fn release(
            &self,
            _: &[(CommunicationId, uuid::Uuid)],
            _: DateTime<Utc>,
        ) -> Result<(), RepoError> {
            Ok(())
        }

        fn next_due(&self) -> Result<Option<DateTime<Utc>>, RepoError> {
            Ok(None)
        }
    }

    /// Each claim asks for half of the call slots, and two claims are under
    /// way at once; and a dispatcher whose stop can no longer be sent (its
    /// sender dropped) stops rather than waiting on it for ever.
    #[test]
    fn two_claims_of_half_the_slots_run_at_once_and_a_dispatcher_without_its_stop_stops() {
        let queue = Arc::new(SlowClaims::default());
        let mut clock = MockClock::new();
        clock.expect_now().return_const(t(0));
        let dispatch = Arc::new(Dispatcher::new(
            queue.clone(),
            Arc::new(on_one_provider(provider(vec![]))),
            Arc::new(clock),
            settings(),
            Arc::new(Notify::new()),
        ));
        let (stop, stopped) = watch::channel(false);
        let ran = runtime().block_on(async move {
            let running = tokio::spawn(dispatch.run(stopped));
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            drop(stop);
            tokio::time::timeout(std::time::Duration::from_secs(5), running).await
        });
        assert!(matches!(ran, Ok(Ok(()))), "the dispatcher did not stop");
        let limits = queue.limits.lock().unwrap();
        assert!(!limits.is_empty());
        assert!(limits.iter().all(|&limit| limit == 2), "{limits:?}");
        assert_eq!(queue.most.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    /// The database refusing an outcome write for a moment (a restart, ended
    /// connections) does not lose the provider's answer: the write is tried
    /// again, the same batch, until it is taken.
    #[test]
    fn an_outcome_the_database_refuses_for_a_moment_is_written_again() {
        let outcome = Outcome::Sent {
            id: CommunicationId::generate(),
            lease: uuid::Uuid::new_v4(),
            provider_message_id: Some("p-1".to_owned()),
            events: Vec::new(),
        };
        let written = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut queue = MockDispatchQueue::new();
        let mut refusals = 2;
        let seen = Arc::clone(&written);
        queue.expect_complete().times(3).returning(move |batch| {
            seen.lock().unwrap().push(batch.to_vec());
            if refusals > 0 {
                refusals -= 1;
                Err(RepoError::Unexpected(anyhow::anyhow!(
                    "the database is down"
                )))
            } else {
                Ok(())
            }
        });
        let dispatch = Arc::new(dispatcher(
            queue,
            on_one_provider(provider(Vec::new())),
            t(0),
        ));
        let (sender, receiver) = mpsc::unbounded_channel();
        sender.send(outcome.clone()).unwrap();
        drop(sender);

        runtime().block_on(dispatch.record(receiver));

        let written = written.lock().unwrap();
        assert_eq!(written.len(), 3);
        assert!(written.iter().all(|batch| batch == &vec![outcome.clone()]));
    }

    /// Past the lease, a write is useless (another worker owns the
    /// communication): the dispatcher stops trying.
    #[test]
    fn an_outcome_write_is_not_tried_past_the_lease() {
        let mut queue = MockDispatchQueue::new();
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        queue.expect_complete().returning(move |_| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(RepoError::Unexpected(anyhow::anyhow!(
                "the database is down"
            )))
        });
        let mut clock = MockClock::new();
        clock.expect_now().return_const(t(0));
        let dispatch = Arc::new(Dispatcher::new(
            Arc::new(queue),
            Arc::new(on_one_provider(provider(Vec::new()))),
            Arc::new(clock),
            DispatchSettings {
                lease: Duration::milliseconds(700),
                ..settings()
            },
            Arc::new(Notify::new()),
        ));
        let (sender, receiver) = mpsc::unbounded_channel();
        sender
            .send(Outcome::Sent {
                id: CommunicationId::generate(),
                lease: uuid::Uuid::new_v4(),
                provider_message_id: None,
                events: Vec::new(),
            })
            .unwrap();
        drop(sender);

        runtime().block_on(dispatch.record(receiver));

        // Tries at 0, 0.2 and 0.6 s; the next pause would end past 0.7 s.
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[test]
    fn a_due_communication_is_reserved_on_the_first_favourite_and_sent() {
        let world = World::new(Vec::new());
        let sent = Ok(Delivery {
            provider_message_id: Some("p-1".to_owned()),
        });
        let dispatch = dispatcher(
            MockDispatchQueue::new(),
            on_one_provider(provider(vec![sent])),
            t(5),
        );
        let claim = world.claim(Vec::new(), 0);
        let (steps, jobs) = dispatch.plan(std::slice::from_ref(&claim), &world.snapshot, t(5));
        let Step::Reserve {
            channel,
            at,
            events,
            ..
        } = &steps[0]
        else {
            panic!("reserved: {steps:?}");
        };
        assert_eq!((*channel, *at), (world.sms, t(5)));
        assert_eq!(events[0].kind, EventKind::ChannelChosen);
        assert_eq!(events[0].channel.as_deref(), Some("sms"));
        assert_eq!(jobs[0].outgoing.to.as_deref(), Some("+15551234567"));
        assert_eq!(jobs[0].outgoing.communication_type, "service");
        let outcome = runtime().block_on(dispatch.call(jobs[0].clone()));
        assert!(
            matches!(&outcome, Outcome::Sent { provider_message_id: Some(id), lease, .. } if id == "p-1" && *lease == claim.lease),
            "{outcome:?}"
        );
    }

    #[test]
    fn a_transient_error_is_retried_with_backoff_then_succeeds() {
        let world = World::new(Vec::new());
        let answers = vec![
            Err(ProviderError::Transient("HTTP 503".to_owned())),
            Err(ProviderError::Transient("timed out".to_owned())),
            Ok(Delivery::default()),
        ];
        let dispatch = dispatcher(
            MockDispatchQueue::new(),
            on_one_provider(provider(answers)),
            t(10),
        );
        let rt = runtime();
        let mut attempts = 0;
        for expected_delay in [2, 4] {
            let claim = world.claim(Vec::new(), attempts);
            let (_, jobs) = dispatch.plan(&[claim], &world.snapshot, t(10));
            assert_eq!(jobs[0].channel_attempts, attempts);
            match rt.block_on(dispatch.call(jobs[0].clone())) {
                Outcome::Retry {
                    at,
                    channel_attempts,
                    events,
                    ..
                } => {
                    assert_eq!(at, t(10 + expected_delay));
                    assert_eq!(channel_attempts, attempts + 1);
                    assert_eq!(events[0].kind, EventKind::AttemptFailed);
                    assert!(
                        events[0]
                            .detail
                            .as_deref()
                            .is_some_and(|d| d.starts_with("transient"))
                    );
                    assert_eq!(events[1].reason, Some(StatusReason::Retrying));
                    attempts = channel_attempts;
                }
                other => panic!("a retry: {other:?}"),
            }
        }
        let claim = world.claim(Vec::new(), attempts);
        let (_, jobs) = dispatch.plan(&[claim], &world.snapshot, t(10));
        assert!(matches!(
            rt.block_on(dispatch.call(jobs[0].clone())),
            Outcome::Sent { .. }
        ));
    }

    #[test]
    fn a_permanent_error_falls_back_at_once_and_spent_retries_fall_back_then_fail() {
        let world = World::new(Vec::new());
        let rt = runtime();
        let refused = vec![Err(ProviderError::Permanent("HTTP 400".to_owned()))];
        let dispatch = dispatcher(
            MockDispatchQueue::new(),
            on_one_provider(provider(refused)),
            t(0),
        );
        let (_, jobs) = dispatch.plan(&[world.claim(Vec::new(), 0)], &world.snapshot, t(0));
        let outcome = rt.block_on(dispatch.call(jobs[0].clone()));
        assert!(
            matches!(outcome, Outcome::GiveUpChannel { channel, at, .. } if channel == world.sms && at == t(0)),
            "{outcome:?}"
        );
        // Decided again without sms: email is next.
        let (steps, _) = dispatch.plan(&[world.claim(vec![world.sms], 0)], &world.snapshot, t(0));
        assert!(matches!(&steps[0], Step::Reserve { channel, .. } if *channel == world.email));

        // The third transient error on a channel (max_attempts = 3) gives it up.
        let unavailable = vec![Err(ProviderError::Transient("HTTP 500".to_owned()))];
        let dispatch = dispatcher(
            MockDispatchQueue::new(),
            on_one_provider(provider(unavailable)),
            t(0),
        );
        let mut on_email = world.claim(vec![world.sms], 2);
        on_email.communication.source_id = Some(world.email);
        let (_, jobs) = dispatch.plan(&[on_email], &world.snapshot, t(0));
        let outcome = rt.block_on(dispatch.call(jobs[0].clone()));
        assert!(
            matches!(outcome, Outcome::GiveUpChannel { channel, .. } if channel == world.email),
            "{outcome:?}"
        );
        // Nothing left: failed with provider_error.
        let (steps, jobs) = dispatch.plan(
            &[world.claim(vec![world.sms, world.email], 0)],
            &world.snapshot,
            t(0),
        );
        assert!(jobs.is_empty());
        assert!(
            matches!(&steps[0], Step::Fail { reason: StatusReason::ProviderError, events, .. } if events[0].kind == EventKind::Failed),
            "{steps:?}"
        );
    }

    #[test]
    fn a_reservation_counts_for_the_next_claims_of_the_same_client() {
        let limit = RuleLimit::new(1, TimeUnit::Minute, 1).expect("rule");
        let world = World::new(vec![limit]);
        let dispatch = dispatcher(
            MockDispatchQueue::new(),
            Channels::new(provider(Vec::new())),
            t(0),
        );
        let claims = [world.claim(Vec::new(), 0), world.claim(Vec::new(), 0)];
        let (steps, jobs) = dispatch.plan(&claims, &world.snapshot, t(0));
        assert_eq!(jobs.len(), 1);
        assert!(matches!(steps[0], Step::Reserve { .. }));
        match &steps[1] {
            Step::Defer {
                until,
                reason,
                events,
                ..
            } => {
                assert_eq!((*until, *reason), (t(60), StatusReason::RateLimited));
                assert_eq!(events[0].until, Some(t(60)));
                assert_eq!(events[0].kind, EventKind::Deferred);
            }
            other => panic!("deferred: {other:?}"),
        }
    }

    #[test]
    fn a_slot_beyond_the_horizon_fails_the_communication() {
        let limit = RuleLimit::new(1, TimeUnit::Day, 30).expect("rule");
        let mut world = World::new(vec![limit]);
        if let Some(client) = world
            .snapshot
            .clients
            .get_mut(&(world.user, world.department))
        {
            client.counted.push(Counted {
                at: t(-60),
                type_id: world.type_id,
            });
        }
        let dispatch = dispatcher(
            MockDispatchQueue::new(),
            Channels::new(provider(Vec::new())),
            t(0),
        );
        let (steps, jobs) = dispatch.plan(&[world.claim(Vec::new(), 0)], &world.snapshot, t(0));
        assert!(jobs.is_empty());
        assert!(
            matches!(
                &steps[0],
                Step::Fail {
                    reason: StatusReason::RateLimited,
                    ..
                }
            ),
            "{steps:?}"
        );
    }

    #[test]
    fn a_switched_off_channel_is_never_called() {
        let world = World::new(Vec::new());
        let channels = Channels::new(provider(Vec::new())).with("sms", None);
        let dispatch = dispatcher(MockDispatchQueue::new(), channels, t(0));
        let (steps, jobs) = dispatch.plan(&[world.claim(Vec::new(), 0)], &world.snapshot, t(0));
        assert!(matches!(&steps[0], Step::Reserve { channel, .. } if *channel == world.email));
        assert_eq!(jobs[0].channel_code, "email");
    }

    #[test]
    fn claiming_plans_inside_the_queue_transaction_and_hands_back_the_calls() {
        let world = World::new(Vec::new());
        let claim = world.claim(Vec::new(), 0);
        let snapshot = world.snapshot.clone();
        let mut queue = MockDispatchQueue::new();
        queue
            .expect_claim()
            .withf(|now, lease_until, limit, _| {
                *lease_until == *now + Duration::seconds(30) && *limit == 4
            })
            .times(1)
            .returning(move |_, _, _, plan| {
                let steps = plan(std::slice::from_ref(&claim), &snapshot);
                assert_eq!(steps.len(), 1);
                Ok(1)
            });
        let dispatch = Arc::new(dispatcher(queue, Channels::new(provider(Vec::new())), t(0)));
        let (claimed, jobs) = runtime().block_on(dispatch.claim(4)).expect("claimed");
        assert_eq!((claimed, jobs.len()), (1, 1));
        assert_eq!(jobs[0].channel, world.sms);
    }
}
