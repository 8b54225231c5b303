//! Send, book, reschedule, cancel and follow communications (SPEC §3).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use omnichannel_domain::decision::{Decision, Situation, decide, next_slot};
use omnichannel_domain::ports::{
    ClientWrite, Clock, CommunicationFilter, CommunicationRepository,
    CommunicationSourceRepository, CommunicationTypeRepository, DepartmentRepository, Page, Paged,
    PolicyRepository, RepoError, Stored, UserRepository,
};
use omnichannel_domain::{
    ApiKeyId, BatchId, Communication, CommunicationId, CommunicationStatus, DepartmentId, Event,
    EventKind, Message, SourceId, StatusReason, TypeId, UserId, ValidationErrors,
};
use tokio::sync::Notify;

use crate::channels::Channels;
use crate::error::{GetError, ListError, unexpected};
use crate::intake::{GroupCommit, Intake};
use crate::policy::PolicyView;

/// A date more than this ahead of now books; anything earlier sends now.
pub(crate) const BOOKING_THRESHOLD: Duration = Duration::seconds(1);
/// The longest `detail` of a status update.
const MAX_DETAIL_CHARS: usize = 1_000;

/// A send or a booking, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCommunication {
    pub user_id: UserId,
    pub department_id: DepartmentId,
    pub type_id: TypeId,
    /// The channel to use, and no other.
    pub source_id: Option<SourceId>,
    pub message: String,
    /// Left out, past or present: now. More than a second ahead: a booking.
    pub communication_date: Option<DateTime<Utc>>,
}

/// A change of a booked or waiting communication; `None` keeps a field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommunicationPatch {
    pub communication_date: Option<DateTime<Utc>>,
    pub message: Option<String>,
}

