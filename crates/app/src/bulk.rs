//! Bulk sends and bookings (SPEC §3 "Bulk"): one request, one communication
//! per client, all sharing a batch id; and a batch's progress.
//!
//! A bulk send stores every communication `not_sent` in one transaction and
//! wakes dispatch once. A bulk booking reserves each client's slot exactly as
//! a single booking does: the decision at the booked moment, counting the
//! client's counted moments, under the client's lock.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use omnichannel_domain::decision::{Decision, decide};
use omnichannel_domain::ports::{
    BulkInsert, BulkRepository, Clock, CommunicationSourceRepository, CommunicationTypeRepository,
    DepartmentRepository, RepoError,
};
use omnichannel_domain::{
    BatchId, Communication, CommunicationId, CommunicationStatus, DepartmentId, Event, EventKind,
    Message, SourceId, StatusReason, TypeId, UserId, ValidationErrors,
};
use tokio::sync::Notify;

use crate::channels::Channels;
use crate::communications::{BOOKING_THRESHOLD, References, Refusal, booked_event};
use crate::error::{GetError, unexpected};
use crate::policy::PolicyView;

/// The most clients one bulk names, and the most `all_users` reaches.
pub const MAX_CLIENTS: usize = 10_000;

/// A bulk send or booking, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkInput {
    /// The clients, 1 to 10 000; a client named twice is sent to once.
    pub user_ids: Option<Vec<UserId>>,
    /// `true`: every client stored now (at most 10 000), instead of
    /// `user_ids`; `false` is as if left out.
    pub all_users: Option<bool>,
    pub department_id: DepartmentId,
    pub type_id: TypeId,
    /// The channel to use, and no other.
    pub source_id: Option<SourceId>,
    pub message: String,
    /// Left out, past or present: now. More than a second ahead: a booking.
    pub communication_date: Option<DateTime<Utc>>,
}

/// Why a client of a bulk got no communication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// No client has the id.
    UnknownUser,
    /// The booking's decision at its moment (`user_unavailable`,
    /// `rate_limited`, `user_blocked`, `no_channel`, …).
    Policy(StatusReason),
}

impl RefusalReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UnknownUser => "unknown_user",
            Self::Policy(reason) => reason.as_str(),
        }
    }
}

/// One client of a bulk that got no communication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkRefusal {
    pub user_id: UserId,
    pub reason: RefusalReason,
    /// For a booking refused for a wait: the client's next free moment
    /// within the horizon.
    pub next_available_at: Option<DateTime<Utc>>,
}

/// What a bulk stored and refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkReceipt {
    pub batch_id: BatchId,
    /// The new communications, in the order their clients were named.
    pub ids: Vec<CommunicationId>,
    /// In the order the clients were named.
    pub refused: Vec<BulkRefusal>,
}

/// How far a batch has gone: how many of its communications have each status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchProgress {
    pub batch_id: BatchId,
    counts: HashMap<CommunicationStatus, u64>,
}

impl BatchProgress {
    /// How many communications of the batch have `status`.
    pub fn count(&self, status: CommunicationStatus) -> u64 {
        self.counts.get(&status).copied().unwrap_or(0)
    }

