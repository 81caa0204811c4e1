//! What kinds share without reaching into each other's folders: the views
//! one kind has of another's objects (traits over the owning kind's watch
//! store, implemented in its folder and handed over by the runtime), the
//! target an operation acts on, and AuraSnapshot objects made on another
//! object's behalf, the keys of a connection Secret, cron schedules.
//! Nothing in here imports a kind's folder.

pub mod access;
pub mod connection;
pub mod cron;
pub mod database_target;
pub mod filters;
pub mod lost_create;
pub mod news;
pub mod organization;
pub mod own_client;
pub mod snapshots;
pub mod target;
pub mod tenant;
pub mod views;
