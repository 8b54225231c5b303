use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::DatabaseErrorInformation;
use omnichannel_domain::ApiKeyId;
use omnichannel_domain::auth::ApiKey;
use omnichannel_domain::ports::{ApiKeyRepository, Page, Paged, RepoError};

use super::{limit_offset, paged};
use crate::error::{unexpected, violates_unique, write_error};
use crate::mapping::{db_id, db_time};
use crate::rows::ApiKeyRow;
use crate::schema::api_keys;
use crate::store::Store;

fn conflict_field(info: &dyn DatabaseErrorInformation) -> &'static str {
    if violates_unique(info, "api_key") {
        "api_key"
    } else {
        "id"
    }
}

impl ApiKeyRepository for Store {
    fn insert(&self, key: &ApiKey) -> Result<(), RepoError> {
        let row = ApiKeyRow::from_domain(key);
        self.with_conn(|conn| {
            diesel::insert_into(api_keys::table)
                .values(&row)
                .execute(conn)
                .map(drop)
                .map_err(|e| write_error(e, conflict_field))
        })
    }

    fn find_active(&self, api_key: &str) -> Result<Option<ApiKey>, RepoError> {
        let row = self.with_conn(|conn| {
            api_keys::table
                .filter(api_keys::api_key.eq(api_key))
                .filter(api_keys::revoked_at.is_null())
                .select(ApiKeyRow::as_select())
                .first(conn)
                .optional()
                .map_err(unexpected)
        })?;
        row.map(ApiKeyRow::into_domain).transpose()
    }

    fn is_active(&self, id: ApiKeyId) -> Result<bool, RepoError> {
        self.with_conn(|conn| {
            diesel::select(diesel::dsl::exists(
                api_keys::table
                    .find(db_id(id))
                    .filter(api_keys::revoked_at.is_null()),
            ))
            .get_result(conn)
            .map_err(unexpected)
        })
    }

    fn list(&self, page: Page) -> Result<Paged<ApiKey>, RepoError> {
        let (limit, offset) = limit_offset(page);
        let fetched = self.with_conn(|conn| {
            Ok(conn.transaction(|conn| {
                let active = api_keys::revoked_at.is_null();
                let total = api_keys::table
                    .filter(active)
                    .count()
                    .get_result::<i64>(conn)?;
                let rows = api_keys::table
                    .filter(active)
                    .order((api_keys::created_at.desc(), api_keys::id.desc()))
                    .limit(limit)
                    .offset(offset)
                    .select(ApiKeyRow::as_select())
                    .load(conn)?;
                Ok((total, rows))
            }))
        })?;
        paged(fetched, ApiKeyRow::into_domain)
    }

    /// The row stays, so that its public part is never handed out again.
    fn revoke(&self, id: ApiKeyId, at: DateTime<Utc>) -> Result<bool, RepoError> {
        self.with_conn(|conn| {
            diesel::update(
                api_keys::table
                    .find(db_id(id))
                    .filter(api_keys::revoked_at.is_null()),
            )
            .set(api_keys::revoked_at.eq(db_time(at)))
            .execute(conn)
            .map(|updated| updated > 0)
            .map_err(unexpected)
        })
    }

    /// One conditional update, which writes nothing when the key was used
    /// after `unless_after` (or is missing).
    fn touch(
        &self,
        id: ApiKeyId,
        at: DateTime<Utc>,
        unless_after: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        self.with_conn(|conn| {
            diesel::update(
                api_keys::table.find(db_id(id)).filter(
                    api_keys::last_used_at
                        .is_null()
                        .or(api_keys::last_used_at.le(db_time(unless_after))),
                ),
            )
            .set(api_keys::last_used_at.eq(db_time(at)))
            .execute(conn)
            .map(drop)
            .map_err(unexpected)
        })
    }
}
