//! The connection Secret: the keys of Aura's credentials file, owned by the
//! AuraInstance, labelled so the operator watches only its own Secrets.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;

use crate::api::{AuraInstance, AuraInstanceStatus};
use crate::aura::{CreatedInstance, Instance};

pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "aura-operator";
/// Names the AuraInstance a Secret belongs to (kept after Orphan, when the owner reference goes).
pub const INSTANCE_LABEL: &str = "aura-operator.io/aurainstance";

pub const KEY_URI: &str = "NEO4J_URI";
pub const KEY_USERNAME: &str = "NEO4J_USERNAME";
pub const KEY_PASSWORD: &str = "NEO4J_PASSWORD";
pub const KEY_DATABASE: &str = "NEO4J_DATABASE";
pub const KEY_INSTANCE_ID: &str = "AURA_INSTANCEID";
pub const KEY_INSTANCE_NAME: &str = "AURA_INSTANCENAME";

/// The label selector for the Secrets this operator owns.
pub fn owned_selector() -> String {
    format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}")
}

/// What the operator knows about the instance when it writes the Secret.
pub struct ConnectionDetails<'a> {
    pub instance_id: &'a str,
    pub instance_name: &'a str,
    pub connection_url: &'a str,
    pub username: &'a str,
    /// None when the operator does not know it; the existing value is then kept.
    pub password: Option<&'a str>,
}

pub use crate::reconciler::credentials::read_key;

/// The password an existing Secret holds for `instance_id` (a Secret written for
/// another instance does not count).
pub fn existing_password(secret: Option<&Secret>, instance_id: &str) -> Option<String> {
    let secret = secret?;
    let belongs =
        read_key(secret, KEY_INSTANCE_ID).is_none_or(|id| id.is_empty() || id == instance_id);
    if !belongs {
        return None;
    }
    read_key(secret, KEY_PASSWORD).filter(|p| !p.is_empty())
}

/// The Secret to apply. `owned` is false under deletionPolicy Orphan while deleting,
/// which drops the owner reference.
pub fn desired(
    obj: &AuraInstance,
    details: &ConnectionDetails<'_>,
    existing: Option<&Secret>,
    owned: bool,
) -> Secret {
    let mut data = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        data.insert(k.to_string(), ByteString(v.as_bytes().to_vec()));
    };
    put(KEY_URI, details.connection_url);
    put(KEY_USERNAME, details.username);
    put(KEY_DATABASE, "neo4j");
    put(KEY_INSTANCE_ID, details.instance_id);
    put(KEY_INSTANCE_NAME, details.instance_name);
    // Never overwrite a password with nothing: carry over what is there.
    let password = details
        .password
        .map(str::to_string)
        .or_else(|| existing_password(existing, details.instance_id));
    if let Some(p) = password {
        put(KEY_PASSWORD, &p);
    }
    let labels = BTreeMap::from([
        (MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string()),
        (
            INSTANCE_LABEL.to_string(),
            obj.metadata.name.clone().unwrap_or_default(),
        ),
    ]);
    let owner_references = owned.then(|| vec![owner_reference(obj)]);
    Secret {
        metadata: ObjectMeta {
            name: Some(obj.connection_secret_name()),
            namespace: obj.metadata.namespace.clone(),
            labels: Some(labels),
            owner_references,
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(data),
        ..Default::default()
    }
}

fn owner_reference(obj: &AuraInstance) -> OwnerReference {
    OwnerReference {
        api_version: AuraInstance::api_version(&()).into_owned(),
        kind: AuraInstance::kind(&()).into_owned(),
        name: obj.metadata.name.clone().unwrap_or_default(),
        uid: obj.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Whether the operator may write (and later delete) this Secret for `obj`
/// (DESIGN 4.12): it is absent, or carries `obj`'s controller reference, or it
/// is the operator's own Secret that a deletionPolicy Orphan let go of, for the
/// same instance (so adopting an orphaned instance takes its Secret back).
pub fn may_write(existing: Option<&Secret>, obj: &AuraInstance, instance_id: Option<&str>) -> bool {
    let Some(secret) = existing else {
        return true;
    };
    if controlled_by(secret, obj) {
        return true;
    }
    let has_controller = secret
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true));
    let labelled = secret
        .metadata
        .labels
        .as_ref()
        .is_some_and(|l| l.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY_VALUE));
    let same_instance =
        instance_id.is_some_and(|id| read_key(secret, KEY_INSTANCE_ID).as_deref() == Some(id));
    !has_controller && labelled && same_instance
}

