//! Manifests of the operator's kinds, built the way the tests talk about
//! them: `instance("orders").memory("16GB").project("ClusterAuraProject",
//! "shared")`, `snapshot("nightly").of("orders")`,
//! `restore("rollback").of("orders").snapshot_ref("nightly")`,
//! `project("team").credentials("aura-api")`,
//! `cluster_project("shared").credentials("aura-api", ns).allow_names(&[ns])`.
//!
//! Each builder is a manifest (JSON) under construction: [`Fixture::manifest`]
//! gives it, [`Fixture::object`] its typed object, and
//! [`objects::create`](super::objects::create) or `Harness::create` take it
//! as it is. `spec(json!({...}))` merges any other field (`null` removes one).

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::cluster::TEST_LABEL;
use super::harness::TENANT_B;

/// A manifest under construction.
pub trait Fixture: Sized {
    /// The manifest so far.
    fn manifest(self) -> Value;

    /// The manifest as the kind's type; panics if it does not fit.
    fn object<K: DeserializeOwned>(self) -> K {
        let manifest = self.manifest();
        serde_json::from_value(manifest.clone())
            .unwrap_or_else(|e| panic!("{manifest} does not fit its type: {e}"))
    }
}

/// Merges `fields` into the object `into`: a `null` removes the field.
fn merge(into: &mut Value, fields: Value) {
    let Value::Object(fields) = fields else {
        panic!("spec fields must be an object: {fields}")
    };
    let into = into.as_object_mut().expect("an object");
    for (k, v) in fields {
        if v.is_null() {
            into.remove(&k);
        } else {
            into.insert(k, v);
        }
    }
}

fn base(kind: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": api_version(kind), "kind": kind, "metadata": {"name": name}, "spec": spec})
}

/// The apiVersion the operator's types speak for `kind` (the storage version).
pub fn api_version(kind: &str) -> String {
    let info = aura_operator::api::kind_info(kind).expect("a kind of the list");
    format!("aura-operator.io/{}", info.crd().spec.versions[0].name)
}

macro_rules! fixture {
    ($name:ident) => {
        impl Fixture for $name {
            fn manifest(self) -> Value {
                self.0
            }
        }

        impl From<$name> for Value {
            fn from(f: $name) -> Value {
                f.0
            }
        }

        impl $name {
            /// Merges other spec fields (`null` removes one).
            pub fn spec(mut self, fields: Value) -> Self {
                merge(&mut self.0["spec"], fields);
                self
            }

            /// Adds a finalizer, as if an operator had put it there.
            pub fn finalizer(mut self, finalizer: &str) -> Self {
                let meta = &mut self.0["metadata"];
                match meta["finalizers"].as_array_mut() {
                    Some(list) => list.push(json!(finalizer)),
                    None => meta["finalizers"] = json!([finalizer]),
                }
                self
            }

            /// Sets a label.
            pub fn label(mut self, key: &str, value: &str) -> Self {
                self.0["metadata"]["labels"][key] = json!(value);
                self
            }
        }
    };
}

/// An AuraInstance: the Aura docs' example (gcp, europe-west1,
/// enterprise-db, version 5, 8GB) in [`TENANT_B`], with the credentials
/// Secret `aura-api`, labelled `team: a`.
pub fn instance(name: &str) -> Instance {
    Instance(base(
        "AuraInstance",
        name,
        json!({
            "cloudProvider": "gcp", "region": "europe-west1", "type": "enterprise-db",
            "version": "5", "memory": "8GB", "tenantId": TENANT_B,
            "credentialsSecretRef": {"name": "aura-api"},
        }),
    ))
    .label("team", "a")
}

/// See [`instance`].
pub struct Instance(Value);
fixture!(Instance);

impl Instance {
    pub fn memory(self, memory: &str) -> Self {
        self.spec(json!({ "memory": memory }))
    }

    /// `deletionPolicy`: Delete or Orphan.
    pub fn deletion_policy(self, policy: &str) -> Self {
        self.spec(json!({ "deletionPolicy": policy }))
    }

    /// The credentials Secret `secret` of the namespace.
    pub fn credentials(self, secret: &str) -> Self {
        self.spec(json!({"credentialsSecretRef": {"name": secret}}))
    }

    /// Credentials and tenant from a project (`kind` AuraProject or
    /// ClusterAuraProject) instead of a Secret of its own.
    pub fn project(self, kind: &str, name: &str) -> Self {
        self.spec(json!({
            "credentialsSecretRef": null, "tenantId": null,
            "projectRef": {"kind": kind, "name": name},
        }))
    }

    /// Neither credentials nor tenant: the ClusterAuraProject `default`'s.
    pub fn default_project(self) -> Self {
        self.spec(json!({"credentialsSecretRef": null, "tenantId": null}))
    }
}

/// The AuraInstance manifest [`instance`] makes, with `spec`'s fields merged
/// (`null` removes one): `manifest("db", json!({"memory": "16GB"}))`.
pub fn manifest(name: &str, spec: Value) -> Value {
    instance(name).spec(spec).manifest()
}

