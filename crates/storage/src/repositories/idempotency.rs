use chrono::{DateTime, Utc};
use diesel::prelude::*;
use omnichannel_domain::idempotency::{
    IdempotencyKey, IdempotencyRecord, IdempotencyScope, Reservation, ReservationId, StoredAnswer,
};
use omnichannel_domain::ports::{IdempotencyRepository, RepoError};

use crate::error::{unexpected, write_error};
use crate::mapping::{db_id, db_time};
use crate::rows::IdempotencyKeyRow;
use crate::schema::idempotency_keys;
use crate::store::Store;

/// The key `reservation` names, while `held_by` holds it.
macro_rules! held {
    ($reservation:expr, $held_by:expr) => {
        idempotency_keys::table
            .filter(idempotency_keys::scope.eq($reservation.scope.to_string()))
            .filter(idempotency_keys::idempotency_key.eq($reservation.key.as_str()))
            .filter(idempotency_keys::reservation_id.eq(db_id($held_by)))
    };
}

impl IdempotencyRepository for Store {
    /// The primary key `(scope, idempotency_key)` lets one of concurrent
    /// inserts of a key through; the others fail with a unique violation.
    fn reserve(&self, reservation: &Reservation) -> Result<(), RepoError> {
        let row = IdempotencyKeyRow::in_progress(reservation);
        self.with_conn(|conn| {
            diesel::insert_into(idempotency_keys::table)
                .values(&row)
                .execute(conn)
                .map(drop)
                .map_err(|e| write_error(e, |_| "idempotency_key"))
        })
    }

    fn find(
        &self,
        scope: IdempotencyScope,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, RepoError> {
        let row = self.with_conn(|conn| {
            idempotency_keys::table
                .find((scope.to_string(), key.as_str()))
                .select(IdempotencyKeyRow::as_select())
                .first(conn)
                .optional()
                .map_err(unexpected)
        })?;
        row.map(IdempotencyKeyRow::into_domain).transpose()
    }

    /// One conditional `UPDATE`: on PostgreSQL a concurrent one waits for the
    /// first to commit and then finds another holder; SQLite runs writes one
    /// at a time.
    fn take_over(
        &self,
        previous: ReservationId,
        reservation: &Reservation,
    ) -> Result<bool, RepoError> {
        let row = IdempotencyKeyRow::in_progress(reservation);
        self.with_conn(|conn| {
            diesel::update(held!(reservation, previous))
                .set((
                    idempotency_keys::reservation_id.eq(&row.reservation_id),
                    idempotency_keys::fingerprint.eq(&row.fingerprint),
                    idempotency_keys::created_at.eq(row.created_at),
                    idempotency_keys::status_code.eq(row.status_code),
                    idempotency_keys::content_type.eq(&row.content_type),
                    idempotency_keys::location.eq(&row.location),
                    idempotency_keys::body.eq(&row.body),
                    idempotency_keys::completed_at.eq(row.completed_at),
                ))
                .execute(conn)
                .map(|updated| updated > 0)
                .map_err(|e| write_error(e, |_| "idempotency_key"))
        })
    }

    fn complete(
        &self,
        reservation: &Reservation,
        answer: &StoredAnswer,
        at: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        self.with_conn(|conn| {
            diesel::update(
                held!(reservation, reservation.id).filter(idempotency_keys::status_code.is_null()),
            )
            .set((
                idempotency_keys::status_code.eq(i32::from(answer.status)),
                idempotency_keys::content_type.eq(answer.content_type.as_deref()),
                idempotency_keys::location.eq(answer.location.as_deref()),
                idempotency_keys::body.eq(&answer.body),
                idempotency_keys::completed_at.eq(db_time(at)),
            ))
            .execute(conn)
            .map(|updated| updated > 0)
            .map_err(unexpected)
        })
    }

    fn release(&self, reservation: &Reservation) -> Result<bool, RepoError> {
        self.with_conn(|conn| {
            diesel::delete(
                held!(reservation, reservation.id).filter(idempotency_keys::status_code.is_null()),
            )
            .execute(conn)
            .map(|deleted| deleted > 0)
            .map_err(unexpected)
        })
    }

    /// Reads the reservations of the oldest `limit` keys created before
    /// `before`, then deletes those still held by them: a key taken over in
    /// between is not one of them any more, and stays.
    fn delete_created_before(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, RepoError> {
        self.with_conn(|conn| {
            let oldest: Vec<String> = idempotency_keys::table
                .filter(idempotency_keys::created_at.lt(db_time(before)))
                .order(idempotency_keys::created_at.asc())
                .select(idempotency_keys::reservation_id)
                .limit(i64::from(limit))
                .load(conn)
                .map_err(unexpected)?;
            if oldest.is_empty() {
                return Ok(0);
            }
            let deleted = diesel::delete(
                idempotency_keys::table
                    .filter(idempotency_keys::reservation_id.eq_any(&oldest))
                    .filter(idempotency_keys::created_at.lt(db_time(before))),
            )
            .execute(conn)
            .map_err(unexpected)?;
            u64::try_from(deleted).map_err(unexpected)
        })
    }
}