/// The Secret carries `obj`'s controller reference: only then is it deleted
/// with the object.
pub fn controlled_by(secret: &Secret, obj: &AuraInstance) -> bool {
    let uid = obj.metadata.uid.as_deref();
    secret
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true) && Some(o.uid.as_str()) == uid)
}

/// True when the Secret has a non-empty password for this instance.
pub fn has_password(secret: Option<&Secret>, instance_id: &str) -> bool {
    existing_password(secret, instance_id).is_some()
}

/// Aura's documented username, when an answer does not name one.
pub const DEFAULT_USERNAME: &str = "neo4j";

/// The connection URL Aura reported, else the documented form for the id
/// (`neo4j+s://<id>.databases.neo4j.io`): an answer without it must not leave
/// the Secret without a URI.
pub fn connection_url(id: &str, reported: Option<&str>) -> String {
    reported
        .map(str::to_string)
        .unwrap_or_else(|| format!("neo4j+s://{id}.databases.neo4j.io"))
}

pub fn desired_for(
    obj: &AuraInstance,
    current: &AuraInstanceStatus,
    i: &Instance,
    pending: Option<&CreatedInstance>,
    existing: Option<&Secret>,
) -> Secret {
    let pending = pending.filter(|p| p.id == i.id);
    let username = pending
        .and_then(|p| p.username.as_deref())
        .unwrap_or(DEFAULT_USERNAME);
    let name = i.name.clone().unwrap_or_else(|| obj.aura_name());
    let url = connection_url(
        &i.id,
        i.connection_url
            .as_deref()
            .or(current.connection_url.as_deref()),
    );
    let details = ConnectionDetails {
        instance_id: &i.id,
        instance_name: &name,
        connection_url: &url,
        username,
        password: pending.map(|p| p.password.as_str()),
    };
    desired(obj, &details, existing, true)
}