/// An AuraSnapshot; name its instance with [`Snapshot::of`].
pub fn snapshot(name: &str) -> Snapshot {
    Snapshot(base("AuraSnapshot", name, json!({})))
}

/// See [`snapshot`].
pub struct Snapshot(Value);
fixture!(Snapshot);

impl Snapshot {
    /// A snapshot of the AuraInstance `instance`.
    pub fn of(self, instance: &str) -> Self {
        self.spec(json!({"instanceRef": {"name": instance}}))
    }
}

/// An AuraDatabaseUser; name its instance with [`DatabaseUser::of`].
pub fn database_user(name: &str) -> DatabaseUser {
    DatabaseUser(base("AuraDatabaseUser", name, json!({})))
}

/// See [`database_user`].
pub struct DatabaseUser(Value);
fixture!(DatabaseUser);

impl DatabaseUser {
    /// A user in the database of the AuraInstance `instance`.
    pub fn of(self, instance: &str) -> Self {
        self.spec(json!({"instanceRef": {"name": instance}}))
    }
}

/// An AuraCustomerManagedKey for the instances of [`instance`] (gcp,
/// europe-west1, enterprise-db, tenant B, the Secret `aura-api`).
pub fn customer_managed_key(name: &str) -> CustomerManagedKey {
    CustomerManagedKey(base(
        "AuraCustomerManagedKey",
        name,
        json!({
            "name": name, "cloudProvider": "gcp", "region": "europe-west1",
            "instanceType": "enterprise-db", "tenantId": TENANT_B,
            "keyId": format!("projects/p/locations/europe-west1/keyRings/r/cryptoKeys/{name}"),
            "credentialsSecretRef": {"name": "aura-api"},
        }),
    ))
}

/// See [`customer_managed_key`].
pub struct CustomerManagedKey(Value);
fixture!(CustomerManagedKey);

/// An AuraGraphAnalyticsSession of 8GB attached to the AuraInstance
/// `instance`; [`Session::standalone`] makes it one of its own.
pub fn session(name: &str, instance: &str) -> Session {
    Session(base(
        "AuraGraphAnalyticsSession",
        name,
        json!({"instanceRef": {"name": instance}, "memory": "8GB"}),
    ))
}

/// See [`session`].
pub struct Session(Value);
fixture!(Session);

impl Session {
    /// Standalone in gcp europe-west1 of tenant B, with the Secret `aura-api`.
    pub fn standalone(self) -> Self {
        self.spec(json!({
            "instanceRef": null, "cloudProvider": "gcp", "region": "europe-west1",
            "tenantId": TENANT_B, "credentialsSecretRef": {"name": "aura-api"},
        }))
    }
}

/// An AuraIPFilter allowing 203.0.113.0/24 into the AuraInstances
/// `instances` of the namespace, with the Secret `aura-api`.
pub fn ip_filter(name: &str, instances: &[&str]) -> IpFilter {
    let refs: Vec<Value> = instances.iter().map(|i| json!({"name": i})).collect();
    IpFilter(base(
        "AuraIPFilter",
        name,
        json!({
            "name": name,
            "allowList": [{"cidr": "203.0.113.0/24", "description": "office"}],
            "instanceRefs": refs,
            "credentialsSecretRef": {"name": "aura-api"},
        }),
    ))
}

/// See [`ip_filter`].
pub struct IpFilter(Value);
fixture!(IpFilter);

/// An AuraProjectMember: the person `email` with `role` in the Aura project
/// of the ClusterAuraProject `project`.
pub fn project_member(name: &str, project: &str, email: &str, role: &str) -> Member {
    let (key, value) = TEST_LABEL;
    Member(base(
        "AuraProjectMember",
        name,
        json!({"projectRef": {"name": project}, "email": email, "role": role}),
    ))
    .label(key, value)
}

/// An AuraOrganizationMember: the person `email` with `role` in the
/// organization of the ClusterAuraProject `project`.
pub fn organization_member(name: &str, project: &str, email: &str, role: &str) -> Member {
    let (key, value) = TEST_LABEL;
    Member(base(
        "AuraOrganizationMember",
        name,
        json!({"projectRef": {"name": project}, "email": email, "role": role}),
    ))
    .label(key, value)
}

/// See [`project_member`].
pub struct Member(Value);
fixture!(Member);

/// An AuraRestore; name its target with [`Restore::of`] and its source with
/// the other methods (several make one source: an instance and one of its
/// snapshots).
pub fn restore(name: &str) -> Restore {
    Restore(base("AuraRestore", name, json!({"source": {}})))
}

/// See [`restore`].
pub struct Restore(Value);
fixture!(Restore);

impl Restore {
    /// Restores into the AuraInstance `target`.
    pub fn of(self, target: &str) -> Self {
        self.spec(json!({"instanceRef": {"name": target}}))
    }

