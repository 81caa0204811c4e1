//! The integration tests, in one binary (cargo finds `tests/e2e/main.rs` by
//! itself: its test target is `e2e`).
//!
//! One control plane per run: [`support`] starts etcd, kube-apiserver and
//! kube-controller-manager (`tests/testenv/run`) the first time a test asks
//! for a client, and every test of the run shares them. Tests that need no
//! control plane (the simulator's contract, the files of the repository) are
//! modules here too and never start it.
//!
//! Each module is one area. Run one with `cargo test --test e2e -- <area>::`,
//! for example `cargo test --test e2e -- projects::`.
//!
//! Isolation: every test works in namespaces of its own and runs its own
//! `aura-operator run --namespace <ns>`; what reaches beyond a namespace
//! (cluster-scoped objects, the chart's cluster-wide install, the
//! apiserver's own counts) is serialised by the locks of
//! [`support::cluster`], which say who takes which.

mod support;

mod aura_contract;
mod aura_contract_console;
mod aura_contract_databases;
mod aura_contract_v2beta1;
mod connection_secrets;
mod crd_generated;
mod credentials_watch;
mod customer_managed_keys;
mod database_users;
mod databases;
mod day2;
mod endings;
mod fleet;
mod gitops;
mod graph_analytics_sessions;
mod https;
mod import;
mod ip_filters;
mod lost_create;
mod members;
mod neo4j_credentials;
mod neo4j_users;
mod node;
mod operations_kit;
mod operator;
mod ownership;
mod pacing;
mod packaging;
mod project_metrics;
mod projects;
mod protection;
mod reach;
mod readme;
mod rebuild;
mod restore;
mod runtime;
mod runtime_image;
mod simulator_bad_input;
mod snapshots;
mod tolerant_reader;
mod upgrade;