/// The existing Secret already holds what we would write (data and owner).
pub fn matches(existing: &Secret, desired: &Secret) -> bool {
    let data_ok = desired.data.as_ref().is_none_or(|want| {
        want.iter()
            .all(|(k, v)| existing.data.as_ref().and_then(|d| d.get(k)) == Some(v))
    });
    let owner_ok = desired
        .metadata
        .owner_references
        .as_ref()
        .is_none_or(|want| {
            existing
                .metadata
                .owner_references
                .as_ref()
                .is_some_and(|have| want.iter().all(|w| have.iter().any(|h| h.uid == w.uid)))
        });
    // Our labels are how the watch finds the Secret again.
    let labels_ok = desired.metadata.labels.as_ref().is_none_or(|want| {
        want.iter()
            .all(|(k, v)| existing.metadata.labels.as_ref().and_then(|l| l.get(k)) == Some(v))
    });
    data_ok && owner_ok && labels_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{AuraInstanceSpec, AuraVersion, CloudProvider, InstanceType, MemorySize};

    fn obj() -> AuraInstance {
        let mut o = AuraInstance::new(
            "orders",
            AuraInstanceSpec {
                name: None,
                tenant_id: None,
                instance_id: None,
                cloud_provider: CloudProvider::Gcp,
                region: "europe-west1".into(),
                instance_type: InstanceType::EnterpriseDb,
                version: AuraVersion::V5,
                memory: MemorySize::Gb8,
                storage: None,
                vector_optimized: None,
                graph_analytics_plugin: None,
                paused: false,
                deletion_policy: None,
                credentials_secret_ref: None,
                connection_secret: None,
                password_recovery: None,
            },
        );
        o.metadata.namespace = Some("team-a".into());
        o.metadata.uid = Some("uid-1".into());
        o
    }

    fn details(password: Option<&str>) -> ConnectionDetails<'_> {
        ConnectionDetails {
            instance_id: "8f769515",
            instance_name: "orders",
            connection_url: "neo4j+s://8f769515.databases.neo4j.io",
            username: "neo4j",
            password,
        }
    }

    #[test]
    fn carries_the_six_keys_and_the_owner() {
        let s = desired(&obj(), &details(Some("pw")), None, true);
        let keys: Vec<&str> = s
            .data
            .as_ref()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            vec![
                "AURA_INSTANCEID",
                "AURA_INSTANCENAME",
                "NEO4J_DATABASE",
                "NEO4J_PASSWORD",
                "NEO4J_URI",
                "NEO4J_USERNAME"
            ]
        );
        assert_eq!(s.metadata.name.as_deref(), Some("orders-connection"));
        assert_eq!(
            s.metadata.owner_references.as_ref().unwrap()[0].uid,
            "uid-1"
        );
        assert_eq!(
            s.metadata.labels.as_ref().unwrap()[MANAGED_BY_LABEL],
            "aura-operator"
        );
    }

    #[test]
    fn an_unknown_password_keeps_the_existing_one_and_never_empties_it() {
        let existing = desired(&obj(), &details(Some("kept")), None, true);
        let again = desired(&obj(), &details(None), Some(&existing), true);
        assert_eq!(read_key(&again, KEY_PASSWORD).as_deref(), Some("kept"));
        let fresh = desired(&obj(), &details(None), None, true);
        assert_eq!(read_key(&fresh, KEY_PASSWORD), None);
    }

    #[test]
    fn a_password_of_another_instance_is_not_taken() {
        let mut other = desired(&obj(), &details(Some("other")), None, true);
        other
            .data
            .as_mut()
            .unwrap()
            .insert(KEY_INSTANCE_ID.into(), ByteString(b"ffffffff".to_vec()));
        assert!(!has_password(Some(&other), "8f769515"));
        // a Secret a person wrote with only the password counts
        let by_hand = Secret {
            data: Some(BTreeMap::from([(
                KEY_PASSWORD.to_string(),
                ByteString(b"typed".to_vec()),
            )])),
            ..Default::default()
        };
        assert!(has_password(Some(&by_hand), "8f769515"));
    }

    #[test]
    fn orphaning_drops_the_owner_reference() {
        let s = desired(&obj(), &details(Some("pw")), None, false);
        assert!(s.metadata.owner_references.is_none());
    }

    #[test]
    fn only_its_own_secrets_are_written() {
        let me = obj();
        let mine = desired(&me, &details(Some("pw")), None, true);
        let mut other_owner = mine.clone();
        other_owner.metadata.owner_references.as_mut().unwrap()[0].uid = "uid-2".into();
        let mut app = Secret::default();
        app.metadata.name = Some("orders-connection".into());
        let orphaned = desired(&me, &details(Some("pw")), None, false);
        let cases: Vec<(&str, Option<&Secret>, Option<&str>, bool)> = vec![
            ("absent", None, None, true),
            ("mine", Some(&mine), Some("8f769515"), true),
            (
                "another AuraInstance's",
                Some(&other_owner),
                Some("8f769515"),
                false,
            ),
            ("an application's", Some(&app), Some("8f769515"), false),
            (
                "orphaned, same instance",
                Some(&orphaned),
                Some("8f769515"),
                true,
            ),
            (
                "orphaned, other instance",
                Some(&orphaned),
                Some("aaaa0000"),
                false,
            ),
            ("orphaned, no instance yet", Some(&orphaned), None, false),
        ];
        for (what, existing, id, want) in cases {
            assert_eq!(may_write(existing, &me, id), want, "{what}");
        }
    }
}
