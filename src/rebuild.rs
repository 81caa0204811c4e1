//! What a rebuilt management cluster cannot get from Git (README,
//! "Rebuilding the management cluster"): the connection Secrets, whose
//! passwords Aura gave only once, and the records of the snapshots and
//! restores made, which live in status.
//!
//! `aura-operator backup-secrets` writes them to a file (mode 0600: it holds
//! passwords; nothing of a Secret's data is ever printed); `aura-operator
//! restore-secrets` puts them into the new cluster. A Secret already there is
//! never overwritten, and a status already written never replaced: the
//! operator's own records and Secrets win. Restored Secrets carry no owner
//! reference (the owners' uids are the old cluster's, and the garbage
//! collector would delete a Secret whose owner it cannot find); the operator
//! takes each one over once the database accepts its login.

use std::fmt;
use std::io::Write as _;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, Resource, ResourceExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::{AuraRestore, AuraSnapshot, DATABASE_LABEL, DATABASE_USER_LABEL};
use crate::kinds::instance::secret::owned_selector;

/// `aura-operator backup-secrets`.
#[derive(clap::Args, Debug, Clone)]
pub struct BackupArgs {
    /// Only this namespace (default: every namespace).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// The file to write (created with mode 0600; it holds passwords).
    #[arg(long, short = 'o')]
    pub output: PathBuf,
}

/// `aura-operator restore-secrets`.
#[derive(clap::Args, Debug, Clone)]
pub struct RestoreArgs {
    /// The file backup-secrets wrote.
    #[arg(long, short = 'f')]
    pub file: PathBuf,
}

/// One document of the file.
#[derive(Debug, Clone)]
pub enum Carried {
    Secret(Box<Secret>),
    AuraSnapshot(Box<Record>),
    AuraRestore(Box<Record>),
}

/// What a snapshot or restore recorded: its name, its spec (to be matched)
/// and its status.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Record {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: Value,
    pub status: Value,
}

/// The copy of a Secret that is carried: name, namespace, type, labels,
/// annotations and data; nothing that ties it to the old cluster (uid,
/// owners, finalizers, versions).
pub fn carried_secret(secret: &Secret) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: secret.metadata.name.clone(),
            namespace: secret.metadata.namespace.clone(),
            labels: secret.metadata.labels.clone(),
            annotations: secret.metadata.annotations.clone(),
            ..Default::default()
        },
        type_: secret.type_.clone(),
        data: secret.data.clone(),
        immutable: secret.immutable,
        string_data: None,
    }
}

/// The record of an object whose status says something: its spec and its
/// status without what only the old cluster's objects meant (the generation).
pub fn record_of<K>(obj: &K) -> Option<Record>
where
    K: Resource<DynamicType = ()> + Serialize,
{
    let value = serde_json::to_value(obj).ok()?;
    let mut status = value.get("status").cloned()?;
    let object = status.as_object_mut()?;
    object.remove("observedGeneration");
    if object.is_empty() {
        return None;
    }
    Some(Record {
        api_version: K::api_version(&()).to_string(),
        kind: K::kind(&()).to_string(),
        metadata: ObjectMeta {
            name: obj.meta().name.clone(),
            namespace: obj.meta().namespace.clone(),
            ..Default::default()
        },
        spec: value.get("spec").cloned().unwrap_or(Value::Null),
        status,
    })
}

/// The label selectors of the Secrets that are carried: the operator's own
/// (the AuraInstances' connection Secrets), and those of AuraDatabaseUsers
/// and AuraDatabases.
pub fn carried_selectors() -> [String; 3] {
    [
        owned_selector(),
        DATABASE_USER_LABEL.to_string(),
        DATABASE_LABEL.to_string(),
    ]
}

/// What restore-secrets does with a carried Secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretStep {
    Create,
    /// Already there with the same data.
    Same,
    /// Already there with other data: left as it is (the cluster's wins).
    LeftAsItIs,
}

pub fn secret_step(existing: Option<&Secret>, carried: &Secret) -> SecretStep {
    match existing {
        None => SecretStep::Create,
        Some(s) if s.data == carried.data => SecretStep::Same,
        Some(_) => SecretStep::LeftAsItIs,
    }
}

