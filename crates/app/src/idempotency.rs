//! Idempotency keys of sends and bulk sends (SPEC §3). A request with a key
//! reserves it before its use case runs ([`IdempotencyKeys::begin`]); its
//! final answer is then stored for replays ([`IdempotencyKeys::complete`]),
//! or the key is released so that a retry runs again
//! ([`IdempotencyKeys::release`]). Keys older than 24 hours are removed by
//! the workers ([`IdempotencyKeys::run_cleanup`]).

use std::sync::Arc;

use omnichannel_domain::idempotency::{
    Fingerprint, IdempotencyKey, IdempotencyScope, KEY_LIFETIME, Reservation, ReservationId,
    StoredAnswer, Verdict,
};
use omnichannel_domain::ports::{Clock, IdempotencyRepository, RepoError};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::error::unexpected;

/// How often the workers remove expired keys.
pub const CLEANUP_PERIOD: std::time::Duration = std::time::Duration::from_secs(5 * 60);
/// How many expired keys one `DELETE` removes, so that no statement holds
/// the table for long.
pub const CLEANUP_BATCH: u32 = 1_000;
/// How many times a reservation is tried when the key keeps changing under
/// it (removed or taken over between two reads); then it counts as busy.
const RESERVE_ATTEMPTS: usize = 3;

/// What a request with a key does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begun {
    /// The key is this request's: run the use case, then `complete` or `release`.
    Run(Reservation),
    /// The same request was answered before: answer this again.
    Replay(StoredAnswer),
}

#[derive(Debug, thiserror::Error)]
pub enum BeginError {
    /// The first request with the key has not answered yet.
    #[error("the first request with this key is still in progress")]
    InProgress,
    /// The key was used with another method, path or body.
    #[error("the key was used with another request")]
    OtherRequest,
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

impl From<RepoError> for BeginError {
    fn from(error: RepoError) -> Self {
        Self::Unexpected(unexpected(error))
    }
}

pub struct IdempotencyKeys {
    keys: Arc<dyn IdempotencyRepository>,
    clock: Arc<dyn Clock>,
}

impl IdempotencyKeys {
    pub fn new(keys: Arc<dyn IdempotencyRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { keys, clock }
    }

    /// The fingerprint of a request: the SHA-256 of its method, its path (with
    /// the query, if any) and its body in canonical form, each ended by a NUL
    /// byte, which neither a method nor a path holds.
    pub fn fingerprint(method: &str, path: &str, canonical_body: &[u8]) -> Fingerprint {
        let mut hasher = Sha256::new();
        hasher.update(method.as_bytes());
        hasher.update([0]);
        hasher.update(path.as_bytes());
        hasher.update([0]);
        hasher.update(canonical_body);
        Fingerprint::from_sha256(hasher.finalize().into())
    }

    /// Reserves `key` of `scope` for a request with `fingerprint`, with one
    /// `INSERT` that only one of concurrent requests wins. A loser reads the
    /// key: the same request answered gets `Replay`; the same request still
    /// running, `InProgress`; another request, `OtherRequest`. An expired key,
    /// or one held in progress for too long (its request crashed), is taken
    /// over with one conditional `UPDATE` that, too, only one request wins.
    pub fn begin(
        &self,
        scope: IdempotencyScope,
        key: IdempotencyKey,
        fingerprint: Fingerprint,
    ) -> Result<Begun, BeginError> {
        let now = self.clock.now();
        let reservation = Reservation {
            id: ReservationId::generate(),
            scope,
            key,
            fingerprint,
            created_at: now,
        };
        for _ in 0..RESERVE_ATTEMPTS {
            match self.keys.reserve(&reservation) {
                Ok(()) => return Ok(Begun::Run(reservation)),
                Err(RepoError::Conflict(_)) => {}
                Err(error) => return Err(error.into()),
            }
            // Removed since the insert failed: try to insert again.
            let Some(record) = self.keys.find(scope, &reservation.key)? else {
                continue;
            };
            match record.verdict(&reservation.fingerprint, now) {
                Verdict::Replay(answer) => return Ok(Begun::Replay(answer)),
                Verdict::InProgress => return Err(BeginError::InProgress),
                Verdict::OtherRequest => return Err(BeginError::OtherRequest),
                Verdict::TakeOver => {
                    if self.keys.take_over(record.reservation.id, &reservation)? {
                        tracing::info!(
                            idempotency.scope = %scope,
                            "an expired or abandoned idempotency key is taken over"
                        );
                        return Ok(Begun::Run(reservation));
                    }
                }
            }
        }
        Err(BeginError::InProgress)
    }

    /// Stores the final answer of the reservation's request for replays. When
    /// the key is no longer this request's (taken over after it ran too long,
    /// or removed), nothing is stored and the answer only goes to its caller.
    pub fn complete(&self, reservation: &Reservation, answer: &StoredAnswer) -> anyhow::Result<()> {
        let stored = self
            .keys
            .complete(reservation, answer, self.clock.now())
            .map_err(unexpected)?;
        if !stored {
            tracing::warn!(
                idempotency.scope = %reservation.scope,
                "the idempotency key was taken over or removed before its request answered: the answer is not kept"
            );
        }
        Ok(())
    }