    /// How many communications the batch has.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    #[error("invalid input: {0}")]
    Invalid(ValidationErrors),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

impl From<RepoError> for BulkError {
    fn from(error: RepoError) -> Self {
        Self::Unexpected(unexpected(error))
    }
}

/// The ports a bulk uses.
pub struct BulkPorts {
    pub bulk: Arc<dyn BulkRepository>,
    pub departments: Arc<dyn DepartmentRepository>,
    pub types: Arc<dyn CommunicationTypeRepository>,
    pub sources: Arc<dyn CommunicationSourceRepository>,
    pub clock: Arc<dyn Clock>,
}

pub struct Bulk {
    ports: BulkPorts,
    channels: Arc<Channels>,
    horizon: Duration,
    /// Woken once a bulk is stored.
    dispatch: Arc<Notify>,
}

/// The communication every client of a bulk gets, but for its client.
struct Template {
    batch_id: BatchId,
    department_id: DepartmentId,
    type_id: TypeId,
    source_id: Option<SourceId>,
    message: Message,
    now: DateTime<Utc>,
    /// The booked moment, for a booking.
    booked_for: Option<DateTime<Utc>>,
}

impl Template {
    fn communication(&self, user_id: UserId) -> Communication {
        Communication {
            id: CommunicationId::generate(),
            department_id: self.department_id,
            user_id,
            type_id: self.type_id,
            requested_source_id: self.source_id,
            source_id: self.source_id,
            communication_date: self.booked_for.unwrap_or(self.now),
            status: if self.booked_for.is_some() {
                CommunicationStatus::Booked
            } else {
                CommunicationStatus::NotSent
            },
            status_reason: None,
            message: self.message.clone(),
            sent_at: None,
            delivered_at: None,
            read_at: None,
            attempts: 0,
            next_attempt_at: None,
            provider_message_id: None,
            batch_id: Some(self.batch_id),
            created_at: self.now,
            updated_at: self.now,
        }
    }
}

impl Bulk {
    pub fn new(
        ports: BulkPorts,
        channels: Arc<Channels>,
        horizon: Duration,
        dispatch: Arc<Notify>,
    ) -> Self {
        Self {
            ports,
            channels,
            horizon,
            dispatch,
        }
    }

    /// Sends to, or books, every client named (each once) under one new
    /// batch id. A send stores every existing client's communication
    /// `not_sent`; a booking stores a client's only if the decision at its
    /// moment, counting it, is to send. The rest are refused, with why.
    pub fn send(&self, input: BulkInput) -> Result<BulkReceipt, BulkError> {
        let (template, clients) = self.parse(input)?;
        let receipt = if template.booked_for.is_some() {
            self.book(&template, &clients)?
        } else {
            self.send_now(&template, &clients)?
        };
        let status = if template.booked_for.is_some() {
            CommunicationStatus::Booked
        } else {
            CommunicationStatus::NotSent
        };
        crate::metrics::created(crate::metrics::Via::Bulk, status, receipt.ids.len());
        if !receipt.ids.is_empty() {
            self.dispatch.notify_one();
        }
        Ok(receipt)
    }

    /// Every communication in one transaction, each with its `created` event.
    fn send_now(&self, template: &Template, clients: &[UserId]) -> Result<BulkReceipt, BulkError> {
        let mut ids = Vec::new();
        let mut kept = HashSet::new();
        self.ports
            .bulk
            .insert_for_clients(clients, &mut |existing| {
                kept = existing.iter().copied().collect();
                let mut insert = BulkInsert::default();
                for &user_id in clients.iter().filter(|id| kept.contains(id)) {
                    let communication = template.communication(user_id);
                    insert.events.push(Event::new(
                        communication.id,
                        template.now,
                        EventKind::Created,
                    ));
                    insert.communications.push(communication);
                }
                ids = insert.communications.iter().map(|c| c.id).collect();
                insert
            })?;
        let refused = clients
            .iter()
            .filter(|id| !kept.contains(id))
            .map(|&user_id| BulkRefusal {
                user_id,
                reason: RefusalReason::UnknownUser,
                next_available_at: None,
            })
            .collect();
        Ok(BulkReceipt {
            batch_id: template.batch_id,
            ids,
            refused,
        })
    }