/// What restore-secrets does with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordStep {
    /// The object has no status yet: the record becomes its status.
    Fill,
    /// Not applied yet: apply the manifests, then run again.
    NoObject,
    /// The object already has a status (the operator got to it first).
    AlreadyRecorded,
    /// The object's spec is not the one recorded: another object of that name.
    OtherSpec,
}

/// `existing`: the object as the cluster has it (spec and status as JSON).
pub fn record_step(existing: Option<(&Value, Option<&Value>)>, record: &Record) -> RecordStep {
    let Some((spec, status)) = existing else {
        return RecordStep::NoObject;
    };
    let said = |s: &Value| {
        s.as_object().is_some_and(|o| {
            o.keys()
                .any(|k| k != "observedGeneration" && k != "conditions")
        })
    };
    if status.is_some_and(said) {
        RecordStep::AlreadyRecorded
    } else if *spec != record.spec {
        RecordStep::OtherSpec
    } else {
        RecordStep::Fill
    }
}

/// A failed step, with the apiserver's answer (which never holds Secret data).
#[derive(Debug)]
pub struct CarryError {
    pub step: String,
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl fmt::Display for CarryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, self.source)
    }
}

impl std::error::Error for CarryError {}

fn failed<E: std::error::Error + Send + Sync + 'static>(
    step: impl Into<String>,
) -> impl FnOnce(E) -> CarryError {
    let step = step.into();
    move |e| CarryError {
        step,
        source: Box::new(e),
    }
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// What was carried, by name (never a value).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    pub lines: Vec<String>,
}

impl Tally {
    fn say(&mut self, line: String) {
        self.lines.push(line);
    }
}

fn key(meta: &ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default()
    )
}

/// Reads the operator's Secrets and the records of snapshots and restores.
pub async fn backup(
    client: &Client,
    namespace: Option<&str>,
) -> Result<(Vec<Carried>, Tally), CarryError> {
    let mut carried = Vec::new();
    let mut tally = Tally::default();
    // The AuraInstances' Secrets, and the logins of AuraDatabaseUsers and
    // AuraDatabases, each by the label it carries.
    let mut seen = std::collections::BTreeSet::new();
    for selector in carried_selectors() {
        let secrets = api::<Secret>(client, namespace)
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(failed(format!("list the Secrets labelled {selector}")))?;
        for s in &secrets.items {
            if seen.insert(key(&s.metadata)) {
                tally.say(format!("Secret {}", key(&s.metadata)));
                carried.push(Carried::Secret(Box::new(carried_secret(s))));
            }
        }
    }
    let snapshots = api::<AuraSnapshot>(client, namespace)
        .list(&ListParams::default())
        .await
        .map_err(failed("list the AuraSnapshots"))?;
    for r in snapshots.items.iter().filter_map(record_of) {
        tally.say(format!("AuraSnapshot {}", key(&r.metadata)));
        carried.push(Carried::AuraSnapshot(Box::new(r)));
    }
    let restores = api::<AuraRestore>(client, namespace)
        .list(&ListParams::default())
        .await
        .map_err(failed("list the AuraRestores"))?;
    for r in restores.items.iter().filter_map(record_of) {
        tally.say(format!("AuraRestore {}", key(&r.metadata)));
        carried.push(Carried::AuraRestore(Box::new(r)));
    }
    Ok((carried, tally))
}

/// The file: one YAML document per carried object (the Secrets as
/// `kubectl apply` reads them).
pub fn to_yaml(carried: &[Carried]) -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for c in carried {
        let doc = match c {
            Carried::Secret(s) => serde_yaml::to_string(s)?,
            Carried::AuraSnapshot(r) | Carried::AuraRestore(r) => serde_yaml::to_string(r)?,
        };
        out.push_str("---\n");
        out.push_str(&doc);
    }
    Ok(out)
}

