//! Idempotency keys (SPEC §3): a caller's key remembers the first answer to a
//! request for 24 hours, so that a retry gets that answer again instead of
//! doing the work twice.
//!
//! A key is held by one reservation at a time: in progress while its request
//! runs, then done with the answer to replay. [`IdempotencyRecord::verdict`]
//! decides what a new request with the key gets.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::ids::{AdminId, ApiKeyId};
use crate::validation::InvalidValue;

/// How long a key remembers its answer; older, it is as if it had never been used.
pub const KEY_LIFETIME: Duration = Duration::hours(24);

/// How long a request may hold its key in progress before another request
/// with the key and the same body may take it over: far longer than any
/// request runs, so the holder must have crashed or lost its connection to
/// the database.
pub const STALE_AFTER: Duration = Duration::minutes(5);

/// The `Idempotency-Key` a caller chose: 1 to 255 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_CHARS: usize = 255;

    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidValue> {
        let value = value.into();
        let chars = value.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS {
            return Err(InvalidValue::new(format!(
                "must be 1 to {} characters",
                Self::MAX_CHARS
            )));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whose keys these are: the same key from two callers is two keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdempotencyScope {
    Operator(AdminId),
    ApiKey(ApiKeyId),
}

const OPERATOR_PREFIX: &str = "operator:";
const API_KEY_PREFIX: &str = "api_key:";

/// `operator:<admin id>` or `api_key:<API key id>`.
impl fmt::Display for IdempotencyScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Operator(id) => write!(f, "{OPERATOR_PREFIX}{id}"),
            Self::ApiKey(id) => write!(f, "{API_KEY_PREFIX}{id}"),
        }
    }
}

impl FromStr for IdempotencyScope {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let id = |text: &str| {
            Uuid::parse_str(text).map_err(|e| InvalidValue::new(format!("invalid id: {e}")))
        };
        if let Some(rest) = s.strip_prefix(OPERATOR_PREFIX) {
            Ok(Self::Operator(id(rest)?.into()))
        } else if let Some(rest) = s.strip_prefix(API_KEY_PREFIX) {
            Ok(Self::ApiKey(id(rest)?.into()))
        } else {
            Err(InvalidValue::new(
                "must start with operator: or api_key:".to_owned(),
            ))
        }
    }
}

/// What identifies a request beyond its key: a SHA-256, as 64 lower-case hex
/// digits, of its method, path and canonical body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidValue> {
        let value = value.into();
        let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
        if value.len() != 64 || !value.chars().all(hex) {
            return Err(InvalidValue::new("must be 64 lower-case hex digits"));
        }
        Ok(Self(value))
    }

    /// The hex form of a SHA-256 digest.
    pub fn from_sha256(digest: [u8; 32]) -> Self {
        Self(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One holder of a key: a new one for each request that runs with the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReservationId(Uuid);

impl ReservationId {
    pub fn generate() -> Self {
        Self(Uuid::new_v4())
    }

    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl From<Uuid> for ReservationId {
    fn from(uuid: Uuid) -> Self {
        Self(uuid)
    }
}

impl From<ReservationId> for Uuid {
    fn from(id: ReservationId) -> Self {
        id.0
    }
}

/// A key held by one request, from the moment it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub id: ReservationId,
    pub scope: IdempotencyScope,
    pub key: IdempotencyKey,
    pub fingerprint: Fingerprint,
    pub created_at: DateTime<Utc>,
}

/// The final answer to a request, replayed as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    /// An HTTP status: 2xx or 4xx, never 5xx.
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: String,
}

impl StoredAnswer {
    /// Whether an answer with `status` is final, and so kept for replays:
    /// any but a server error (5xx), after which a retry must run again. A
    /// refusal (4xx) is final: the same request is refused again the same way.
    pub fn is_final(status: u16) -> bool {
        status < 500
    }
}

/// Where the request that holds a key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyState {
    InProgress,
    Done(StoredAnswer),
}

/// A key as stored: who holds it and what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub reservation: Reservation,
    pub state: IdempotencyState,
}

/// What a new request with a key already in use gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The first answer, again.
    Replay(StoredAnswer),
    /// The first request still runs.
    InProgress,
    /// The key was used with another request.
    OtherRequest,
    /// The key is expired, or its holder is gone: the new request may take it
    /// over as if it were unused.
    TakeOver,
}

