use chrono::{DateTime, Utc};
use diesel::prelude::*;
use omnichannel_domain::TokenFamilyId;
use omnichannel_domain::auth::RefreshToken;
use omnichannel_domain::ports::{RefreshTokenRepository, RepoError};

use crate::error::{unexpected, write_error};
use crate::mapping::{db_id, db_time};
use crate::rows::RefreshTokenRow;
use crate::schema::refresh_tokens;
use crate::store::Store;

impl RefreshTokenRepository for Store {
    /// An unknown admin is `Unexpected` (the caller knows its admin exists).
    /// One transaction: the insert, and the removal of tokens that expired
    /// before this one was made, so the table holds only tokens that can
    /// still be presented.
    fn insert(&self, token: &RefreshToken) -> Result<(), RepoError> {
        let row = RefreshTokenRow::from_domain(token);
        self.with_conn(|conn| {
            conn.transaction(|conn| {
                diesel::delete(
                    refresh_tokens::table.filter(refresh_tokens::expires_at.lt(&row.created_at)),
                )
                .execute(conn)?;
                diesel::insert_into(refresh_tokens::table)
                    .values(&row)
                    .execute(conn)
            })
            .map(drop)
            .map_err(|e| write_error(e, |_| "token_hash"))
        })
    }

    fn find(&self, token_hash: &str) -> Result<Option<RefreshToken>, RepoError> {
        let row = self.with_conn(|conn| {
            refresh_tokens::table
                .find(token_hash)
                .select(RefreshTokenRow::as_select())
                .first(conn)
                .optional()
                .map_err(unexpected)
        })?;
        row.map(RefreshTokenRow::into_domain).transpose()
    }

    /// One conditional update: of concurrent calls with one token, the
    /// database lets exactly one change the row.
    fn mark_used(&self, token_hash: &str, at: DateTime<Utc>) -> Result<bool, RepoError> {
        let at = db_time(at);
        self.with_conn(|conn| {
            diesel::update(
                refresh_tokens::table
                    .find(token_hash)
                    .filter(refresh_tokens::used_at.is_null())
                    .filter(refresh_tokens::revoked_at.is_null())
                    .filter(refresh_tokens::expires_at.gt(at)),
            )
            .set(refresh_tokens::used_at.eq(at))
            .execute(conn)
            .map(|updated| updated > 0)
            .map_err(unexpected)
        })
    }

    fn revoke_family(&self, family_id: TokenFamilyId, at: DateTime<Utc>) -> Result<(), RepoError> {
        let at = db_time(at);
        self.with_conn(|conn| {
            diesel::update(
                refresh_tokens::table
                    .filter(refresh_tokens::family_id.eq(db_id(family_id)))
                    .filter(refresh_tokens::revoked_at.is_null()),
            )
            .set(refresh_tokens::revoked_at.eq(at))
            .execute(conn)
            .map(drop)
            .map_err(unexpected)
        })
    }
}
