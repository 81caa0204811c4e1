//! The connection Secret: the keys of the chosen format plus templated extra
//! keys, owned by the AuraInstance, labelled so the operator watches only its
//! own Secrets.

pub use crate::kinds::shared::connection::{
    format, has_controller, login, read_any, template, uri, without_tracking,
};

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};

use crate::api::{AuraInstance, AuraInstanceStatus, SecretFormat};
use crate::aura::{CreatedInstance, Instance};

pub use format::{
    KEY_DATABASE, KEY_INSTANCE_ID, KEY_INSTANCE_NAME, KEY_PASSWORD, KEY_URI, KEY_USERNAME,
};
pub use template::TemplateProblem;

pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "aura-operator";
/// Names the AuraInstance a Secret belongs to (kept after Orphan, when the owner reference goes).
pub const INSTANCE_LABEL: &str = "aura-operator.io/aurainstance";
/// The Aura instance a Secret was written for: formats without AURA_INSTANCEID need it too.
pub const INSTANCE_ID_ANNOTATION: &str = "aura-operator.io/instance-id";
/// A digest of the Secret's type, key names, labels and annotations (never of
/// its values): when the spec asks for another shape, the digest differs and
/// the Secret is rewritten, dropping keys no longer wanted.
pub const SHAPE_ANNOTATION: &str = "aura-operator.io/shape";

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

/// The instance a Secret says it was written for.
pub fn written_for(secret: &Secret) -> Option<String> {
    read_key(secret, KEY_INSTANCE_ID)
        .filter(|id| !id.is_empty())
        .or_else(|| {
            secret
                .metadata
                .annotations
                .as_ref()?
                .get(INSTANCE_ID_ANNOTATION)
                .cloned()
        })
}

/// The password an existing Secret holds for `instance_id`, under any format's
/// key (a Secret written for another instance does not count).
pub fn existing_password(secret: Option<&Secret>, instance_id: &str) -> Option<String> {
    let secret = secret?;
    if written_for(secret).is_some_and(|id| id != instance_id) {
        return None;
    }
    read_any(secret, &format::PASSWORD_KEYS)
}

/// Whether the backup of a replacement may go once `written` is in place:
/// not while it holds the password and the written Secret does not.
pub fn may_drop_backup(written: &Secret, backup: &Secret, instance_id: &str) -> bool {
    has_password(Some(written), instance_id) || !has_password(Some(backup), instance_id)
}

/// Held on the connection Secret of a protected AuraInstance, so that
/// deleting the namespace cannot take the password while the instance stays.
pub const PROTECTED_FINALIZER: &str = "aura-operator.io/protected";

/// Whether the Secret carries the finalizer of a protected instance.
pub fn held_for_protection(secret: &Secret) -> bool {
    secret.finalizers().iter().any(|f| f == PROTECTED_FINALIZER)
}

/// Where the password waits while a change of Secret type replaces the Secret.
pub fn backup_name(secret_name: &str) -> String {
    format!("{secret_name}.format-change")
}

