//! The versions each CRD serves, and the shape every version shares.
//!
//! A kind's Rust type is its newest version, the storage version. A kind
//! promoted from an older version keeps serving it, deprecated, with the
//! same schema: v1beta1 only added to and relaxed v1alpha1 (tier names,
//! an optional `version`, `status.tier`), so every stored object is valid
//! under both and the apiserver converts by rewriting `apiVersion`
//! (`conversion: None`, no webhook to run or to be down).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, CustomResourceConversion, CustomResourceDefinition,
    CustomResourceDefinitionVersion,
};

/// Finishes a generated CRD: the Ready condition's reason as a printer
/// column, conditions merged by type under server-side apply, and the older
/// versions in `older` served beside the storage version, deprecated.
pub fn finish(
    mut crd: CustomResourceDefinition,
    summary: &str,
    older: &[&str],
) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        // What `kubectl explain <kind>` prints first.
        if let Some(root) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            root.description = Some(summary.to_string());
        }
        if conditions_by_type(version) {
            add_reason_column(version);
        }
    }
    let newest = crd.spec.versions[0].clone();
    for name in older {
        crd.spec.versions.push(CustomResourceDefinitionVersion {
            name: (*name).to_string(),
            served: true,
            storage: false,
            deprecated: Some(true),
            deprecation_warning: Some(deprecation_warning(
                &crd.spec.group,
                &crd.spec.names.kind,
                name,
                &newest.name,
            )),
            ..newest.clone()
        });
    }
    crd.spec.conversion = Some(CustomResourceConversion {
        strategy: "None".into(),
        webhook: None,
    });
    crd
}

/// What `kubectl` prints for a request in a deprecated version.
pub fn deprecation_warning(group: &str, kind: &str, old: &str, new: &str) -> String {
    format!(
        "{group}/{old} {kind} is deprecated; use {group}/{new} (the same fields: change apiVersion only)"
    )
}

/// The reason of the Ready condition, after the Ready column (or before Age
/// where there is none): `kubectl get` shows why an object waits. For a
/// version whose status has conditions.
fn add_reason_column(version: &mut CustomResourceDefinitionVersion) {
    let columns = version
        .additional_printer_columns
        .get_or_insert_with(Vec::new);
    if columns.iter().any(|c| c.name == "Reason") {
        return;
    }
    let at = match columns.iter().position(|c| c.name == "Ready") {
        Some(ready) => ready + 1,
        None => columns
            .iter()
            .position(|c| c.name == "Age")
            .unwrap_or(columns.len()),
    };
    columns.insert(
        at,
        CustomResourceColumnDefinition {
            name: "Reason".into(),
            type_: "string".into(),
            json_path: ".status.conditions[?(@.type==\"Ready\")].reason".into(),
            description: Some("Why the object is, or is not, Ready.".into()),
            ..Default::default()
        },
    );
}

fn conditions_schema(
    version: &mut CustomResourceDefinitionVersion,
) -> Option<&mut k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps>
{
    version
        .schema
        .as_mut()?
        .open_api_v3_schema
        .as_mut()?
        .properties
        .as_mut()?
        .get_mut("status")?
        .properties
        .as_mut()?
        .get_mut("conditions")
}

/// Conditions are a list keyed by `type` (the API conventions), so that a
/// server-side apply merges them by type instead of replacing the list.
/// Answers whether the version's status has conditions.
fn conditions_by_type(version: &mut CustomResourceDefinitionVersion) -> bool {
    let Some(conditions) = conditions_schema(version) else {
        return false;
    };
    conditions.x_kubernetes_list_type = Some("map".into());
    conditions.x_kubernetes_list_map_keys = Some(vec!["type".into()]);
    true
}

#[cfg(test)]
mod tests {
    use super::super::KINDS;

    #[test]
    fn a_promoted_kind_serves_its_older_versions_deprecated_with_the_same_schema() {
        let mut promoted = 0;
        for info in KINDS {
            let crd = info.crd();
            let versions = &crd.spec.versions;
            assert_eq!(
                versions.len(),
                1 + info.older_versions.len(),
                "{}",
                info.kind
            );
            let storage: Vec<_> = versions.iter().filter(|v| v.storage).collect();
            assert_eq!(storage.len(), 1, "{}: one storage version", info.kind);
            assert_eq!(storage[0].name, versions[0].name, "{}", info.kind);
            assert_eq!(storage[0].deprecated, None, "{}", info.kind);
            for old in &versions[1..] {
                promoted += 1;
                assert!(old.served && !old.storage, "{}", info.kind);
                assert_eq!(old.deprecated, Some(true), "{}", info.kind);
                let warning = old.deprecation_warning.as_deref().unwrap();
                assert!(
                    warning.contains(&format!("aura-operator.io/{}", versions[0].name)),
                    "{}: {warning}",
                    info.kind
                );
                // conversion None is only sound while the shapes are equal.
                assert_eq!(old.schema, versions[0].schema, "{}", info.kind);
                assert_eq!(old.subresources, versions[0].subresources, "{}", info.kind);
                assert_eq!(
                    old.additional_printer_columns, versions[0].additional_printer_columns,
                    "{}",
                    info.kind
                );
            }
            let conversion = crd.spec.conversion.as_ref().unwrap();
            assert_eq!(conversion.strategy, "None", "{}", info.kind);
        }
        assert_eq!(
            promoted, 6,
            "AuraInstance, its claim, both projects, snapshots and restores"
        );
    }

    #[test]
    fn explain_starts_with_the_kinds_summary() {
        for info in KINDS {
            let crd = info.crd();
            for version in &crd.spec.versions {
                let root = version
                    .schema
                    .as_ref()
                    .unwrap()
                    .open_api_v3_schema
                    .as_ref()
                    .unwrap();
                assert_eq!(
                    root.description.as_deref(),
                    Some(info.summary),
                    "{}",
                    info.kind
                );
            }
        }
    }

    #[test]
    fn every_kind_with_conditions_shows_the_ready_reason_and_keys_conditions_by_type() {
        for info in KINDS {
            let crd = info.crd();
            let version = &crd.spec.versions[0];
            let status = version
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .and_then(|s| s.properties.as_ref())
                .and_then(|p| p.get("status"))
                .and_then(|s| s.properties.as_ref());
            let Some(conditions) = status.and_then(|s| s.get("conditions")) else {
                continue;
            };
            assert_eq!(
                conditions.x_kubernetes_list_type.as_deref(),
                Some("map"),
                "{}",
                info.kind
            );
            assert_eq!(
                conditions.x_kubernetes_list_map_keys,
                Some(vec!["type".to_string()]),
                "{}",
                info.kind
            );
            let columns = version.additional_printer_columns.as_ref().unwrap();
            let reason = columns
                .iter()
                .find(|c| c.name == "Reason")
                .unwrap_or_else(|| {
                    panic!("{} has no Reason column", info.kind);
                });
            assert_eq!(
                reason.json_path, ".status.conditions[?(@.type==\"Ready\")].reason",
                "{}",
                info.kind
            );
            if let Some(ready) = columns.iter().position(|c| c.name == "Ready") {
                assert_eq!(columns[ready + 1].name, "Reason", "{}", info.kind);
            }
        }
    }
}