    /// The source: the AuraSnapshot `snapshot`.
    pub fn snapshot_ref(mut self, snapshot: &str) -> Self {
        self.0["spec"]["source"]["snapshotRef"] = json!({ "name": snapshot });
        self
    }

    /// The source: the AuraInstance `instance` (its data now, or one of its
    /// snapshots with [`Restore::snapshot_ref`]).
    pub fn instance_ref(mut self, instance: &str) -> Self {
        self.0["spec"]["source"]["instanceRef"] = json!({ "name": instance });
        self
    }

    /// The source: an Aura snapshot id.
    pub fn snapshot_id(mut self, id: &str) -> Self {
        self.0["spec"]["source"]["snapshotId"] = json!(id);
        self
    }
}

/// An AuraProject; its Secret with [`Project::credentials`].
pub fn project(name: &str) -> Project {
    Project(base("AuraProject", name, json!({})))
}

/// See [`project`].
pub struct Project(Value);
fixture!(Project);

impl Project {
    /// The credentials Secret `secret` of the project's namespace.
    pub fn credentials(self, secret: &str) -> Self {
        self.spec(json!({"credentialsSecretRef": {"name": secret}}))
    }

    pub fn tenant(self, tenant: &str) -> Self {
        self.spec(json!({ "tenantId": tenant }))
    }
}

/// A ClusterAuraProject, labelled as a test's (so that
/// [`cluster`](super::cluster) can remove it after a failed test); it allows
/// no namespace until told.
pub fn cluster_project(name: &str) -> ClusterProject {
    let (key, value) = TEST_LABEL;
    ClusterProject(base(
        "ClusterAuraProject",
        name,
        json!({"allowedNamespaces": {}}),
    ))
    .label(key, value)
}

/// See [`cluster_project`].
pub struct ClusterProject(Value);
fixture!(ClusterProject);

impl ClusterProject {
    /// The credentials Secret `secret` in `namespace`.
    pub fn credentials(self, secret: &str, namespace: &str) -> Self {
        self.spec(json!({"credentialsSecretRef": {"name": secret, "namespace": namespace}}))
    }

    pub fn tenant(self, tenant: &str) -> Self {
        self.spec(json!({ "tenantId": tenant }))
    }

    /// Allows these namespaces by name.
    pub fn allow_names(mut self, names: &[&str]) -> Self {
        self.0["spec"]["allowedNamespaces"]["names"] = json!(names);
        self
    }

    /// Allows the namespaces this label selector matches.
    pub fn allow_selector(mut self, selector: Value) -> Self {
        self.0["spec"]["allowedNamespaces"]["selector"] = selector;
        self
    }
}

#[cfg(test)]
mod tests {
    use aura_operator::api::{
        AuraInstance, AuraProject, AuraRestore, AuraSnapshot, ClusterAuraProject,
    };

    use super::*;

    #[test]
    fn every_builder_makes_an_object_of_its_kind() {
        let i: AuraInstance = instance("orders")
            .memory("16GB")
            .project("ClusterAuraProject", "shared")
            .object();
        assert_eq!(i.spec.memory.to_string(), "16GB");
        assert!(i.spec.credentials_secret_ref.is_none() && i.spec.tenant_id.is_none());
        assert_eq!(i.spec.project_ref.expect("projectRef").name, "shared");
        let s: AuraSnapshot = snapshot("nightly").of("orders").object();
        assert_eq!(s.spec.instance_ref.name, "orders");
        let r: AuraRestore = restore("copy")
            .of("test")
            .instance_ref("prod")
            .snapshot_ref("nightly")
            .object();
        assert_eq!(r.spec.instance_ref.name, "test");
        let source = serde_json::to_value(&r.spec.source).unwrap();
        assert_eq!(source["instanceRef"]["name"], "prod");
        assert_eq!(source["snapshotRef"]["name"], "nightly");
        let p: AuraProject = project("team")
            .credentials("aura-api")
            .tenant(TENANT_B)
            .object();
        assert_eq!(p.spec.credentials_secret_ref.name, "aura-api");
        let c: ClusterAuraProject = cluster_project("shared")
            .credentials("aura-api", "ops")
            .allow_names(&["team-a"])
            .finalizer("x/y")
            .object();
        assert_eq!(c.spec.allowed_namespaces.names, ["team-a"]);
        assert_eq!(c.metadata.finalizers, Some(vec!["x/y".to_string()]));
        assert_eq!(
            c.metadata
                .labels
                .unwrap_or_default()
                .get(TEST_LABEL.0)
                .map(String::as_str),
            Some(TEST_LABEL.1)
        );
    }

    #[test]
    fn spec_fields_merge_and_null_removes() {
        let m = manifest("db", json!({"memory": "16GB", "tenantId": null}));
        assert_eq!(m["spec"]["memory"], "16GB");
        assert!(m["spec"].get("tenantId").is_none());
        assert_eq!(m["spec"]["region"], "europe-west1");
        assert_eq!(m["metadata"]["labels"]["team"], "a");
    }
}