/// FNV-1a: stable across builds, so an upgrade of the operator rewrites nothing.
fn digest(parts: impl IntoIterator<Item = String>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn shape(
    secret_type: &str,
    data: &BTreeMap<String, ByteString>,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> String {
    let parts = std::iter::once(format!("type={secret_type}"))
        .chain(data.keys().map(|k| format!("key={k}")))
        .chain(labels.iter().map(|(k, v)| format!("label={k}={v}")))
        .chain(
            annotations
                .iter()
                .map(|(k, v)| format!("annotation={k}={v}")),
        );
    digest(parts)
}

/// How much of the spec's Secret to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extras {
    /// The format's keys and the extra keys.
    All,
    /// The format's keys only: a just-created instance's password must land
    /// even when a template fails over its real values.
    FormatOnly,
}

/// The Secret to apply. `owned` is false under deletionPolicy Orphan while deleting,
/// which drops the owner reference. Extra keys render only once the password is
/// known, so that no template ever sees a blank one.
pub fn desired(
    obj: &AuraInstance,
    details: &ConnectionDetails<'_>,
    existing: Option<&Secret>,
    owned: bool,
) -> Result<Secret, TemplateProblem> {
    build(obj, details, existing, owned, Extras::All)
}

pub fn build(
    obj: &AuraInstance,
    details: &ConnectionDetails<'_>,
    existing: Option<&Secret>,
    owned: bool,
    extras: Extras,
) -> Result<Secret, TemplateProblem> {
    let spec = obj.spec.connection_secret.as_ref();
    let format = obj.secret_format();
    // Never overwrite a password with nothing: carry over what is there.
    let password = details
        .password
        .map(str::to_string)
        .or_else(|| existing_password(existing, details.instance_id));
    let host = format::host_of(details.connection_url);
    let values = format::Values {
        uri: details.connection_url,
        host: &host,
        username: details.username,
        password: password.as_deref(),
        database: format::DATABASE,
        instance_id: details.instance_id,
        instance_name: details.instance_name,
    };
    let mut data = BTreeMap::new();
    let templates = spec.map(|c| &c.extra_keys).filter(|e| !e.is_empty());
    if let (Some(templates), Some(_), Extras::All) = (templates, &password, extras) {
        for (k, v) in template::render(templates, &values)? {
            data.insert(k, ByteString(v.into_bytes()));
        }
    }
    for (k, v) in format::keys(format, &values) {
        data.insert(k.to_string(), ByteString(v.into_bytes()));
    }

    let mut labels = spec
        .map(|c| without_tracking(&c.labels))
        .unwrap_or_default();
    labels.insert(MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string());
    labels.insert(
        INSTANCE_LABEL.to_string(),
        obj.metadata.name.clone().unwrap_or_default(),
    );
    let mut annotations = spec
        .map(|c| without_tracking(&c.annotations))
        .unwrap_or_default();
    annotations.insert(
        INSTANCE_ID_ANNOTATION.to_string(),
        details.instance_id.to_string(),
    );
    let secret_type = format::secret_type(format);
    let digest = shape(secret_type, &data, &labels, &annotations);
    annotations.insert(SHAPE_ANNOTATION.to_string(), digest);
    let owner_references = owned.then(|| vec![owner_reference(obj)]);
    // A protected instance outlives its namespace's deletion (the policy
    // refuses to delete the object): so must the password.
    let finalizers = (owned && obj.spec.protected()).then(|| vec![PROTECTED_FINALIZER.to_string()]);
    Ok(Secret {
        metadata: ObjectMeta {
            name: Some(obj.connection_secret_name()),
            namespace: obj.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references,
            finalizers,
            ..Default::default()
        },
        type_: Some(secret_type.into()),
        data: Some(data),
        ..Default::default()
    })
}

/// The format's password key, for messages that tell a person where to write it.
pub fn password_key(format: SecretFormat) -> &'static str {
    format::password_key(format)
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

/// What a connection Secret of this object's name is to it (DESIGN 4.12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Absent, or carrying this object's controller reference, or the
    /// operator's own (labelled) for the same instance and without a
    /// password: written freely.
    Writable,
    /// Nobody's (no controller reference), says it is for this instance and
    /// holds a login: restored from a backup or written by an external
    /// store. Taken only once the database accepts its login.
    Takeover { labelled: bool },
    /// Written for another Aura instance: never taken.
    OtherInstance(String),
    /// Another controller's, or an application's: never written.
    Foreign,
}

/// How `existing` stands to `obj`, whose instance is `instance_id` (None: not
/// known yet, when nothing of somebody else's is ever taken).
pub fn standing(
    existing: Option<&Secret>,
    obj: &AuraInstance,
    instance_id: Option<&str>,
) -> Standing {
    let Some(secret) = existing else {
        return Standing::Writable;
    };
    if controlled_by(secret, obj) {
        return Standing::Writable;
    }
    let Some(instance_id) = instance_id.filter(|_| !has_controller(secret)) else {
        return Standing::Foreign;
    };
    let labelled = secret
        .metadata
        .labels
        .as_ref()
        .is_some_and(|l| l.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY_VALUE));
    // A Secret with neither the id key nor the annotation (the ServiceBinding
    // keys, copied without metadata) may still name it as its host.
    let in_host =
        || uri(secret).is_some_and(|u| format::host_of(&u).split('.').next() == Some(instance_id));
    let for_id = written_for(secret).or_else(|| in_host().then(|| instance_id.to_string()));
    match for_id {
        Some(id) if id != instance_id => Standing::OtherInstance(id),
        Some(_) if login(secret).is_some() => Standing::Takeover { labelled },
        Some(_) if labelled => Standing::Writable,
        _ => Standing::Foreign,
    }
}

