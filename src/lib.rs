//! aura-operator: provisions Neo4j Aura databases from `AuraInstance` objects.
//!
//! Layout follows DESIGN.md section 3: `api` (the CRD), `aura` (the Aura API
//! client), `controller` (reconcile), `simulator` (a local Aura API), `telemetry`.

pub mod api;
pub mod aura;
pub mod controller;
pub mod simulator;
pub mod telemetry;

/// Errors of the operator process outside one reconcile (start-up, wiring).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    #[error("aura: {0}")]
    Aura(#[from] aura::AuraError),
    #[error("{0}")]
    Config(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Installs the one rustls crypto provider the process uses (aws-lc-rs, as
/// both kube and reqwest are built with it). Safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
