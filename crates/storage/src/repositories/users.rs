use diesel::prelude::*;
use diesel::result::DatabaseErrorInformation;
use omnichannel_domain::ports::{Page, Paged, RepoError, UserFilter, UserRepository};
use omnichannel_domain::{User, UserId};

use super::{limit_offset, paged};
use crate::connection::MultiBackend;
use crate::error::{delete_error, unexpected, violates_unique, write_error};
use crate::mapping::db_id;
use crate::rows::UserRow;
use crate::schema::users;
use crate::store::Store;

fn conflict_field(info: &dyn DatabaseErrorInformation) -> &'static str {
    if violates_unique(info, "external_id") {
        "external_id"
    } else {
        "id"
    }
}

/// A `LIKE` pattern matching `q` anywhere, in any case, with `%`, `_` and `\`
/// taken literally (`ESCAPE '\'`).
fn contains_pattern(q: &str) -> String {
    let mut pattern = String::with_capacity(q.len() + 2);
    pattern.push('%');
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn matching(filter: &UserFilter) -> users::BoxedQuery<'static, MultiBackend> {
    let mut query = users::table.into_boxed();
    if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
        query = query.filter(users::search_text.like(contains_pattern(q)).escape('\\'));
    }
    query
}

impl UserRepository for Store {
    fn insert(&self, user: &User) -> Result<(), RepoError> {
        let row = UserRow::from_domain(user);
        self.with_conn(|conn| {
            diesel::insert_into(users::table)
                .values(&row)
                .execute(conn)
                .map(drop)
                .map_err(|e| write_error(e, conflict_field))
        })
    }

    fn get(&self, id: UserId) -> Result<Option<User>, RepoError> {
        let row = self.with_conn(|conn| {
            users::table
                .find(db_id(id))
                .select(UserRow::as_select())
                .first(conn)
                .optional()
                .map_err(unexpected)
        })?;
        row.map(UserRow::into_domain).transpose()
    }

    fn list(&self, filter: &UserFilter, page: Page) -> Result<Paged<User>, RepoError> {
        let (limit, offset) = limit_offset(page);
        let fetched = self.with_conn(|conn| {
            Ok(conn.transaction(|conn| {
                let total = matching(filter).count().get_result::<i64>(conn)?;
                let rows = matching(filter)
                    .order((users::created_at.desc(), users::id.desc()))
                    .limit(limit)
                    .offset(offset)
                    .select(UserRow::as_select())
                    .load(conn)?;
                Ok((total, rows))
            }))
        })?;
        paged(fetched, UserRow::into_domain)
    }

    fn find_by_external_id(&self, external_id: &str) -> Result<Option<User>, RepoError> {
        let row = self.with_conn(|conn| {
            users::table
                .filter(users::external_id.eq(external_id))
                .select(UserRow::as_select())
                .first(conn)
                .optional()
                .map_err(unexpected)
        })?;
        row.map(UserRow::into_domain).transpose()
    }

    fn update(&self, user: &User) -> Result<bool, RepoError> {
        let row = UserRow::from_domain(user);
        self.with_conn(|conn| {
            diesel::update(users::table.find(&row.id))
                .set(&row)
                .execute(conn)
                .map(|updated| updated > 0)
                .map_err(|e| write_error(e, conflict_field))
        })
    }

    fn delete(&self, id: UserId) -> Result<bool, RepoError> {
        self.with_conn(|conn| {
            diesel::delete(users::table.find(db_id(id)))
                .execute(conn)
                .map(|deleted| deleted > 0)
                .map_err(delete_error)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn the_pattern_takes_wildcards_literally() {
        assert_eq!(contains_pattern("Ann"), "%ann%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(contains_pattern("ЖАННА"), "%жанна%");
    }
}
