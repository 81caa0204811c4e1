//! Aura API client (v1, and v2beta1 beside it): wire model, token cache, rate limiter, errors, client.
//!
//! Use one [`AuraClients`] per process and ask it for an [`AuraClient`] per set
//! of credentials: handles with the same client id share a rate limiter and,
//! with the same secret, a token cache.

mod client;
pub mod console;
pub mod databases;
mod endpoints;
pub mod envelope;
mod error;
pub mod ip_filter;
pub mod lenient;
pub mod model;
mod ratelimit;
mod retry;
mod token;
mod v2beta1;

pub use client::{AuraClient, AuraClients, ClientConfig, ClientStats};
#[cfg(test)]
pub(crate) use error::Endpoint;
pub use error::{AuraError, AuraErrorKind};
pub use ip_filter::{
    AllowedRange, Entities, IpFilter, IpFilterWrite, Organization, OrganizationProject, RangeWrite,
};
pub use model::{
    CreateInstanceRequest, CreateKeyRequest, CreatedInstance, CustomerManagedKey, Instance,
    InstanceConfiguration, InstanceStatus, InstanceSummary, MetricsIntegration,
    OverwriteInstanceRequest, Reachable, Session, SessionRequest, SessionSizing,
    SessionSizingRequest, Snapshot, SnapshotCreated, Tenant, TenantSummary, UpdateInstanceRequest,
    UpgradeInstanceRequest,
};
pub use token::Credentials;