    /// Each client decided as a single booking is, under the clients' locks.
    fn book(&self, template: &Template, clients: &[UserId]) -> Result<BulkReceipt, BulkError> {
        let at = template.booked_for.unwrap_or(template.now);
        let department = template.department_id;
        let pairs: Vec<(UserId, DepartmentId)> =
            clients.iter().map(|&user| (user, department)).collect();
        let mut outcomes: HashMap<UserId, Result<CommunicationId, BulkRefusal>> =
            HashMap::with_capacity(clients.len());
        // The snapshot is read at now, as a single booking reads it.
        self.ports
            .bulk
            .decide_for_clients(&pairs, template.now, &mut |chunk, snapshot| {
                let view = PolicyView::new(snapshot, &self.channels);
                let mut insert = BulkInsert::default();
                for &(user_id, _) in chunk {
                    let booking = template.communication(user_id);
                    let situation = view
                        .client(user_id, department)
                        .and_then(|client| view.situation(&booking, &client.counted, &[]));
                    let Some(situation) = situation else {
                        outcomes.insert(user_id, Err(unknown(user_id)));
                        continue;
                    };
                    match decide(&situation, at, self.horizon) {
                        Decision::Send { .. } => {
                            outcomes.insert(user_id, Ok(booking.id));
                            insert.events.extend([
                                Event::new(booking.id, template.now, EventKind::Created),
                                booked_event(&booking, template.now, None),
                            ]);
                            insert.communications.push(booking);
                        }
                        Decision::Defer { reason, .. } | Decision::Fail { reason } => {
                            let refusal = Refusal::of(&situation, reason, at, self.horizon);
                            outcomes.insert(
                                user_id,
                                Err(BulkRefusal {
                                    user_id,
                                    reason: RefusalReason::Policy(refusal.reason),
                                    next_available_at: refusal.next_available_at,
                                }),
                            );
                        }
                    }
                }
                insert
            })?;
        let mut ids = Vec::new();
        let mut refused = Vec::new();
        for user_id in clients {
            match outcomes.remove(user_id) {
                Some(Ok(id)) => ids.push(id),
                Some(Err(refusal)) => refused.push(refusal),
                None => {
                    return Err(BulkError::Unexpected(anyhow::anyhow!(
                        "the bulk booking decided nothing for client {user_id}"
                    )));
                }
            }
        }
        Ok(BulkReceipt {
            batch_id: template.batch_id,
            ids,
            refused,
        })
    }

    /// Validates the bulk, naming every invalid field, and answers the
    /// communication each client gets and the clients, each once, in the
    /// order named. References must exist.
    fn parse(&self, input: BulkInput) -> Result<(Template, Vec<UserId>), BulkError> {
        let mut errors = ValidationErrors::new();
        let message = errors.check("message", Message::parse(input.message));
        let listed = match (input.user_ids, input.all_users) {
            (Some(_), Some(true)) => {
                errors.add(
                    "all_users",
                    "cannot be given with user_ids; give one of them",
                );
                None
            }
            (None, Some(false)) => {
                errors.add(
                    "all_users",
                    "must be true, or be left out and user_ids given",
                );
                None
            }
            (None, None) => {
                errors.add("user_ids", "is required unless all_users is true");
                None
            }
            (Some(ids), None | Some(false)) if ids.is_empty() || ids.len() > MAX_CLIENTS => {
                errors.add(
                    "user_ids",
                    format!("must hold 1 to {MAX_CLIENTS} ids; send more in several bulks"),
                );
                None
            }
            (Some(ids), None | Some(false)) => Some(distinct(ids)),
            (None, Some(true)) => None,
        };
        References {
            departments: self.ports.departments.as_ref(),
            types: self.ports.types.as_ref(),
            sources: self.ports.sources.as_ref(),
        }
        .check(
            input.department_id,
            input.type_id,
            input.source_id,
            &mut errors,
        )?;
        let (Some(message), true) = (message, errors.is_empty()) else {
            return Err(BulkError::Invalid(errors));
        };
        let clients = match listed {
            Some(ids) => ids,
            None => self.all_clients()?,
        };
        let now = self.ports.clock.now();
        let template = Template {
            batch_id: BatchId::generate(),
            department_id: input.department_id,
            type_id: input.type_id,
            source_id: input.source_id,
            message,
            now,
            booked_for: input
                .communication_date
                .filter(|&date| date > now + BOOKING_THRESHOLD),
        };
        Ok((template, clients))
    }

