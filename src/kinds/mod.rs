//! One folder per kind, each shaped the same way: observe (I/O that gathers),
//! decide (pure), act (I/O that carries a decision out), and the kind's glue
//! to the shared driver in `mod.rs`.

pub mod customer_managed_key;
pub mod database;
pub mod database_backup;
pub mod database_restore;
pub mod database_user;
pub mod graph_analytics_session;
pub mod instance;
pub mod ip_filter;
pub mod member;
pub mod project;
pub mod restore;
pub mod shared;
pub mod snapshot;
