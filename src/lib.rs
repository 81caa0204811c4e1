//! aura-operator: provisions Neo4j Aura databases from Kubernetes objects.
//!
//! Layout follows DESIGN.md section 3 (and ARCHITECTURE.md): `api` (the
//! CRDs), `aura` (the Aura API client), `reconciler` (what every kind shares),
//! `kinds` (one folder per kind), `runtime` (the process), `simulator` (a
//! local Aura API), `telemetry`.
#![warn(clippy::too_many_lines)]

pub mod api;
pub mod aura;
pub mod import;
pub mod kinds;
pub mod migration;
pub mod query_api;
pub mod rebuild;
pub mod reconciler;
pub mod runtime;
pub mod simulator;
pub mod telemetry;

#[cfg(test)]
mod layout;

/// The project's one policy for a poisoned lock: carry on with the data. Every
/// lock guards bookkeeping that stays valid whatever a panicking holder did
/// (each update is a single insert, remove or counter step), and one
/// reconcile's panic must not stop every other.
pub fn locked<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Installs the one rustls crypto provider the process uses (aws-lc-rs, as
/// both kube and reqwest are built with it). Safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
