use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorInformation, Error as DieselError};
use omnichannel_domain::AdminId;
use omnichannel_domain::auth::Admin;
use omnichannel_domain::ports::{AdminDeletion, AdminRepository, Page, Paged, RepoError};

use super::{limit_offset, paged};
use crate::connection::DbConnection;
use crate::error::{unexpected, violates_unique, write_error};
use crate::mapping::{db_id, db_time};
use crate::rows::AdminRow;
use crate::schema::{admins, refresh_tokens};
use crate::store::Store;

fn conflict_field(info: &dyn DatabaseErrorInformation) -> &'static str {
    if violates_unique(info, "username") {
        "username"
    } else {
        "id"
    }
}

/// Runs `$body`, an expression over the connection `$conn`, in a transaction
/// that no other writer of `admins` runs beside: SQLite takes the database's
/// write lock at `BEGIN IMMEDIATE`; PostgreSQL locks the table in
/// `SHARE ROW EXCLUSIVE` mode, which conflicts with itself and with every
/// insert, update and delete. What the body reads thus stays true until it
/// commits. The body is expanded once per dialect (the multi-backend
/// connection cannot begin an immediate transaction); it may `return` an
/// `Ok` early and its error is diesel's.
macro_rules! with_admins_locked {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            DbConnection::Sqlite($c) => $c.immediate_transaction::<_, DieselError, _>(|$c| $body),
            DbConnection::Pg($c) => $c.transaction::<_, DieselError, _>(|$c| {
                diesel::sql_query("LOCK TABLE admins IN SHARE ROW EXCLUSIVE MODE").execute($c)?;
                $body
            }),
        }
    };
}

impl AdminRepository for Store {
    fn insert(&self, admin: &Admin) -> Result<(), RepoError> {
        let row = AdminRow::from_domain(admin);
        self.with_conn(|conn| {
            diesel::insert_into(admins::table)
                .values(&row)
                .execute(conn)
                .map(drop)
                .map_err(|e| write_error(e, conflict_field))
        })
    }

    /// Checks and inserts with the admins locked, so that of several
    /// processes starting together on an empty database exactly one inserts.
    fn insert_first(&self, admin: &Admin) -> Result<bool, RepoError> {
        let row = AdminRow::from_domain(admin);
        self.with_conn(|conn| {
            with_admins_locked!(conn, |c| {
                let any = diesel::select(diesel::dsl::exists(admins::table.select(admins::id)))
                    .get_result::<bool>(c)?;
                if any {
                    return Ok(false);
                }
                diesel::insert_into(admins::table).values(&row).execute(c)?;
                Ok(true)
            })
            .map_err(|e| write_error(e, conflict_field))
        })
    }

    fn get(&self, id: AdminId) -> Result<Option<Admin>, RepoError> {
        let row = self.with_conn(|conn| {
            admins::table
                .find(db_id(id))
                .select(AdminRow::as_select())
                .first(conn)
                .optional()
                .map_err(unexpected)
        })?;
        row.map(AdminRow::into_domain).transpose()
    }

    fn find_by_username(&self, username: &str) -> Result<Option<Admin>, RepoError> {
        let row = self.with_conn(|conn| {
            admins::table
                .filter(admins::username.eq(username))
                .select(AdminRow::as_select())
                .first(conn)
                .optional()
                .map_err(unexpected)
        })?;
        row.map(AdminRow::into_domain).transpose()
    }

    fn list(&self, page: Page) -> Result<Paged<Admin>, RepoError> {
        let (limit, offset) = limit_offset(page);
        let fetched = self.with_conn(|conn| {
            Ok(conn.transaction(|conn| {
                let total = admins::table.count().get_result::<i64>(conn)?;
                let rows = admins::table
                    .order((admins::created_at.desc(), admins::id.desc()))
                    .limit(limit)
                    .offset(offset)
                    .select(AdminRow::as_select())
                    .load(conn)?;
                Ok((total, rows))
            }))
        })?;
        paged(fetched, AdminRow::into_domain)
    }

    /// Counts and deletes with the admins locked, so that two concurrent
    /// deletions of the last two take turns and the second finds the last
    /// one. The refresh tokens go by `ON DELETE CASCADE`.
    fn delete_unless_last(&self, id: AdminId) -> Result<AdminDeletion, RepoError> {
        let id = db_id(id);
        self.with_conn(|conn| {
            with_admins_locked!(conn, |c| {
                let found = diesel::select(diesel::dsl::exists(admins::table.find(&id)))
                    .get_result::<bool>(c)?;
                if !found {
                    return Ok(AdminDeletion::NotFound);
                }
                if admins::table.count().get_result::<i64>(c)? <= 1 {
                    return Ok(AdminDeletion::LastOne);
                }
                diesel::delete(admins::table.find(&id)).execute(c)?;
                Ok(AdminDeletion::Deleted)
            })
            .map_err(unexpected)
        })
    }

    fn change_password(
        &self,
        id: AdminId,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        let id = db_id(id);
        let at = db_time(at);
        self.with_conn(|conn| {
            conn.transaction::<_, DieselError, _>(|conn| {
                let updated = diesel::update(admins::table.find(&id))
                    .set((
                        admins::password_hash.eq(password_hash),
                        admins::updated_at.eq(at),
                    ))
                    .execute(conn)?;
                if updated == 0 {
                    return Ok(false);
                }
                diesel::update(
                    refresh_tokens::table
                        .filter(refresh_tokens::admin_id.eq(&id))
                        .filter(refresh_tokens::revoked_at.is_null()),
                )
                .set(refresh_tokens::revoked_at.eq(at))
                .execute(conn)?;
                Ok(true)
            })
            .map_err(unexpected)
        })
    }
}
