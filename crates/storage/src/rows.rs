//! Rows as the tables hold them. They never leave the crate: `mapping` turns
//! them into domain types and back.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::{
    communication_sources, communication_types, department_rules, departments, favorite_sources,
    user_availability, users,
};

#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = users, treat_none_as_null = true)]
pub(crate) struct UserRow {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub push_token: Option<String>,
    pub external_id: Option<String>,
    pub search_text: String,
    #[diesel(skip_update)]
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = user_availability, primary_key(user_id), treat_none_as_null = true)]
pub(crate) struct AvailabilityRow {
    pub user_id: String,
    pub status: String,
    pub blocked_from: Option<NaiveDateTime>,
    pub blocked_to: Option<NaiveDateTime>,
}

#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = communication_types)]
pub(crate) struct CommunicationTypeRow {
    pub id: String,
    pub code: String,
    pub name: String,
    pub status: String,
    #[diesel(skip_update)]
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = communication_sources)]
pub(crate) struct CommunicationSourceRow {
    pub id: String,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub status: String,
    #[diesel(skip_update)]
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = departments)]
pub(crate) struct DepartmentRow {
    pub id: String,
    pub name: String,
    #[diesel(skip_update)]
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = favorite_sources)]
pub(crate) struct FavoriteSourceRow {
    pub department_id: String,
    pub communication_type_id: String,
    pub communication_source_id: String,
    pub priority: i32,
}

#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = department_rules, treat_none_as_null = true)]
pub(crate) struct RuleRow {
    pub id: String,
    #[diesel(skip_update)]
    pub department_id: String,
    pub communication_type_id: Option<String>,
    pub limit_per_unit: i32,
    pub unit: String,
    pub units_count: i32,
    #[diesel(skip_update)]
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}
