//! Operators, their sessions (access and refresh tokens) and the keys of the
//! public API.

pub mod api_keys;
pub mod crypto;
pub mod operators;
pub mod sessions;
pub mod tokens;
