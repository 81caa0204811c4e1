//! The tenant an object of a kind with credentials of its own works in: the
//! spec's, the one recorded, the project's, or the only one the credentials
//! see. Kinds turn the message into a stall of their own reason.

use crate::aura::AuraClient;
use crate::reconciler::{Context, Kind, Result};

/// The tenant, or why there is none (a message for a person).
pub async fn choose<K: Kind>(
    ctx: &Context<K>,
    obj: &K,
    aura: &AuraClient,
    spec: Option<&str>,
    recorded: Option<&str>,
) -> Result<std::result::Result<String, String>> {
    if let Some(id) = spec.or(recorded) {
        return Ok(Ok(id.to_string()));
    }
    if let Some(id) = ctx.credentials_source(obj).tenant_id() {
        return Ok(Ok(id.to_string()));
    }
    let tenants = ctx.tenants.list(aura).await?;
    let ids: Vec<&str> = tenants.iter().map(|t| t.id.as_str()).collect();
    Ok(only(&ids))
}

/// The one tenant of a list, or the message naming them all.
pub fn only(ids: &[&str]) -> std::result::Result<String, String> {
    match ids {
        [one] => Ok((*one).to_string()),
        [] => Err("the credentials see no Aura tenant".into()),
        many => Err(format!(
            "the credentials see {} tenants; set spec.tenantId to one of: {}",
            many.len(),
            many.join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::only;

    #[test]
    fn one_tenant_is_chosen_otherwise_a_person_chooses() {
        assert_eq!(only(&["t-1"]), Ok("t-1".to_string()));
        assert!(only(&[]).unwrap_err().contains("no Aura tenant"));
        let many = only(&["t-1", "t-2"]).unwrap_err();
        assert!(
            many.contains("2 tenants") && many.contains("t-1, t-2"),
            "{many}"
        );
    }
}
