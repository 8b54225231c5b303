//! `Store`'s implementation of each repository port, one file per port.

mod admins;
mod api_keys;
mod availability;
mod bound_sql;
mod bulk;
mod client_lock;
mod communication_sources;
mod communication_stats;
mod communication_types;
mod communications;
mod departments;
mod dispatch_queue;
mod favorite_sources;
mod group_insert;
mod idempotency;
mod login_attempts;
mod policy_snapshot;
mod queue_gauges;
mod refresh_tokens;
mod rules;
mod settings;
mod users;

pub use dispatch_queue::DISPATCH_CHANNEL;

use diesel::result::Error as DieselError;
use omnichannel_domain::ports::{Page, Paged, RepoError};

use crate::error::unexpected;

/// `LIMIT` and `OFFSET` of a page; an offset past any table is an empty page.
fn limit_offset(page: Page) -> (i64, i64) {
    (
        i64::from(page.limit),
        i64::try_from(page.offset).unwrap_or(i64::MAX),
    )
}

/// A page of rows and the count of the list, as the domain's `Paged`.
fn paged<R, T>(
    fetched: Result<(i64, Vec<R>), DieselError>,
    into_domain: impl Fn(R) -> Result<T, RepoError>,
) -> Result<Paged<T>, RepoError> {
    let (total, rows) = fetched.map_err(unexpected)?;
    Ok(Paged {
        items: rows
            .into_iter()
            .map(into_domain)
            .collect::<Result<_, _>>()?,
        total: u64::try_from(total).map_err(unexpected)?,
    })
}
