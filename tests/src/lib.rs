//! End-to-end tests of omnichannel: the real service on a free port, each test on
//! a fresh SQLite and a fresh PostgreSQL database. One test binary for them all.

#[cfg(test)]
mod admin_auth;
#[cfg(test)]
mod admin_departments;
#[cfg(test)]
mod admin_dictionaries;
#[cfg(test)]
mod admin_users;
#[cfg(test)]
mod api;
#[cfg(test)]
mod auth_repository_contract;
#[cfg(test)]
mod browser;
#[cfg(test)]
mod bulk;
#[cfg(test)]
mod cli;
#[cfg(test)]
mod communication_contract;
#[cfg(test)]
mod communication_stats;
#[cfg(test)]
mod communications_api;
#[cfg(test)]
mod console;
#[cfg(test)]
mod console_communications;
#[cfg(test)]
mod console_directory;
#[cfg(test)]
mod conventions;
#[cfg(test)]
mod db;
#[cfg(test)]
mod dispatch;
#[cfg(test)]
mod docs_page;
#[cfg(test)]
mod idempotency;
#[cfg(test)]
mod json_logs;
#[cfg(test)]
mod metrics;
#[cfg(test)]
mod public_api;
#[cfg(test)]
mod real_channels;
#[cfg(test)]
mod repository_contract;
#[cfg(test)]
mod secrets_in_logs;
#[cfg(test)]
mod shutdown;
#[cfg(test)]
mod sink;
