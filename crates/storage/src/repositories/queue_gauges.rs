//! The queue's size by state, for the metrics. Every count is bounded by
//! `due_at IS NOT NULL`, so that it reads the partial index
//! `communications_due_idx` (the waiting and booked rows) and never the
//! communications already sent or given up on.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use omnichannel_domain::CommunicationStatus;
use omnichannel_domain::ports::{QueueCounts, QueueGauges, RepoError};

use crate::error::unexpected;
use crate::mapping::db_time;
use crate::schema::communications;
use crate::store::Store;

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

impl QueueGauges for Store {
    fn queue_counts(&self, now: DateTime<Utc>) -> Result<QueueCounts, RepoError> {
        let now = db_time(now);
        let not_sent = CommunicationStatus::NotSent.as_str();
        self.with_conn(|conn| {
            let due = communications::table
                .filter(communications::due_at.is_not_null())
                .filter(communications::due_at.le(now))
                .filter(communications::status.eq(not_sent))
                .count()
                .get_result::<i64>(conn)
                .map_err(unexpected)?;
            let deferred = communications::table
                .filter(communications::due_at.is_not_null())
                .filter(communications::due_at.gt(now))
                .filter(communications::status.eq(not_sent))
                .count()
                .get_result::<i64>(conn)
                .map_err(unexpected)?;
            let booked = communications::table
                .filter(communications::due_at.is_not_null())
                .filter(communications::status.eq(CommunicationStatus::Booked.as_str()))
                .count()
                .get_result::<i64>(conn)
                .map_err(unexpected)?;
            Ok(QueueCounts {
                due: count(due),
                deferred: count(deferred),
                booked: count(booked),
            })
        })
    }
}
