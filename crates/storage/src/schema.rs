//! The tables, shared by both backends: ids are UUID text, times UTC timestamps,
//! enumerations text checked by the database.

diesel::table! {
    users (id) {
        id -> Text,
        first_name -> Text,
        last_name -> Text,
        phone -> Nullable<Text>,
        email -> Nullable<Text>,
        push_token -> Nullable<Text>,
        external_id -> Nullable<Text>,
        search_text -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    user_availability (user_id) {
        user_id -> Text,
        status -> Text,
        blocked_from -> Nullable<Timestamp>,
        blocked_to -> Nullable<Timestamp>,
    }
}

diesel::table! {
    communication_types (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    communication_sources (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        kind -> Text,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    departments (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    favorite_sources (department_id, communication_type_id, communication_source_id) {
        department_id -> Text,
        communication_type_id -> Text,
        communication_source_id -> Text,
        priority -> Integer,
    }
}

diesel::table! {
    department_rules (id) {
        id -> Text,
        department_id -> Text,
        communication_type_id -> Nullable<Text>,
        limit_per_unit -> Integer,
        unit -> Text,
        units_count -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(user_availability -> users (user_id));
diesel::joinable!(favorite_sources -> departments (department_id));
diesel::joinable!(favorite_sources -> communication_types (communication_type_id));
diesel::joinable!(favorite_sources -> communication_sources (communication_source_id));
diesel::joinable!(department_rules -> departments (department_id));
diesel::joinable!(department_rules -> communication_types (communication_type_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    user_availability,
    communication_types,
    communication_sources,
    departments,
    favorite_sources,
    department_rules,
);