    /// Every client stored now; more than [`MAX_CLIENTS`] is refused.
    fn all_clients(&self) -> Result<Vec<UserId>, BulkError> {
        let limit = u32::try_from(MAX_CLIENTS + 1).unwrap_or(u32::MAX);
        let ids = self.ports.bulk.client_ids(limit)?;
        if ids.len() > MAX_CLIENTS {
            return Err(BulkError::Invalid(ValidationErrors::single(
                "all_users",
                format!(
                    "reaches more than {MAX_CLIENTS} clients; name them in several bulks with user_ids"
                ),
            )));
        }
        Ok(ids)
    }

    /// The communications of the batch by status; `NotFound` when none has
    /// the batch id.
    pub fn progress(&self, batch_id: BatchId) -> Result<BatchProgress, GetError> {
        let counts = self.ports.bulk.batch_counts(batch_id)?;
        if counts.is_empty() {
            return Err(GetError::NotFound);
        }
        Ok(BatchProgress {
            batch_id,
            counts: counts.into_iter().collect(),
        })
    }
}

fn unknown(user_id: UserId) -> BulkRefusal {
    BulkRefusal {
        user_id,
        reason: RefusalReason::UnknownUser,
        next_available_at: None,
    }
}

/// The ids once each, in the order of their first appearance.
fn distinct(ids: Vec<UserId>) -> Vec<UserId> {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.into_iter().filter(|id| seen.insert(*id)).collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use omnichannel_domain::ports::{
        ClientPolicy, DepartmentPolicy, MockBulkRepository, MockClock,
        MockCommunicationSourceRepository, MockCommunicationTypeRepository,
        MockDepartmentRepository, MockProvider, PolicySnapshot,
    };
    use omnichannel_domain::{
        Availability, Code, CommunicationSource, CommunicationType, Department, DictionaryStatus,
        FavoriteSource, Name, PersonName, Phone, Rule, RuleId, RuleLimit, SourceKind, TimeUnit,
        User,
    };

    use super::*;
    use omnichannel_domain::decision::Counted;

    fn t(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0)
            .single()
            .unwrap_or_default()
            + Duration::minutes(minutes)
    }

    /// A department that sends the one type by sms.
    struct World {
        department: Department,
        kind: CommunicationType,
        sms: CommunicationSource,
    }

    impl World {
        fn new() -> Self {
            let department = Department {
                id: DepartmentId::generate(),
                name: Name::parse("Sales").expect("name"),
                created_at: t(0),
                updated_at: t(0),
            };
            let kind = CommunicationType {
                id: TypeId::generate(),
                code: Code::parse("mass").expect("code"),
                name: Name::parse("Mass").expect("name"),
                status: DictionaryStatus::Active,
                created_at: t(0),
                updated_at: t(0),
            };
            let sms = CommunicationSource {
                id: SourceId::generate(),
                code: Code::parse("sms").expect("code"),
                name: Name::parse("SMS").expect("name"),
                kind: SourceKind::Sms,
                status: DictionaryStatus::Active,
                created_at: t(0),
                updated_at: t(0),
            };
            Self {
                department,
                kind,
                sms,
            }
        }

        fn input(&self, user_ids: Option<Vec<UserId>>, all_users: Option<bool>) -> BulkInput {
            BulkInput {
                user_ids,
                all_users,
                department_id: self.department.id,
                type_id: self.kind.id,
                source_id: None,
                message: "Spring sale".to_owned(),
                communication_date: None,
            }
        }

        fn bulk(&self, repository: MockBulkRepository) -> Bulk {
            let mut departments = MockDepartmentRepository::new();
            let department = self.department.clone();
            departments
                .expect_get()
                .returning(move |id| Ok((id == department.id).then(|| department.clone())));
            let mut types = MockCommunicationTypeRepository::new();
            let kind = self.kind.clone();
            types
                .expect_get()
                .returning(move |id| Ok((id == kind.id).then(|| kind.clone())));
            let mut clock = MockClock::new();
            clock.expect_now().return_const(t(0));
            Bulk::new(
                BulkPorts {
                    bulk: Arc::new(repository),
                    departments: Arc::new(departments),
                    types: Arc::new(types),
                    sources: Arc::new(MockCommunicationSourceRepository::new()),
                    clock: Arc::new(clock),
                },
                Arc::new(Channels::new(Arc::new(MockProvider::new()))),
                Duration::days(7),
                Arc::new(Notify::new()),
            )
        }

