//! The policy snapshot the decisions read, loaded for any number of clients in
//! a handful of statements: a change under one client's lock and a dispatch
//! claim of many share it.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use omnichannel_domain::ports::{
    ClientPolicy, DepartmentPolicy, PolicyRepository, PolicySnapshot, RepoError,
};
use omnichannel_domain::{Availability, DepartmentId, UserId};

use crate::connection::DbConnection;
use crate::error::unexpected;
use crate::mapping::{db_id, db_time};
use crate::rows::{
    AvailabilityRow, CommunicationSourceRow, CommunicationTypeRow, CountedRow, FavoriteSourceRow,
    RuleRow, UserRow,
};
use crate::schema::{
    communication_sources, communication_types, communications, department_rules, favorite_sources,
    user_availability, users,
};
use crate::store::Store;

impl PolicyRepository for Store {
    fn policy_snapshot(
        &self,
        user_id: UserId,
        department_id: DepartmentId,
        now: DateTime<Utc>,
    ) -> Result<PolicySnapshot, RepoError> {
        self.with_conn(|conn| load_snapshot(conn, &[(user_id, department_id)], now, &[]))
    }
}

/// The snapshot of the clients `pairs` names (a user in a department) at
/// `at`: each existing user with their availability, each department's rules
/// and favourites (empty when it has none or does not exist), every type and
/// source, and the counted moments of each pair from the longest window of its
/// department's rules before `at` on, but those of the communications
/// `exclude` names. Seven statements at most, however many pairs.
pub(crate) fn load_snapshot(
    conn: &mut DbConnection,
    pairs: &[(UserId, DepartmentId)],
    at: DateTime<Utc>,
    exclude: &[String],
) -> Result<PolicySnapshot, RepoError> {
    let user_ids: Vec<String> = distinct(pairs.iter().map(|&(user, _)| db_id(user)));
    let department_ids: Vec<String> =
        distinct(pairs.iter().map(|&(_, department)| db_id(department)));

    let users = users::table
        .filter(users::id.eq_any(&user_ids))
        .select(UserRow::as_select())
        .load(conn)
        .map_err(unexpected)?
        .into_iter()
        .map(|row| row.into_domain().map(|user| (user.id, user)))
        .collect::<Result<HashMap<_, _>, _>>()?;
    let availability = user_availability::table
        .filter(user_availability::user_id.eq_any(&user_ids))
        .select(AvailabilityRow::as_select())
        .load(conn)
        .map_err(unexpected)?
        .into_iter()
        .map(|row| row.into_domain().map(|item| (item.user_id(), item)))
        .collect::<Result<HashMap<_, _>, _>>()?;
    let rules = department_rules::table
        .filter(department_rules::department_id.eq_any(&department_ids))
        .order((department_rules::created_at, department_rules::id))
        .select(RuleRow::as_select())
        .load(conn)
        .map_err(unexpected)?;
    let favorites = favorite_sources::table
        .filter(favorite_sources::department_id.eq_any(&department_ids))
        .order((
            favorite_sources::communication_type_id,
            favorite_sources::priority,
            favorite_sources::communication_source_id,
        ))
        .select(FavoriteSourceRow::as_select())
        .load(conn)
        .map_err(unexpected)?;
    let types = communication_types::table
        .order((communication_types::created_at, communication_types::id))
        .select(CommunicationTypeRow::as_select())
        .load(conn)
        .map_err(unexpected)?
        .into_iter()
        .map(CommunicationTypeRow::into_domain)
        .collect::<Result<_, _>>()?;
    let sources = communication_sources::table
        .order((communication_sources::created_at, communication_sources::id))
        .select(CommunicationSourceRow::as_select())
        .load(conn)
        .map_err(unexpected)?
        .into_iter()
        .map(CommunicationSourceRow::into_domain)
        .collect::<Result<_, _>>()?;

    let mut departments: HashMap<DepartmentId, DepartmentPolicy> = pairs
        .iter()
        .map(|&(_, department)| (department, DepartmentPolicy::default()))
        .collect();
    for row in rules {
        let rule = row.into_domain()?;
        if let Some(policy) = departments.get_mut(&rule.department_id) {
            policy.rules.push(rule);
        }
    }
    for row in favorites {
        let favorite = row.into_domain()?;
        if let Some(policy) = departments.get_mut(&favorite.department_id) {
            policy.favorites.push(favorite);
        }
    }

    // Each department counts from its longest window on; none without a rule.
    let since: HashMap<DepartmentId, DateTime<Utc>> = departments
        .iter()
        .filter_map(|(&id, policy)| {
            let longest = policy.rules.iter().map(|rule| rule.limit.window()).max()?;
            Some((id, at - longest))
        })
        .collect();
    let mut counted: HashMap<(UserId, DepartmentId), Vec<_>> = HashMap::new();
    if let Some(&earliest) = since.values().min() {
        let rows = communications::table
            .filter(communications::user_id.eq_any(&user_ids))
            .filter(communications::department_id.eq_any(&department_ids))
            .filter(communications::counted_at.is_not_null())
            .filter(communications::counted_at.ge(db_time(earliest)))
            .order(communications::counted_at)
            .select(CountedRow::as_select())
            .load::<CountedRow>(conn)
            .map_err(unexpected)?;
        // Left out here rather than by the query: `id <> ALL(…)` compares
        // every row read with every id excluded, and a claim excludes a
        // hundred or more.
        let exclude: HashSet<&str> = exclude.iter().map(String::as_str).collect();
        for row in rows
            .into_iter()
            .filter(|row| !exclude.contains(row.id.as_str()))
        {
            let (user, department, moment) = row.into_domain()?;
            if since
                .get(&department)
                .is_some_and(|&from| moment.at >= from)
            {
                counted.entry((user, department)).or_default().push(moment);
            }
        }
    }

    let clients = pairs
        .iter()
        .filter_map(|&pair @ (user_id, _)| {
            let user = users.get(&user_id)?.clone();
            let availability = availability
                .get(&user_id)
                .cloned()
                .unwrap_or_else(|| Availability::always(user_id));
            Some((
                pair,
                ClientPolicy {
                    user,
                    availability,
                    counted: counted.remove(&pair).unwrap_or_default(),
                },
            ))
        })
        .collect();
    Ok(PolicySnapshot {
        clients,
        departments,
        types,
        sources,
    })
}

/// The values once each, in order.
fn distinct(values: impl Iterator<Item = String>) -> Vec<String> {
    values.collect::<BTreeSet<_>>().into_iter().collect()
}
