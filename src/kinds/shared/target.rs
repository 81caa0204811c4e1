//! The AuraInstance an AuraSnapshot or AuraRestore acts on, found through
//! the instances' view, and the Aura client of its credentials: these
//! kinds have no credentials of their own (DESIGN 4.9: an object uses only
//! what its namespace may use, and the instance already passed that check).

use std::sync::Arc;

use super::access;
use super::views::InstanceView;
use crate::api::AuraInstance;
use crate::aura::{AuraClient, Reachable};
use crate::reconciler::Result;
use crate::reconciler::credentials::CredentialsProblem;

/// An AuraInstance that runs in Aura, and a client that may call it.
pub struct Target {
    pub object: Arc<AuraInstance>,
    /// The instance the object holds the claim of (never what its status says).
    pub instance_id: Reachable,
    pub aura: AuraClient,
}

/// Why the instance cannot be acted on yet.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetProblem {
    /// No AuraInstance of that name in the namespace.
    NotFound(String),
    /// It exists but has no Aura instance yet (being created, or being deleted).
    NotCreated(String),
    /// Its credentials cannot be used.
    Credentials(CredentialsProblem),
}

impl TargetProblem {
    pub fn message(&self) -> String {
        match self {
            Self::NotFound(name) => format!("AuraInstance {name} does not exist in this namespace"),
            Self::NotCreated(name) => {
                format!("AuraInstance {name} has no Aura instance yet; waiting for it")
            }
            Self::Credentials(problem) => format!(
                "the credentials of the AuraInstance cannot be used ({}); see its status",
                problem_words(problem)
            ),
        }
    }
}

fn problem_words(problem: &CredentialsProblem) -> &'static str {
    match problem {
        CredentialsProblem::NotConfigured => "none configured",
        CredentialsProblem::ProjectNotFound(_) => "its project does not exist",
        CredentialsProblem::NamespaceNotAllowed(_) => "its project does not allow this namespace",
        CredentialsProblem::Unusable { .. } => "the Secret is missing or incomplete",
    }
}

/// The instance named `name` and a client of its credentials.
pub async fn resolve(
    instances: &dyn InstanceView,
    namespace: &str,
    name: &str,
) -> Result<Result<Target, TargetProblem>> {
    let Some(object) = instances.find(namespace, name) else {
        return Ok(Err(TargetProblem::NotFound(name.to_string())));
    };
    let Some(id) = access::held(instances, &object).await? else {
        return Ok(Err(TargetProblem::NotCreated(name.to_string())));
    };
    let aura = match instances.client_for(&object).await? {
        Ok(aura) => aura,
        Err(problem) => return Ok(Err(TargetProblem::Credentials(problem))),
    };
    Ok(Ok(Target {
        object,
        instance_id: id,
        aura,
    }))
}