        /// The snapshot of `clients` (with a phone) in the department with
        /// a rule of one a day and sms as its favourite.
        fn snapshot(&self, clients: &[(UserId, Vec<DateTime<Utc>>)]) -> PolicySnapshot {
            let mut snapshot = PolicySnapshot {
                types: vec![self.kind.clone()],
                sources: vec![self.sms.clone()],
                ..PolicySnapshot::default()
            };
            for (user, counted) in clients {
                snapshot.clients.insert(
                    (*user, self.department.id),
                    ClientPolicy {
                        user: User {
                            id: *user,
                            first_name: PersonName::parse("Ann").expect("name"),
                            last_name: PersonName::parse("Lee").expect("name"),
                            phone: Some(Phone::parse("+15551234567").expect("phone")),
                            email: None,
                            push_token: None,
                            external_id: None,
                            created_at: t(0),
                            updated_at: t(0),
                        },
                        availability: Availability::always(*user),
                        counted: counted
                            .iter()
                            .map(|&at| Counted {
                                at,
                                type_id: self.kind.id,
                            })
                            .collect(),
                    },
                );
            }
            snapshot.departments.insert(
                self.department.id,
                DepartmentPolicy {
                    rules: vec![Rule {
                        id: RuleId::generate(),
                        department_id: self.department.id,
                        type_id: None,
                        limit: RuleLimit::new(1, TimeUnit::Day, 1).expect("limit"),
                        created_at: t(0),
                        updated_at: t(0),
                    }],
                    favorites: vec![FavoriteSource {
                        department_id: self.department.id,
                        type_id: self.kind.id,
                        source_id: self.sms.id,
                        priority: 1,
                    }],
                },
            );
            snapshot
        }
    }

    fn fields(error: BulkError) -> Vec<String> {
        match error {
            BulkError::Invalid(errors) => errors.errors().iter().map(|e| e.field.clone()).collect(),
            BulkError::Unexpected(error) => panic!("unexpected: {error}"),
        }
    }

    #[test]
    fn exactly_one_of_user_ids_and_all_users_names_up_to_ten_thousand_clients() {
        let world = World::new();
        let bulk = world.bulk(MockBulkRepository::new());
        let one = Some(vec![UserId::generate()]);
        let cases = [
            (one.clone(), Some(true), "all_users"),
            (None, None, "user_ids"),
            (None, Some(false), "all_users"),
            (Some(Vec::new()), None, "user_ids"),
            (
                Some((0..=MAX_CLIENTS).map(|_| UserId::generate()).collect()),
                None,
                "user_ids",
            ),
        ];
        for (user_ids, all_users, field) in cases {
            let error = bulk
                .send(world.input(user_ids, all_users))
                .expect_err(field);
            assert_eq!(fields(error), [field]);
        }
        let mut input = world.input(one, None);
        input.message = " ".to_owned();
        input.department_id = DepartmentId::generate();
        let error = bulk.send(input).expect_err("invalid");
        assert_eq!(fields(error), ["message", "department_id"]);
    }

    #[test]
    fn all_users_reaching_more_than_ten_thousand_clients_is_refused() {
        let world = World::new();
        let mut repository = MockBulkRepository::new();
        repository
            .expect_client_ids()
            .withf(|&limit| limit as usize == MAX_CLIENTS + 1)
            .returning(|limit| Ok((0..limit).map(|_| UserId::generate()).collect()));
        let error = world
            .bulk(repository)
            .send(world.input(None, Some(true)))
            .expect_err("too many");
        assert_eq!(fields(error), ["all_users"]);
    }