    /// Gives the key up, after an answer that is not final (a 5xx) or none
    /// at all, so that a retry runs the request again.
    pub fn release(&self, reservation: &Reservation) -> anyhow::Result<()> {
        self.keys.release(reservation).map_err(unexpected)?;
        Ok(())
    }

    /// Removes the keys past their lifetime, in batches of
    /// [`CLEANUP_BATCH`]; answers how many.
    pub fn delete_expired(&self) -> anyhow::Result<u64> {
        let before = self.clock.now() - KEY_LIFETIME;
        let mut removed = 0;
        loop {
            let batch = self
                .keys
                .delete_created_before(before, CLEANUP_BATCH)
                .map_err(unexpected)?;
            removed += batch;
            if batch < u64::from(CLEANUP_BATCH) {
                return Ok(removed);
            }
        }
    }

    /// Removes expired keys now and every `period` until `stop` turns true.
    pub async fn run_cleanup(
        self: Arc<Self>,
        period: std::time::Duration,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let due = tokio::select! {
                _ = ticks.tick() => true,
                changed = stop.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    false
                }
            };
            if *stop.borrow() {
                return;
            }
            if !due {
                continue;
            }
            let this = self.clone();
            match tokio::task::spawn_blocking(move || this.delete_expired()).await {
                Ok(Ok(0)) => {}
                Ok(Ok(removed)) => tracing::info!(removed, "expired idempotency keys removed"),
                Ok(Err(error)) => tracing::error!(
                    error = format!("{error:#}"),
                    "removing expired idempotency keys failed"
                ),
                Err(error) => tracing::error!(%error, "the idempotency clean-up task failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use mockall::predicate::eq;
    use omnichannel_domain::AdminId;
    use omnichannel_domain::idempotency::{IdempotencyRecord, IdempotencyState};
    use omnichannel_domain::ports::{MockClock, MockIdempotencyRepository};

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn service(keys: MockIdempotencyRepository) -> IdempotencyKeys {
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        IdempotencyKeys::new(Arc::new(keys), Arc::new(clock))
    }

    fn scope() -> IdempotencyScope {
        IdempotencyScope::Operator(AdminId::from_uuid(uuid::Uuid::nil()))
    }

    fn key() -> IdempotencyKey {
        IdempotencyKey::parse("key-1").unwrap()
    }

    fn fingerprint(body: &str) -> Fingerprint {
        IdempotencyKeys::fingerprint("POST", "/api/admin/v1/communications", body.as_bytes())
    }

    fn answer() -> StoredAnswer {
        StoredAnswer {
            status: 202,
            content_type: Some("application/json".to_owned()),
            location: None,
            body: r#"{"id":"1"}"#.to_owned(),
        }
    }

    /// The key as another request left it `age` ago.
    fn stored(body: &str, state: IdempotencyState, age: Duration) -> IdempotencyRecord {
        IdempotencyRecord {
            reservation: Reservation {
                id: ReservationId::generate(),
                scope: scope(),
                key: key(),
                fingerprint: fingerprint(body),
                created_at: now() - age,
            },
            state,
        }
    }

    fn taken(keys: &mut MockIdempotencyRepository) {
        keys.expect_reserve()
            .times(1)
            .returning(|_| Err(RepoError::Conflict("idempotency_key")));
    }

    fn begin(keys: MockIdempotencyRepository, body: &str) -> Result<Begun, BeginError> {
        service(keys).begin(scope(), key(), fingerprint(body))
    }

    #[test]
    fn fingerprints_tell_method_path_and_body_apart() {
        let a = IdempotencyKeys::fingerprint("POST", "/a", b"{}");
        assert_eq!(a, IdempotencyKeys::fingerprint("POST", "/a", b"{}"));
        assert_ne!(a, IdempotencyKeys::fingerprint("PUT", "/a", b"{}"));
        assert_ne!(a, IdempotencyKeys::fingerprint("POST", "/b", b"{}"));
        assert_ne!(a, IdempotencyKeys::fingerprint("POST", "/a", b"{ }"));
        assert_ne!(
            IdempotencyKeys::fingerprint("POST", "/a", b"b"),
            IdempotencyKeys::fingerprint("POST", "/ab", b"")
        );
    }

    #[test]
    fn a_new_key_is_reserved_for_the_request_now() {
        let mut keys = MockIdempotencyRepository::new();
        keys.expect_reserve()
            .withf(|r| r.created_at == now() && r.key == key() && r.fingerprint == fingerprint("a"))
            .times(1)
            .returning(|_| Ok(()));
        let Ok(Begun::Run(reservation)) = begin(keys, "a") else {
            panic!("the request runs");
        };
        assert_eq!(reservation.scope, scope());
    }

    #[test]
    fn a_key_in_use_replays_waits_or_refuses() {
        let cases = [
            (IdempotencyState::Done(answer()), "a", "replay"),
            (IdempotencyState::InProgress, "a", "in progress"),
            (IdempotencyState::Done(answer()), "b", "other request"),
            (IdempotencyState::InProgress, "b", "other request"),
        ];
        for (state, body, expected) in cases {
            let mut keys = MockIdempotencyRepository::new();
            taken(&mut keys);
            let record = stored("a", state, Duration::minutes(1));
            keys.expect_find()
                .with(eq(scope()), eq(key()))
                .return_once(move |_, _| Ok(Some(record)));
            keys.expect_take_over().never();
            let got = match begin(keys, body) {
                Ok(Begun::Replay(replayed)) => {
                    assert_eq!(replayed, answer());
                    "replay"
                }
                Err(BeginError::InProgress) => "in progress",
                Err(BeginError::OtherRequest) => "other request",
                other => panic!("unexpected {other:?}"),
            };
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn an_expired_or_abandoned_key_is_taken_over_once() {
        for (state, age) in [
            (IdempotencyState::Done(answer()), KEY_LIFETIME),
            (IdempotencyState::InProgress, Duration::minutes(5)),
        ] {
            let mut keys = MockIdempotencyRepository::new();
            taken(&mut keys);
            let record = stored("a", state, age);
            let previous = record.reservation.id;
            keys.expect_find().return_once(move |_, _| Ok(Some(record)));
            keys.expect_take_over()
                .withf(move |held, new| *held == previous && new.created_at == now())
                .times(1)
                .returning(|_, _| Ok(true));
            assert!(matches!(begin(keys, "a"), Ok(Begun::Run(_))));
        }
    }

    #[test]
    fn a_lost_take_over_reads_the_key_again() {
        let mut keys = MockIdempotencyRepository::new();
        keys.expect_reserve()
            .times(2)
            .returning(|_| Err(RepoError::Conflict("idempotency_key")));
        let mut reads = 0;
        keys.expect_find().times(2).returning(move |_, _| {
            reads += 1;
            Ok(Some(if reads == 1 {
                stored("a", IdempotencyState::Done(answer()), KEY_LIFETIME)
            } else {
                // The winner of the take-over is running.
                stored("a", IdempotencyState::InProgress, Duration::zero())
            }))
        });
        keys.expect_take_over().times(1).returning(|_, _| Ok(false));
        assert!(matches!(begin(keys, "a"), Err(BeginError::InProgress)));
    }

    #[test]
    fn a_key_removed_after_the_failed_insert_is_inserted_again() {
        let mut keys = MockIdempotencyRepository::new();
        let mut inserts = 0;
        keys.expect_reserve().times(2).returning(move |_| {
            inserts += 1;
            if inserts == 1 {
                Err(RepoError::Conflict("idempotency_key"))
            } else {
                Ok(())
            }
        });
        keys.expect_find().times(1).returning(|_, _| Ok(None));
        assert!(matches!(begin(keys, "a"), Ok(Begun::Run(_))));
    }

    #[test]
    fn a_key_that_keeps_changing_counts_as_busy() {
        let mut keys = MockIdempotencyRepository::new();
        keys.expect_reserve()
            .times(RESERVE_ATTEMPTS)
            .returning(|_| Err(RepoError::Conflict("idempotency_key")));
        keys.expect_find()
            .times(RESERVE_ATTEMPTS)
            .returning(|_, _| Ok(None));
        assert!(matches!(begin(keys, "a"), Err(BeginError::InProgress)));
    }

    #[test]
    fn a_storage_failure_is_unexpected() {
        let mut keys = MockIdempotencyRepository::new();
        keys.expect_reserve()
            .returning(|_| Err(RepoError::Unexpected(anyhow::anyhow!("down"))));
        assert!(matches!(begin(keys, "a"), Err(BeginError::Unexpected(_))));
    }

    #[test]
    fn an_answer_for_a_key_lost_meanwhile_is_not_an_error() {
        let mut keys = MockIdempotencyRepository::new();
        keys.expect_complete()
            .withf(|_, stored, at| *stored == answer() && *at == now())
            .times(1)
            .returning(|_, _, _| Ok(false));
        let reservation = stored("a", IdempotencyState::InProgress, Duration::zero()).reservation;
        assert!(service(keys).complete(&reservation, &answer()).is_ok());
    }

    #[test]
    fn expired_keys_go_in_batches_until_one_is_short() {
        let mut keys = MockIdempotencyRepository::new();
        let mut batches = vec![5, u64::from(CLEANUP_BATCH), u64::from(CLEANUP_BATCH)];
        keys.expect_delete_created_before()
            .with(eq(now() - KEY_LIFETIME), eq(CLEANUP_BATCH))
            .times(3)
            .returning(move |_, _| Ok(batches.pop().unwrap_or_default()));
        assert_eq!(
            service(keys).delete_expired().unwrap(),
            2 * u64::from(CLEANUP_BATCH) + 5
        );
    }
}