impl IdempotencyRecord {
    /// Whether the key no longer remembers anything at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.reservation.created_at + KEY_LIFETIME <= now
    }

    /// The answer to a request with `fingerprint` at `now`: an expired key is
    /// as good as unused, whatever it was used for; otherwise another request
    /// is refused; the same request gets the first answer, waits for the
    /// first request, or takes over a key held in progress for longer than
    /// [`STALE_AFTER`].
    pub fn verdict(&self, fingerprint: &Fingerprint, now: DateTime<Utc>) -> Verdict {
        if self.is_expired(now) {
            return Verdict::TakeOver;
        }
        if &self.reservation.fingerprint != fingerprint {
            return Verdict::OtherRequest;
        }
        match &self.state {
            IdempotencyState::Done(answer) => Verdict::Replay(answer.clone()),
            IdempotencyState::InProgress if self.reservation.created_at + STALE_AFTER <= now => {
                Verdict::TakeOver
            }
            IdempotencyState::InProgress => Verdict::InProgress,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default()
            + Duration::minutes(minute)
    }

    fn fingerprint(digit: char) -> Fingerprint {
        Fingerprint::parse(digit.to_string().repeat(64)).unwrap()
    }

    fn record(state: IdempotencyState) -> IdempotencyRecord {
        IdempotencyRecord {
            reservation: Reservation {
                id: ReservationId::generate(),
                scope: IdempotencyScope::Operator(AdminId::generate()),
                key: IdempotencyKey::parse("key-1").unwrap(),
                fingerprint: fingerprint('a'),
                created_at: t(0),
            },
            state,
        }
    }

    fn answer() -> StoredAnswer {
        StoredAnswer {
            status: 202,
            content_type: Some("application/json".to_owned()),
            location: Some("/api/admin/v1/communications/1".to_owned()),
            body: "{}".to_owned(),
        }
    }

    #[test]
    fn keys_have_1_to_255_characters() {
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("k").is_ok());
        assert!(IdempotencyKey::parse("ж".repeat(255)).is_ok());
        assert!(IdempotencyKey::parse("k".repeat(256)).is_err());
    }

    #[test]
    fn scopes_read_back_as_written() {
        for scope in [
            IdempotencyScope::Operator(AdminId::generate()),
            IdempotencyScope::ApiKey(ApiKeyId::generate()),
        ] {
            assert_eq!(scope.to_string().parse::<IdempotencyScope>(), Ok(scope));
        }
        assert!("user:0".parse::<IdempotencyScope>().is_err());
        assert!("operator:nope".parse::<IdempotencyScope>().is_err());
    }

    #[test]
    fn fingerprints_are_sha256_in_hex() {
        assert!(Fingerprint::parse("a".repeat(64)).is_ok());
        assert!(Fingerprint::parse("A".repeat(64)).is_err());
        assert!(Fingerprint::parse("a".repeat(63)).is_err());
        assert!(Fingerprint::parse("g".repeat(64)).is_err());
        let digest = Fingerprint::from_sha256([0xab; 32]);
        assert_eq!(Fingerprint::parse(digest.as_str()), Ok(digest));
    }

    #[test]
    fn the_same_request_replays_the_first_answer_within_24_hours() {
        let done = record(IdempotencyState::Done(answer()));
        assert_eq!(
            done.verdict(&fingerprint('a'), t(24 * 60 - 1)),
            Verdict::Replay(answer())
        );
        assert_eq!(done.verdict(&fingerprint('b'), t(1)), Verdict::OtherRequest);
    }

    #[test]
    fn an_expired_key_is_as_good_as_unused_whatever_it_was_used_for() {
        let done = record(IdempotencyState::Done(answer()));
        assert_eq!(
            done.verdict(&fingerprint('a'), t(24 * 60)),
            Verdict::TakeOver
        );
        assert_eq!(
            done.verdict(&fingerprint('b'), t(24 * 60)),
            Verdict::TakeOver
        );
        assert!(!done.is_expired(t(24 * 60 - 1)));
        assert!(done.is_expired(t(24 * 60)));
    }

    #[test]
    fn a_request_in_progress_holds_its_key_until_it_is_stale() {
        let running = record(IdempotencyState::InProgress);
        assert_eq!(
            running.verdict(&fingerprint('a'), t(4)),
            Verdict::InProgress
        );
        assert_eq!(running.verdict(&fingerprint('a'), t(5)), Verdict::TakeOver);
        // Another request never takes a live key over, stale or not.
        assert_eq!(
            running.verdict(&fingerprint('b'), t(5)),
            Verdict::OtherRequest
        );
    }
}
