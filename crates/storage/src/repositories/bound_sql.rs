//! Raw SQL with its values bound one by one, for the statements the query
//! builder cannot express (an `UPDATE … FROM (VALUES …)` of any number of
//! rows), written once for both backends.

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Integer, Nullable, Text, Timestamp};
use diesel::sqlite::Sqlite;

use crate::connection::DbConnection;

/// A value bound to a placeholder.
#[derive(Clone)]
pub(super) enum Value {
    Text(Option<String>),
    Time(NaiveDateTime),
    Int(i32),
}

impl Value {
    /// The type PostgreSQL is told the placeholder has: a bare `VALUES` list
    /// gives it no other way to know.
    fn pg_type(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Time(_) => "timestamp",
            Self::Int(_) => "int4",
        }
    }
}

/// A statement being written: its text, with a placeholder for each of its
/// values in the order they appear (`$n::type` on PostgreSQL, `?` on SQLite).
pub(super) struct BoundSql {
    pg: bool,
    sql: String,
    values: Vec<Value>,
}

impl BoundSql {
    /// An empty statement for the backend of `conn`.
    pub(super) fn new(conn: &DbConnection) -> Self {
        Self {
            pg: matches!(conn, DbConnection::Pg(_)),
            sql: String::new(),
            values: Vec::new(),
        }
    }

    /// Appends `sql` as it is.
    pub(super) fn sql(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub(super) fn value(&mut self, value: Value) -> &mut Self {
        if self.pg {
            let n = self.values.len() + 1;
            self.sql.push_str(&format!("${n}::{}", value.pg_type()));
        } else {
            self.sql.push('?');
        }
        self.values.push(value);
        self
    }

    /// Runs the statement, answering the rows it returns.
    pub(super) fn load<U>(self, conn: &mut DbConnection) -> QueryResult<Vec<U>>
    where
        U: QueryableByName<Pg> + QueryableByName<Sqlite> + 'static,
    {
        let query = diesel::sql_query(self.sql);
        match conn {
            DbConnection::Pg(conn) => bind_all(query.into_boxed::<Pg>(), self.values).load(conn),
            DbConnection::Sqlite(conn) => {
                bind_all(query.into_boxed::<Sqlite>(), self.values).load(conn)
            }
        }
    }
}

fn bind_all<DB>(
    mut query: BoxedSqlQuery<'static, DB, SqlQuery>,
    values: Vec<Value>,
) -> BoxedSqlQuery<'static, DB, SqlQuery>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<Timestamp> + HasSqlType<Integer>,
    Option<String>: ToSql<Nullable<Text>, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
    i32: ToSql<Integer, DB>,
{
    for value in values {
        query = match value {
            Value::Text(text) => query.bind::<Nullable<Text>, _>(text),
            Value::Time(time) => query.bind::<Timestamp, _>(time),
            Value::Int(int) => query.bind::<Integer, _>(int),
        };
    }
    query
}