/// Whether the operator may write (and later delete) this Secret for `obj`
/// without asking anything first: see [`Standing::Writable`].
pub fn may_write(existing: Option<&Secret>, obj: &AuraInstance, instance_id: Option<&str>) -> bool {
    standing(existing, obj, instance_id) == Standing::Writable
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
) -> Result<Secret, TemplateProblem> {
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

/// The existing Secret already holds what we would write (type, data, owner,
/// labels, and the shape digest, which tells keys that must go).
pub fn matches(existing: &Secret, desired: &Secret) -> bool {
    if !same_type(existing, desired) {
        return false;
    }
    if held_for_protection(existing) != held_for_protection(desired) {
        return false;
    }
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
    let annotations_ok = desired.metadata.annotations.as_ref().is_none_or(|want| {
        want.iter().all(|(k, v)| {
            existing
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(k))
                == Some(v)
        })
    });
    data_ok && owner_ok && labels_ok && annotations_ok
}

/// Both Secrets have the same type (none is Opaque). A Secret's type cannot
/// change: a Secret of another type must be replaced.
pub fn same_type(existing: &Secret, desired: &Secret) -> bool {
    let type_of = |s: &Secret| {
        s.type_
            .clone()
            .unwrap_or_else(|| format::OPAQUE_TYPE.into())
    };
    type_of(existing) == type_of(desired)
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
                version: Some(AuraVersion::V5),
                memory: MemorySize::Gb8,
                storage: None,
                vector_optimized: None,
                graph_analytics_plugin: None,
                multi_database: false,
                paused: false,
                deletion_policy: None,
                credentials_secret_ref: None,
                project_ref: None,
                connection_secret: None,
                verify_credentials: None,
                management_policy: None,
                secondaries_count: None,
                cdc_enrichment_mode: None,
                customer_managed_key_id: None,
                customer_managed_key_ref: None,
                password_recovery: None,
                adoption: None,
                source: None,
                deletion_protection: None,
                snapshots: None,
                admin_password_rotation: None,
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

    /// A backup holding the only copy of the password is never dropped: a
    /// Secret written without it (its backup not yet seen after a start)
    /// would otherwise be "up to date" and the password gone.
    #[test]
    fn a_backup_goes_only_when_it_is_not_the_last_copy_of_the_password() {
        let with = desired(&obj(), &details(Some("pw")), None, true).unwrap();
        let without = desired(&obj(), &details(None), None, true).unwrap();
        let other_instance = {
            let mut s = with.clone();
            let d = ConnectionDetails {
                instance_id: "0000aaaa",
                ..details(Some("old"))
            };
            s.data = desired(&obj(), &d, None, true).unwrap().data;
            s.metadata.annotations = desired(&obj(), &d, None, true)
                .unwrap()
                .metadata
                .annotations;
            s
        };
        let cases = [
            ("written has it, backup has it", &with, &with, true),
            ("written has it, backup has none", &with, &without, true),
            ("neither has it", &without, &without, true),
            ("only the backup has it", &without, &with, false),
            (
                "the backup's is another instance's",
                &without,
                &other_instance,
                true,
            ),
        ];
        for (what, written, backup, want) in cases {
            assert_eq!(may_drop_backup(written, backup, "8f769515"), want, "{what}");
        }
    }

    #[test]
    fn carries_the_six_keys_and_the_owner() {
        let s = desired(&obj(), &details(Some("pw")), None, true).unwrap();
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
    fn a_protected_instance_holds_its_secret_until_protection_is_lifted() {
        let plain = desired(&obj(), &details(Some("pw")), None, true).unwrap();
        assert!(!held_for_protection(&plain));
        let mut protected_obj = obj();
        protected_obj.spec.deletion_protection = Some(true);
        let protected = desired(&protected_obj, &details(Some("pw")), None, true).unwrap();
        assert!(held_for_protection(&protected));
        // Either way round, the Secret on the cluster needs a write.
        assert!(!matches(&plain, &protected));
        assert!(!matches(&protected, &plain));
        assert!(matches(&protected, &protected));
        // Orphaned (not owned): nothing of ours holds it.
        let let_go = desired(&protected_obj, &details(Some("pw")), None, false).unwrap();
        assert!(!held_for_protection(&let_go));
    }

    #[test]
    fn an_unknown_password_keeps_the_existing_one_and_never_empties_it() {
        let existing = desired(&obj(), &details(Some("kept")), None, true).unwrap();
        let again = desired(&obj(), &details(None), Some(&existing), true).unwrap();
        assert_eq!(read_key(&again, KEY_PASSWORD).as_deref(), Some("kept"));
        let fresh = desired(&obj(), &details(None), None, true).unwrap();
        assert_eq!(read_key(&fresh, KEY_PASSWORD), None);
    }

    #[test]
    fn a_password_of_another_instance_is_not_taken() {
        let mut other = desired(&obj(), &details(Some("other")), None, true).unwrap();
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

    fn with_secret(spec: crate::api::ConnectionSecret) -> AuraInstance {
        let mut o = obj();
        o.spec.connection_secret = Some(spec);
        o
    }

    fn keys(s: &Secret) -> Vec<String> {
        s.data.as_ref().unwrap().keys().cloned().collect()
    }

    #[test]
    fn a_format_change_keeps_the_password_and_changes_the_shape() {
        let aura = desired(&obj(), &details(Some("kept")), None, true).unwrap();
        let binding = with_secret(crate::api::ConnectionSecret {
            format: Some(SecretFormat::ServiceBinding),
            ..Default::default()
        });
        let next = desired(&binding, &details(None), Some(&aura), true).unwrap();
        assert_eq!(read_key(&next, "password").as_deref(), Some("kept"));
        assert_eq!(next.type_.as_deref(), Some("servicebinding.io/neo4j"));
        assert!(!matches(&aura, &next));
        assert!(!same_type(&aura, &next));
        // and back: the password is found under the binding's key
        let again = desired(&obj(), &details(None), Some(&next), true).unwrap();
        assert_eq!(read_key(&again, KEY_PASSWORD).as_deref(), Some("kept"));
        assert!(
            matches(&aura, &again),
            "the same spec gives the same Secret"
        );
        // the instance id is known without AURA_INSTANCEID
        assert_eq!(written_for(&next).as_deref(), Some("8f769515"));
        assert!(!has_password(Some(&next), "aaaa0000"));
    }

    #[test]
    fn dropping_an_extra_key_is_a_change_of_shape() {
        let with_extra = with_secret(crate::api::ConnectionSecret {
            extra_keys: BTreeMap::from([("DATABASE_URL".into(), "{{ uri }}".into())]),
            ..Default::default()
        });
        let a = desired(&with_extra, &details(Some("pw")), None, true).unwrap();
        assert!(keys(&a).contains(&"DATABASE_URL".to_string()));
        let b = desired(&obj(), &details(None), Some(&a), true).unwrap();
        assert!(!keys(&b).contains(&"DATABASE_URL".to_string()));
        // every value b has, a has too: only the digest tells them apart
        assert!(!matches(&a, &b));
        assert!(matches(
            &a,
            &desired(&with_extra, &details(None), Some(&a), true).unwrap()
        ));
    }

    #[test]
    fn extra_keys_wait_for_the_password_and_failures_name_the_key() {
        let spec = with_secret(crate::api::ConnectionSecret {
            extra_keys: BTreeMap::from([("DSN".into(), "{{ password }}".into())]),
            ..Default::default()
        });
        let none = desired(&spec, &details(None), None, true).unwrap();
        assert!(!keys(&none).contains(&"DSN".to_string()));
        let bad = with_secret(crate::api::ConnectionSecret {
            extra_keys: BTreeMap::from([("DSN".into(), "{{ nope }}".into())]),
            ..Default::default()
        });
        let err = desired(&bad, &details(Some("pw")), None, true).unwrap_err();
        assert_eq!(err.key, "DSN");
        let base = build(&bad, &details(Some("pw")), None, true, Extras::FormatOnly).unwrap();
        assert_eq!(read_key(&base, KEY_PASSWORD).as_deref(), Some("pw"));
    }

    #[test]
    fn labels_and_annotations_are_copied_except_tracking_ones() {
        let spec = with_secret(crate::api::ConnectionSecret {
            labels: BTreeMap::from([
                ("team".into(), "orders".into()),
                ("app.kubernetes.io/instance".into(), "argo-app".into()),
                ("argocd.argoproj.io/instance".into(), "x".into()),
                (MANAGED_BY_LABEL.into(), "someone-else".into()),
            ]),
            annotations: BTreeMap::from([
                ("reloader.stakater.com/match".into(), "true".into()),
                ("argocd.argoproj.io/tracking-id".into(), "x".into()),
                ("kustomize.toolkit.fluxcd.io/name".into(), "x".into()),
                (SHAPE_ANNOTATION.into(), "forged".into()),
            ]),
            ..Default::default()
        });
        let s = desired(&spec, &details(Some("pw")), None, true).unwrap();
        let labels = s.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["team"], "orders");
        assert_eq!(labels[MANAGED_BY_LABEL], MANAGED_BY_VALUE);
        assert!(!labels.contains_key("app.kubernetes.io/instance"));
        assert!(!labels.contains_key("argocd.argoproj.io/instance"));
        let annotations = s.metadata.annotations.as_ref().unwrap();
        assert_eq!(annotations["reloader.stakater.com/match"], "true");
        assert!(!annotations.contains_key("argocd.argoproj.io/tracking-id"));
        assert!(!annotations.contains_key("kustomize.toolkit.fluxcd.io/name"));
        assert_ne!(annotations[SHAPE_ANNOTATION], "forged");
    }

    #[test]
    fn orphaning_drops_the_owner_reference() {
        let s = desired(&obj(), &details(Some("pw")), None, false).unwrap();
        assert!(s.metadata.owner_references.is_none());
    }

    #[test]
    fn only_its_own_secrets_are_written() {
        let me = obj();
        let mine = desired(&me, &details(Some("pw")), None, true).unwrap();
        let mut other_owner = mine.clone();
        other_owner.metadata.owner_references.as_mut().unwrap()[0].uid = "uid-2".into();
        let mut app = Secret::default();
        app.metadata.name = Some("orders-connection".into());
        let orphaned = desired(&me, &details(Some("pw")), None, false).unwrap();
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
            // With a password it is taken only after a login check.
            (
                "orphaned, same instance",
                Some(&orphaned),
                Some("8f769515"),
                false,
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

    #[test]
    fn a_secret_nobody_owns_is_taken_only_for_its_instance_and_with_a_login() {
        let me = obj();
        let id = "8f769515";
        let orphaned = desired(&me, &details(Some("pw")), None, false).unwrap();
        let mut no_password = orphaned.clone();
        no_password.data.as_mut().unwrap().remove(KEY_PASSWORD);
        // kubectl get -o yaml, applied elsewhere: labels kept, owner gone.
        let mut unlabelled = orphaned.clone();
        unlabelled.metadata.labels = None;
        // ServiceBinding keys only, no annotation: the host names the instance.
        let mut by_host = Secret::default();
        by_host.metadata.name = Some("orders-connection".into());
        let put = |s: &mut Secret, k: &str, v: &str| {
            s.data
                .get_or_insert_with(Default::default)
                .insert(k.into(), ByteString(v.as_bytes().to_vec()));
        };
        put(
            &mut by_host,
            "uri",
            &format!("neo4j+s://{id}.databases.neo4j.io"),
        );
        put(&mut by_host, "username", "neo4j");
        put(&mut by_host, "password", "pw");
        let mut other_host = by_host.clone();
        put(&mut other_host, "uri", "neo4j+s://localhost:7687");
        let mut controlled = unlabelled.clone();
        controlled.metadata.owner_references = Some(vec![OwnerReference {
            controller: Some(true),
            uid: "external-secrets".into(),
            ..Default::default()
        }]);
        let cases: Vec<(&str, &Secret, Option<&str>, Standing)> = vec![
            (
                "restored with labels",
                &orphaned,
                Some(id),
                Standing::Takeover { labelled: true },
            ),
            (
                "restored without labels",
                &unlabelled,
                Some(id),
                Standing::Takeover { labelled: false },
            ),
            (
                "ours, no password",
                &no_password,
                Some(id),
                Standing::Writable,
            ),
            (
                "another instance's",
                &orphaned,
                Some("aaaa0000"),
                Standing::OtherInstance(id.into()),
            ),
            (
                "by its host",
                &by_host,
                Some(id),
                Standing::Takeover { labelled: false },
            ),
            (
                "a host that names nothing",
                &other_host,
                Some(id),
                Standing::Foreign,
            ),
            (
                "another controller's",
                &controlled,
                Some(id),
                Standing::Foreign,
            ),
            ("no instance yet", &orphaned, None, Standing::Foreign),
        ];
        for (what, existing, instance, want) in cases {
            assert_eq!(standing(Some(existing), &me, instance), want, "{what}");
        }
    }
}