pub fn from_yaml(text: &str) -> Result<Vec<Carried>, serde_yaml::Error> {
    use serde::de::Error as _;
    let mut carried = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let value = Value::deserialize(doc)?;
        if value.is_null() {
            continue;
        }
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let read = serde_yaml::Error::custom;
        carried.push(match kind {
            "Secret" => Carried::Secret(Box::new(serde_json::from_value(value).map_err(read)?)),
            "AuraSnapshot" => {
                Carried::AuraSnapshot(Box::new(serde_json::from_value(value).map_err(read)?))
            }
            "AuraRestore" => {
                Carried::AuraRestore(Box::new(serde_json::from_value(value).map_err(read)?))
            }
            other => return Err(serde_yaml::Error::custom(format!("unknown kind {other:?}"))),
        });
    }
    Ok(carried)
}

/// Puts the carried Secrets and records into the cluster, never over what
/// is there.
pub async fn restore(client: &Client, carried: &[Carried]) -> Result<Tally, CarryError> {
    let mut tally = Tally::default();
    for c in carried {
        match c {
            Carried::Secret(s) => {
                let ns = s.metadata.namespace.as_deref().unwrap_or("default");
                let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
                let name = s.name_any();
                let existing = secrets
                    .get_opt(&name)
                    .await
                    .map_err(failed(format!("read Secret {ns}/{name}")))?;
                let step = secret_step(existing.as_ref(), s);
                if step == SecretStep::Create {
                    match secrets
                        .create(&PostParams::default(), &carried_secret(s))
                        .await
                    {
                        Ok(_) => {}
                        // Its namespace is not there yet: apply the
                        // manifests, then run again.
                        Err(kube::Error::Api(e)) if e.code == 404 => {
                            tally.say(format!("Secret {ns}/{name}: NoNamespace"));
                            continue;
                        }
                        Err(e) => return Err(failed(format!("create Secret {ns}/{name}"))(e)),
                    }
                }
                tally.say(format!("Secret {ns}/{name}: {step:?}"));
            }
            Carried::AuraSnapshot(r) => {
                restore_record::<AuraSnapshot>(client, r, &mut tally).await?
            }
            Carried::AuraRestore(r) => restore_record::<AuraRestore>(client, r, &mut tally).await?,
        }
    }
    Ok(tally)
}

async fn restore_record<K>(
    client: &Client,
    record: &Record,
    tally: &mut Tally,
) -> Result<(), CarryError>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + fmt::Debug
        + Serialize
        + serde::de::DeserializeOwned,
{
    let ns = record.metadata.namespace.as_deref().unwrap_or("default");
    let name = record.metadata.name.as_deref().unwrap_or_default();
    let objects: Api<K> = Api::namespaced(client.clone(), ns);
    let what = format!("{} {ns}/{name}", K::kind(&()));
    let existing = objects
        .get_opt(name)
        .await
        .map_err(failed(format!("read {what}")))?
        .map(|o| serde_json::to_value(o).unwrap_or(Value::Null));
    let step = record_step(
        existing
            .as_ref()
            .map(|v| (v.get("spec").unwrap_or(&Value::Null), v.get("status"))),
        record,
    );
    if step == RecordStep::Fill {
        objects
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": record.status })),
            )
            .await
            .map_err(failed(format!("write the status of {what}")))?;
    }
    tally.say(format!("{what}: {step:?}"));
    Ok(())
}

/// `backup-secrets`: the file, created with mode 0600.
pub async fn run_backup(args: &BackupArgs) -> anyhow::Result<Tally> {
    let client = Client::try_default().await?;
    let (carried, tally) = backup(&client, args.namespace.as_deref()).await?;
    let text = to_yaml(&carried)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&args.output)?;
    file.write_all(text.as_bytes())?;
    Ok(tally)
}

