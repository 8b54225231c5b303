//! The handlers, by resource. `admin` and `public` decide which of them each API
//! mounts; a handler shared by both is written once.

pub mod bulk;
pub mod communication_stats;
pub mod communications;
pub mod departments;
pub mod dictionaries;
pub mod foresight;
pub mod operators;
pub mod session;
pub mod users;
