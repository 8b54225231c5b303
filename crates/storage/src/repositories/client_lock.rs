//! The lock that serialises the decisions about one client: a change under
//! the client's lock (`decide_for_client`) and a dispatch claim take it, so
//! that the contact limits are checked and reserved by one at a time.
//!
//! PostgreSQL: a transaction-scoped advisory lock keyed by the client. A change
//! waits for it; a claim only tries it and leaves the client's communications
//! alone when it is taken (a change takes the advisory lock before the row
//! lock, a claim the row locks before the advisory one: waiting on both sides
//! could deadlock). SQLite: the immediate transaction both run in holds the
//! database's only write lock, which serialises every client at once.

use std::collections::{BTreeSet, HashSet};

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool};
use omnichannel_domain::UserId;

use crate::connection::DbConnection;

/// The advisory lock key of a client: the two 64-bit halves of the user's
/// UUID XORed, read as a signed 64-bit integer. Two clients may share a key;
/// they then wait for each other, which costs time but never a wrong count.
pub(crate) fn client_lock_key(user_id: UserId) -> i64 {
    let (high, low) = user_id.as_uuid().as_u64_pair();
    i64::from_be_bytes((high ^ low).to_be_bytes())
}

/// Waits for the lock of `user_id`, held until the transaction ends.
pub(crate) fn lock_client(conn: &mut DbConnection, user_id: UserId) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(conn) => diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<BigInt, _>(client_lock_key(user_id))
            .execute(conn)
            .map(drop),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// Takes, without waiting, the locks of `users` that are free (in one
/// statement), held until the transaction ends; answers the users locked.
pub(crate) fn try_lock_clients(
    conn: &mut DbConnection,
    users: impl IntoIterator<Item = UserId>,
) -> QueryResult<HashSet<UserId>> {
    let users: HashSet<UserId> = users.into_iter().collect();
    let conn = match conn {
        DbConnection::Pg(conn) => conn,
        DbConnection::Sqlite(_) => return Ok(users),
    };
    #[derive(QueryableByName)]
    struct Attempt {
        #[diesel(sql_type = BigInt)]
        key: i64,
        #[diesel(sql_type = Bool)]
        locked: bool,
    }
    let keys: Vec<i64> = users
        .iter()
        .map(|&user| client_lock_key(user))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let locked: HashSet<i64> = diesel::sql_query(
        "SELECT k AS key, pg_try_advisory_xact_lock(k) AS locked FROM unnest($1) AS k",
    )
    .bind::<Array<BigInt>, _>(keys)
    .load::<Attempt>(conn)?
    .into_iter()
    .filter(|attempt| attempt.locked)
    .map(|attempt| attempt.key)
    .collect();
    Ok(users
        .into_iter()
        .filter(|&user| locked.contains(&client_lock_key(user)))
        .collect())
}

#[cfg(test)]
mod tests {
    use omnichannel_domain::UserId;
    use uuid::Uuid;

    use super::client_lock_key;

    #[test]
    fn the_key_folds_both_halves_of_the_uuid() {
        let id = |s: &str| UserId::from(Uuid::parse_str(s).unwrap());
        assert_eq!(
            client_lock_key(id("00000000-0000-0001-0000-000000000003")),
            2
        );
        assert_eq!(
            client_lock_key(id("ffffffff-ffff-ffff-0000-000000000000")),
            -1
        );
        assert_ne!(
            client_lock_key(id("0190a6a8-1111-7000-8000-000000000001")),
            client_lock_key(id("0190a6a8-1111-7000-8000-000000000002"))
        );
    }
}