/// `restore-secrets`.
pub async fn run_restore(args: &RestoreArgs) -> anyhow::Result<Tally> {
    let client = Client::try_default().await?;
    let text = std::fs::read_to_string(&args.file)?;
    let carried = from_yaml(&text)?;
    Ok(restore(&client, &carried).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn secret(password: &str) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some("orders-connection".into()),
                namespace: Some("team-a".into()),
                uid: Some("old-uid".into()),
                resource_version: Some("42".into()),
                finalizers: Some(vec!["aura-operator.io/protected".into()]),
                owner_references: Some(vec![OwnerReference {
                    controller: Some(true),
                    uid: "old-owner".into(),
                    ..Default::default()
                }]),
                labels: Some(
                    [(
                        "app.kubernetes.io/managed-by".into(),
                        "aura-operator".into(),
                    )]
                    .into(),
                ),
                ..Default::default()
            },
            data: Some(
                [(
                    "NEO4J_PASSWORD".into(),
                    ByteString(password.as_bytes().to_vec()),
                )]
                .into(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn a_carried_secret_keeps_its_data_and_nothing_of_the_old_cluster() {
        let c = carried_secret(&secret("pw"));
        assert_eq!(c.data, secret("pw").data);
        assert_eq!(
            c.metadata.labels.as_ref().unwrap()["app.kubernetes.io/managed-by"],
            "aura-operator"
        );
        assert_eq!(c.metadata.namespace.as_deref(), Some("team-a"));
        assert!(c.metadata.uid.is_none());
        assert!(c.metadata.resource_version.is_none());
        assert!(c.metadata.owner_references.is_none());
        assert!(c.metadata.finalizers.is_none());
    }

    #[test]
    fn a_secret_already_there_is_never_overwritten() {
        let carried = carried_secret(&secret("pw"));
        let cases = [
            (None, SecretStep::Create),
            (Some(secret("pw")), SecretStep::Same),
            (Some(secret("new")), SecretStep::LeftAsItIs),
        ];
        for (existing, want) in cases {
            assert_eq!(
                secret_step(existing.as_ref(), &carried),
                want,
                "{existing:?}"
            );
        }
    }

    #[test]
    fn a_record_fills_only_an_empty_status_of_the_same_spec() {
        let record = Record {
            api_version: "aura-operator.io/v1beta1".into(),
            kind: "AuraSnapshot".into(),
            metadata: ObjectMeta::default(),
            spec: json!({"instanceRef": {"name": "orders"}}),
            status: json!({"snapshotId": "s1"}),
        };
        let same = json!({"instanceRef": {"name": "orders"}});
        let other = json!({"instanceRef": {"name": "billing"}});
        let said = json!({"snapshotId": "s2"});
        let only_conditions = json!({"observedGeneration": 1, "conditions": []});
        let cases = [
            (None, RecordStep::NoObject),
            (Some((&same, None)), RecordStep::Fill),
            (Some((&same, Some(&only_conditions))), RecordStep::Fill),
            (Some((&same, Some(&said))), RecordStep::AlreadyRecorded),
            (Some((&other, None)), RecordStep::OtherSpec),
        ];
        for (existing, want) in cases {
            assert_eq!(record_step(existing, &record), want, "{existing:?}");
        }
    }

    #[test]
    fn the_file_reads_back_what_was_written() {
        let snapshot: AuraSnapshot = serde_json::from_value(json!({
            "apiVersion": "aura-operator.io/v1beta1", "kind": "AuraSnapshot",
            "metadata": {"name": "nightly", "namespace": "team-a", "uid": "u", "generation": 3},
            "spec": {"instanceRef": {"name": "orders"}},
            "status": {"observedGeneration": 3, "instanceId": "0a1b2c3d", "snapshotId": "s1"}
        }))
        .unwrap();
        let fresh: AuraSnapshot = serde_json::from_value(json!({
            "apiVersion": "aura-operator.io/v1beta1", "kind": "AuraSnapshot",
            "metadata": {"name": "new"}, "spec": {"instanceRef": {"name": "orders"}}
        }))
        .unwrap();
        assert!(
            record_of(&fresh).is_none(),
            "nothing recorded, nothing carried"
        );
        let record = record_of(&snapshot).unwrap();
        assert_eq!(
            record.status,
            json!({"instanceId": "0a1b2c3d", "snapshotId": "s1"})
        );
        assert!(record.metadata.uid.is_none());
        let carried = vec![
            Carried::Secret(Box::new(carried_secret(&secret("pw")))),
            Carried::AuraSnapshot(Box::new(record.clone())),
        ];
        let text = to_yaml(&carried).unwrap();
        assert!(text.contains("kind: Secret") && text.contains("apiVersion: v1"));
        let back = from_yaml(&text).unwrap();
        assert!(matches!(&back[0], Carried::Secret(s) if s.data == secret("pw").data));
        assert!(matches!(&back[1], Carried::AuraSnapshot(r) if **r == record));
    }
}