/// The filters of a list, as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommunicationQuery {
    pub status: Option<String>,
    pub user_id: Option<UserId>,
    pub department_id: Option<DepartmentId>,
    pub type_id: Option<TypeId>,
    pub source_id: Option<SourceId>,
    pub batch_id: Option<BatchId>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Why a booking was refused: the decision at its moment was not `Send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub reason: StatusReason,
    /// The earliest moment, within the horizon, when the client is available
    /// and every rule allows one more.
    pub next_available_at: Option<DateTime<Utc>>,
}

/// What dispatch would do with a communication, decided on the state of now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preview {
    /// Send on the channel (its id and code) to the address.
    Send {
        channel: SourceId,
        channel_code: String,
        to: Option<String>,
    },
    /// Wait until `not_before`, for `reason`.
    Defer {
        not_before: DateTime<Utc>,
        reason: StatusReason,
    },
    /// Give up, for `reason`.
    Fail { reason: StatusReason },
}

/// The earliest moment a client can be contacted, or why there is none
/// within the horizon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextSlot {
    At(DateTime<Utc>),
    None(StatusReason),
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("invalid input: {0}")]
    Invalid(ValidationErrors),
    #[error("the booking is refused: {}", .0.reason.as_str())]
    Refused(Refusal),
    /// The API key of the request was revoked before the send was stored.
    #[error("the API key is revoked")]
    KeyRevoked,
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

/// A change of an existing communication: reschedule, edit, cancel, status.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("not found")]
    NotFound,
    #[error("invalid input: {0}")]
    Invalid(ValidationErrors),
    /// Its status does not allow it; the payload says why, for a person.
    #[error("{0}")]
    Conflict(String),
    #[error("the booking is refused: {}", .0.reason.as_str())]
    Refused(Refusal),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

impl From<RepoError> for SendError {
    fn from(error: RepoError) -> Self {
        Self::Unexpected(unexpected(error))
    }
}

impl From<RepoError> for ChangeError {
    fn from(error: RepoError) -> Self {
        Self::Unexpected(unexpected(error))
    }
}

/// The ports the commands use.
pub struct CommunicationPorts {
    pub communications: Arc<dyn CommunicationRepository>,
    pub policies: Arc<dyn PolicyRepository>,
    pub users: Arc<dyn UserRepository>,
    pub departments: Arc<dyn DepartmentRepository>,
    pub types: Arc<dyn CommunicationTypeRepository>,
    pub sources: Arc<dyn CommunicationSourceRepository>,
    pub clock: Arc<dyn Clock>,
}

pub struct Communications {
    ports: CommunicationPorts,
    /// Stores the sends of concurrent requests together.
    intake: GroupCommit,
    channels: Arc<Channels>,
    horizon: Duration,
    /// Woken when a communication becomes due now.
    dispatch: Arc<Notify>,
}

impl Communications {
    pub fn new(
        ports: CommunicationPorts,
        channels: Arc<Channels>,
        horizon: Duration,
        dispatch: Arc<Notify>,
    ) -> Self {
        Self {
            intake: GroupCommit::new(ports.communications.clone()),
            ports,
            channels,
            horizon,
            dispatch,
        }
    }

    /// Sends now (queued as `not_sent`) or books: a booking is stored only if
    /// the decision at its moment, counting it, is to send.
    ///
    /// A send now is stored by a group commit with the sends of concurrent
    /// requests; its references are checked by the database as it is stored
    /// (each is named when one is missing). `key` is the API key the request
    /// was authenticated with when its revocation has not been checked yet:
    /// the send is stored only if the key is still active in the
    /// transaction that stores it.
    pub fn send(
        &self,
        input: NewCommunication,
        key: Option<ApiKeyId>,
    ) -> Result<Communication, SendError> {
        let communication = self.parse(input)?;
        let created = Event::new(
            communication.id,
            communication.created_at,
            EventKind::Created,
        );
        if communication.status == CommunicationStatus::NotSent {
            match self.intake.store(communication.clone(), vec![created], key) {
                Intake::Stored => {}
                Intake::KeyRevoked => return Err(SendError::KeyRevoked),
                Intake::MissingReference => {
                    self.require_references(&communication)?;
                    return Err(SendError::Unexpected(anyhow::anyhow!(
                        "a reference of communication {} was missing when it was stored",
                        communication.id
                    )));
                }
                Intake::Failed(error) => return Err(SendError::Unexpected(error)),
            }
            crate::metrics::created(crate::metrics::Via::Send, communication.status, 1);
            self.dispatch.notify_one();
            return Ok(communication);
        }
        self.require_references(&communication)?;
        let booked = booked_event(&communication, communication.created_at, None);
        self.book(&communication, None, &mut |_| {
            Ok(ClientWrite::Insert(
                communication.clone(),
                vec![created.clone(), booked.clone()],
            ))
        })
        .map_err(|error| match error {
            ChangeError::Refused(refusal) => SendError::Refused(refusal),
            ChangeError::Invalid(errors) => SendError::Invalid(errors),
            other => SendError::Unexpected(anyhow::Error::new(other)),
        })?;
        crate::metrics::created(crate::metrics::Via::Send, communication.status, 1);
        Ok(communication)
    }

    /// The decision dispatch would take for this send — at its booked moment
    /// for a booking — on the state of now, counting it. Stores nothing.
    pub fn preview(&self, input: NewCommunication) -> Result<Preview, SendError> {
        let communication = self.parse(input)?;
        self.require_references(&communication)?;
        let now = self.ports.clock.now();
        let snapshot = self.ports.policies.policy_snapshot(
            communication.user_id,
            communication.department_id,
            now,
        )?;
        let view = PolicyView::new(&snapshot, &self.channels);
        let counted = view.counted(communication.user_id, communication.department_id);
        let situation = view
            .situation(&communication, counted, &[])
            .ok_or_else(|| {
                SendError::Invalid(ValidationErrors::single("user_id", "no client has this id"))
            })?;
        Ok(
            match decide(&situation, communication.communication_date, self.horizon) {
                Decision::Send { channel, to, .. } => Preview::Send {
                    channel,
                    channel_code: view
                        .source(channel)
                        .map(|s| s.code.as_str().to_owned())
                        .unwrap_or_default(),
                    to,
                },
                Decision::Defer { until, reason } => Preview::Defer {
                    not_before: until,
                    reason,
                },
                Decision::Fail { reason } => Preview::Fail { reason },
            },
        )
    }

    /// The earliest moment at or after `after` (default now), within the
    /// horizon, when the client is available and every rule of the
    /// department allows one more, counting sent, in-flight and booked
    /// communications.
    pub fn next_slot(
        &self,
        user_id: UserId,
        department_id: DepartmentId,
        after: Option<DateTime<Utc>>,
    ) -> Result<NextSlot, ChangeError> {
        if self.ports.users.get(user_id)?.is_none() {
            return Err(ChangeError::NotFound);
        }
        if self.ports.departments.get(department_id)?.is_none() {
            return Err(ChangeError::Invalid(ValidationErrors::single(
                "department_id",
                "no department has this id",
            )));
        }
        let now = self.ports.clock.now();
        let from = after.map_or(now, |after| after.max(now));
        let snapshot = self
            .ports
            .policies
            .policy_snapshot(user_id, department_id, now)?;
        let view = PolicyView::new(&snapshot, &self.channels);
        let counted = view.counted(user_id, department_id);
        let situation = view
            .client_situation(user_id, department_id, None, None, counted, &[])
            .ok_or(ChangeError::NotFound)?;
        Ok(match next_slot(&situation, from, self.horizon) {
            Ok(at) => NextSlot::At(at),
            Err(reason) => NextSlot::None(reason),
        })
    }

    /// Validates a new communication's own fields, naming every invalid one;
    /// its references are checked where it is stored.
    fn parse(&self, input: NewCommunication) -> Result<Communication, SendError> {
        let message = match Message::parse(input.message) {
            Ok(message) => message,
            Err(error) => {
                let mut errors = ValidationErrors::single("message", error.0);
                self.check_references(
                    input.user_id,
                    input.department_id,
                    input.type_id,
                    input.source_id,
                    &mut errors,
                )?;
                return Err(SendError::Invalid(errors));
            }
        };
        let now = self.ports.clock.now();
        let booked_for = input
            .communication_date
            .filter(|&date| date > now + BOOKING_THRESHOLD);
        Ok(Communication {
            id: CommunicationId::generate(),
            department_id: input.department_id,
            user_id: input.user_id,
            type_id: input.type_id,
            requested_source_id: input.source_id,
            source_id: input.source_id,
            communication_date: booked_for.unwrap_or(now),
            status: if booked_for.is_some() {
                CommunicationStatus::Booked
            } else {
                CommunicationStatus::NotSent
            },
            status_reason: None,
            message,
            sent_at: None,
            delivered_at: None,
            read_at: None,
            attempts: 0,
            next_attempt_at: None,
            provider_message_id: None,
            batch_id: None,
            created_at: now,
            updated_at: now,
        })
    }

    /// Names in `errors` each reference of a send that no entry has.
    fn check_references(
        &self,
        user_id: UserId,
        department_id: DepartmentId,
        type_id: TypeId,
        source_id: Option<SourceId>,
        errors: &mut ValidationErrors,
    ) -> Result<(), RepoError> {
        if self.ports.users.get(user_id)?.is_none() {
            errors.add("user_id", "no client has this id");
        }
        References {
            departments: self.ports.departments.as_ref(),
            types: self.ports.types.as_ref(),
            sources: self.ports.sources.as_ref(),
        }
        .check(department_id, type_id, source_id, errors)
    }

    /// `Invalid`, naming each reference of `communication` that no entry has.
    fn require_references(&self, communication: &Communication) -> Result<(), SendError> {
        let mut errors = ValidationErrors::new();
        self.check_references(
            communication.user_id,
            communication.department_id,
            communication.type_id,
            communication.requested_source_id,
            &mut errors,
        )?;
        if errors.is_empty() {
            Ok(())
        } else {
            Err(SendError::Invalid(errors))
        }
    }

    /// Under the client's lock: decides for `booking` at its date, counting
    /// every other communication of the client (not `current`), and writes
    /// what `write` makes of the stored `current` when the decision is to send.
    fn book(
        &self,
        booking: &Communication,
        current: Option<CommunicationId>,
        write: &mut dyn FnMut(Option<&Stored>) -> Result<ClientWrite, ChangeError>,
    ) -> Result<(), ChangeError> {
        let mut outcome = Ok(());
        let at = booking.communication_date;
        // The snapshot is read at now: it holds every counted moment from the
        // longest window before now on, which covers any later moment, and a
        // communication being sent now is seen in flight.
        self.ports.communications.decide_for_client(
            booking.user_id,
            booking.department_id,
            current,
            self.ports.clock.now(),
            &mut |snapshot, stored| {
                let view = PolicyView::new(snapshot, &self.channels);
                let counted = view.counted(booking.user_id, booking.department_id);
                let Some(situation) = view.situation(booking, counted, &[]) else {
                    outcome = Err(ChangeError::NotFound);
                    return None;
                };
                match decide(&situation, at, self.horizon) {
                    Decision::Send { .. } => match write(stored) {
                        Ok(change) => Some(change),
                        Err(error) => {
                            outcome = Err(error);
                            None
                        }
                    },
                    Decision::Defer { reason, .. } | Decision::Fail { reason } => {
                        outcome = Err(ChangeError::Refused(self.refusal(&situation, reason, at)));
                        None
                    }
                }
            },
        )?;
        outcome
    }

    fn refusal(
        &self,
        situation: &Situation<'_>,
        reason: StatusReason,
        at: DateTime<Utc>,
    ) -> Refusal {
        Refusal::of(situation, reason, at, self.horizon)
    }

    pub fn get(&self, id: CommunicationId) -> Result<(Communication, Vec<Event>), GetError> {
        let communication = self
            .ports
            .communications
            .get(id)?
            .ok_or(GetError::NotFound)?;
        let events = self.ports.communications.events(id)?;
        Ok((communication, events))
    }

    pub fn list(
        &self,
        query: CommunicationQuery,
        page: Page,
    ) -> Result<Paged<Communication>, ListError> {
        let status = match query.status.as_deref() {
            None => None,
            Some(status) => Some(
                CommunicationStatus::parse(status)
                    .map_err(|e| ListError::Invalid(ValidationErrors::single("status", e.0)))?,
            ),
        };
        let filter = CommunicationFilter {
            status,
            user_id: query.user_id,
            department_id: query.department_id,
            type_id: query.type_id,
            source_id: query.source_id,
            batch_id: query.batch_id,
            from: query.from,
            to: query.to,
        };
        Ok(self.ports.communications.list(&filter, page)?)
    }

    /// Changes the date or the message of a booked or waiting communication.
    /// A date more than a second ahead books it again (checked as a new
    /// booking, its own slot not counted); an earlier one sends it now.
    pub fn update(
        &self,
        id: CommunicationId,
        patch: CommunicationPatch,
    ) -> Result<Communication, ChangeError> {
        let message = patch
            .message
            .map(Message::parse)
            .transpose()
            .map_err(|e| ChangeError::Invalid(ValidationErrors::single("message", e.0)))?;
        let now = self.ports.clock.now();
        let current = self.pending(id)?;
        let mut next = current.clone();
        next.updated_at = now;
        if let Some(message) = message {
            next.message = message;
        }
        match patch.communication_date {
            Some(date) if date > now + BOOKING_THRESHOLD => {
                next.communication_date = date;
                next.status = CommunicationStatus::Booked;
                next.status_reason = None;
                next.next_attempt_at = None;
                let event = booked_event(&next, now, Some("rescheduled"));
                let mut written = None;
                self.book(&next, Some(id), &mut |stored| {
                    // The row as read under the lock, with the change applied.
                    let change = Communication {
                        communication_date: next.communication_date,
                        status: next.status,
                        status_reason: None,
                        next_attempt_at: None,
                        message: next.message.clone(),
                        updated_at: now,
                        ..ensure_changeable(stored)?.communication.clone()
                    };
                    written = Some(change.clone());
                    Ok(ClientWrite::Update(change, vec![event.clone()]))
                })?;
                written.ok_or(ChangeError::NotFound)
            }
            Some(_) => {
                next.communication_date = now;
                next.status = CommunicationStatus::NotSent;
                next.status_reason = None;
                next.next_attempt_at = None;
                self.write_if(&next, current.status, now, &[])?;
                self.dispatch.notify_one();
                Ok(next)
            }
            None => {
                self.write_if(&next, current.status, now, &[])?;
                Ok(next)
            }
        }
    }

    /// Cancels a booked or waiting communication; cancelling a cancelled one
    /// changes nothing.
    pub fn cancel(&self, id: CommunicationId) -> Result<Communication, ChangeError> {
        let current = self.find(id)?;
        if current.status == CommunicationStatus::Cancelled {
            return Ok(current);
        }
        if !current.status.is_pending() {
            return Err(not_pending(current.status));
        }
        let now = self.ports.clock.now();
        let next = Communication {
            status: CommunicationStatus::Cancelled,
            status_reason: None,
            next_attempt_at: None,
            updated_at: now,
            ..current.clone()
        };
        let event = Event::new(id, now, EventKind::Cancelled);
        self.write_if(&next, current.status, now, &[event])?;
        crate::metrics::moved(CommunicationStatus::Cancelled, "", None);
        Ok(next)
    }

    /// A delivery receipt: `delivered`, `read` or `failed`, along the arrows
    /// of the life-cycle; the current status again changes nothing.
    pub fn update_status(
        &self,
        id: CommunicationId,
        status: &str,
        detail: Option<String>,
    ) -> Result<Communication, ChangeError> {
        let mut errors = ValidationErrors::new();
        let to = match CommunicationStatus::parse(status) {
            Ok(
                to @ (CommunicationStatus::Delivered
                | CommunicationStatus::Read
                | CommunicationStatus::Failed),
            ) => Some(to),
            _ => {
                errors.add("status", "must be one of: delivered, read, failed");
                None
            }
        };
        if detail
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DETAIL_CHARS)
        {
            errors.add(
                "detail",
                format!("must be at most {MAX_DETAIL_CHARS} characters"),
            );
        }
        let (Some(to), true) = (to, errors.is_empty()) else {
            return Err(ChangeError::Invalid(errors));
        };
        let current = self.find(id)?;
        self.apply_receipt(current, to, detail)
    }

    /// A provider's delivery receipt for the communication it knows as
    /// `provider_message_id`: `to` is `delivered`, `read` or `failed`, moved
    /// along the arrows as [`Communications::update_status`] does.
    /// `NotFound` when no communication has that id.
    pub fn receipt(
        &self,
        provider_message_id: &str,
        to: CommunicationStatus,
        detail: Option<String>,
    ) -> Result<Communication, ChangeError> {
        if !matches!(
            to,
            CommunicationStatus::Delivered
                | CommunicationStatus::Read
                | CommunicationStatus::Failed
        ) {
            let mut errors = ValidationErrors::new();
            errors.add("status", "must be one of: delivered, read, failed");
            return Err(ChangeError::Invalid(errors));
        }
        let detail = detail.map(|d| d.chars().take(MAX_DETAIL_CHARS).collect());
        let current = self
            .ports
            .communications
            .find_by_provider_message_id(provider_message_id)?
            .ok_or(ChangeError::NotFound)?;
        self.apply_receipt(current, to, detail)
    }

    fn apply_receipt(
        &self,
        current: Communication,
        to: CommunicationStatus,
        detail: Option<String>,
    ) -> Result<Communication, ChangeError> {
        let id = current.id;
        let transition = current
            .status
            .apply_receipt(to)
            .map_err(|e| ChangeError::Conflict(format!("{e}.")))?;
        if transition == omnichannel_domain::communication::Transition::Unchanged {
            return Ok(current);
        }
        let now = self.ports.clock.now();
        let mut next = Communication {
            status: to,
            updated_at: now,
            ..current.clone()
        };
        let kind = match to {
            CommunicationStatus::Delivered => {
                next.delivered_at = Some(now);
                EventKind::Delivered
            }
            CommunicationStatus::Read => {
                next.read_at = Some(now);
                EventKind::Read
            }
            _ => {
                next.status_reason = Some(StatusReason::Receipt);
                EventKind::Failed
            }
        };
        let mut event = Event::new(id, now, kind);
        if to == CommunicationStatus::Failed {
            event = event.with_reason(StatusReason::Receipt);
        }
        if let Some(detail) = detail {
            event = event.with_detail(detail);
        }
        self.write_if(&next, current.status, now, &[event])?;
        crate::metrics::moved(to, "", next.status_reason);
        Ok(next)
    }

    fn find(&self, id: CommunicationId) -> Result<Communication, ChangeError> {
        self.ports
            .communications
            .get(id)?
            .ok_or(ChangeError::NotFound)
    }

    /// The communication, if it is still booked or waiting.
    fn pending(&self, id: CommunicationId) -> Result<Communication, ChangeError> {
        let current = self.find(id)?;
        if current.status.is_pending() {
            Ok(current)
        } else {
            Err(not_pending(current.status))
        }
    }

    /// Writes `next` if the stored status is still `expected` and no worker
    /// holds it.
    fn write_if(
        &self,
        next: &Communication,
        expected: CommunicationStatus,
        now: DateTime<Utc>,
        events: &[Event],
    ) -> Result<(), ChangeError> {
        if self
            .ports
            .communications
            .update_if(next, expected, now, events)?
        {
            Ok(())
        } else {
            Err(ChangeError::Conflict(
                "The communication changed meanwhile or is being sent; read it again.".to_owned(),
            ))
        }
    }
}

/// The dictionaries and departments a send names.
pub(crate) struct References<'a> {
    pub(crate) departments: &'a dyn DepartmentRepository,
    pub(crate) types: &'a dyn CommunicationTypeRepository,
    pub(crate) sources: &'a dyn CommunicationSourceRepository,
}

impl References<'_> {
    /// Names in `errors` each reference of a send that no entry has.
    pub(crate) fn check(
        &self,
        department_id: DepartmentId,
        type_id: TypeId,
        source_id: Option<SourceId>,
        errors: &mut ValidationErrors,
    ) -> Result<(), RepoError> {
        if self.departments.get(department_id)?.is_none() {
            errors.add("department_id", "no department has this id");
        }
        if self.types.get(type_id)?.is_none() {
            errors.add("communication_type_id", "no communication type has this id");
        }
        if let Some(source_id) = source_id
            && self.sources.get(source_id)?.is_none()
        {
            errors.add(
                "communication_source_id",
                "no communication source has this id",
            );
        }
        Ok(())
    }
}

fn not_pending(status: CommunicationStatus) -> ChangeError {
    ChangeError::Conflict(format!(
        "A {} communication can no longer be changed.",
        status.as_str()
    ))
}

/// The stored communication, if a change may still be written to it.
fn ensure_changeable(stored: Option<&Stored>) -> Result<&Stored, ChangeError> {
    let stored = stored.ok_or(ChangeError::NotFound)?;
    if stored.in_flight {
        return Err(ChangeError::Conflict(
            "The communication is being sent.".to_owned(),
        ));
    }
    if !stored.communication.status.is_pending() {
        return Err(not_pending(stored.communication.status));
    }
    Ok(stored)
}

pub(crate) fn booked_event(
    communication: &Communication,
    at: DateTime<Utc>,
    detail: Option<&str>,
) -> Event {
    let mut event = Event::new(communication.id, at, EventKind::Booked);
    event.until = Some(communication.communication_date);
    if let Some(detail) = detail {
        event = event.with_detail(detail);
    }
    event
}

impl Refusal {
    /// The refusal of a booking at `at` for `reason`, with the client's next
    /// free moment within `horizon` when the reason is a wait.
    pub(crate) fn of(
        situation: &Situation<'_>,
        reason: StatusReason,
        at: DateTime<Utc>,
        horizon: Duration,
    ) -> Self {
        // Only a wait has an end to announce; a channel missing or blocked
        // at that moment is not a matter of time.
        let waits = matches!(
            reason,
            StatusReason::UserUnavailable | StatusReason::RateLimited
        );
        Self {
            reason,
            next_available_at: next_slot(situation, at, horizon).ok().filter(|_| waits),
        }
    }
}