    #[test]
    fn a_send_stores_each_known_client_once_and_refuses_the_unknown() {
        let world = World::new();
        let (a, unknown, c) = (UserId::generate(), UserId::generate(), UserId::generate());
        let mut repository = MockBulkRepository::new();
        repository
            .expect_insert_for_clients()
            .withf(move |ids, _| ids == [a, unknown, c])
            .times(1)
            .returning(move |_, write| {
                let insert = write(&[c, a]);
                assert_eq!(insert.communications.len(), 2);
                assert_eq!(insert.communications[0].user_id, a);
                assert_eq!(insert.communications[1].user_id, c);
                let batch = insert.communications[0].batch_id;
                assert!(batch.is_some());
                for (communication, event) in insert.communications.iter().zip(&insert.events) {
                    assert_eq!(communication.batch_id, batch);
                    assert_eq!(communication.status, CommunicationStatus::NotSent);
                    assert_eq!(communication.communication_date, t(0));
                    assert_eq!(
                        (event.communication_id, event.kind),
                        (communication.id, EventKind::Created)
                    );
                }
                Ok(())
            });
        let receipt = world
            .bulk(repository)
            .send(world.input(Some(vec![a, unknown, a, c]), None))
            .expect("accepted");
        assert_eq!(receipt.ids.len(), 2);
        assert_eq!(
            receipt.refused,
            [BulkRefusal {
                user_id: unknown,
                reason: RefusalReason::UnknownUser,
                next_available_at: None,
            }]
        );
    }

    #[test]
    fn a_booking_decides_each_client_at_its_moment_as_a_single_booking_does() {
        let world = World::new();
        let at = t(60 * 24);
        let (busy, free, unknown) = (UserId::generate(), UserId::generate(), UserId::generate());
        let snapshot = world.snapshot(&[(busy, vec![at - Duration::hours(1)]), (free, vec![])]);
        let department = world.department.id;
        let mut repository = MockBulkRepository::new();
        repository
            .expect_decide_for_clients()
            .withf(move |clients, now, _| {
                clients
                    == [
                        (busy, department),
                        (free, department),
                        (unknown, department),
                    ]
                    && *now == t(0)
            })
            .times(1)
            .returning(move |clients, _, decide| {
                let insert = decide(clients, &snapshot);
                assert_eq!(insert.communications.len(), 1);
                let booking = &insert.communications[0];
                assert_eq!(booking.user_id, free);
                assert_eq!(booking.status, CommunicationStatus::Booked);
                assert_eq!(booking.communication_date, at);
                let kinds: Vec<_> = insert.events.iter().map(|e| e.kind).collect();
                assert_eq!(kinds, [EventKind::Created, EventKind::Booked]);
                Ok(())
            });
        let mut input = world.input(Some(vec![busy, free, unknown]), None);
        input.communication_date = Some(at);
        let receipt = world.bulk(repository).send(input).expect("accepted");
        assert_eq!(receipt.ids.len(), 1);
        assert_eq!(
            receipt.refused,
            [
                BulkRefusal {
                    user_id: busy,
                    reason: RefusalReason::Policy(StatusReason::RateLimited),
                    next_available_at: Some(at - Duration::hours(1) + Duration::days(1)),
                },
                BulkRefusal {
                    user_id: unknown,
                    reason: RefusalReason::UnknownUser,
                    next_available_at: None,
                },
            ]
        );
    }

    #[test]
    fn a_batch_no_communication_has_is_not_found() {
        let world = World::new();
        let mut repository = MockBulkRepository::new();
        let known = BatchId::generate();
        repository.expect_batch_counts().returning(move |id| {
            Ok(if id == known {
                vec![
                    (CommunicationStatus::Sent, 3),
                    (CommunicationStatus::NotSent, 2),
                ]
            } else {
                Vec::new()
            })
        });
        let bulk = world.bulk(repository);
        let progress = bulk.progress(known).expect("found");
        assert_eq!(progress.total(), 5);
        assert_eq!(progress.count(CommunicationStatus::Sent), 3);
        assert_eq!(progress.count(CommunicationStatus::Booked), 0);
        assert!(matches!(
            bulk.progress(BatchId::generate()),
            Err(GetError::NotFound)
        ));
    }
}
