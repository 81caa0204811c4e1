//! AuraRestore: one restore or overwrite of an AuraInstance's data, run once,
//! like a Job.

pub mod running;

pub use running::RunningRestores;
