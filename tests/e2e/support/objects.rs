//! Helpers generic over the kind: conditions read from `status.conditions` of
//! any object (through its JSON, so every kind is read the same way), and
//! waits on an object of any kind.

use std::fmt::Debug;

use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{WAIT, eventually};

/// What the waits need of a kind.
pub trait Object:
    Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned
{
}
impl<K> Object for K where
    K: Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned
{
}

/// The kind's plural, as the apiserver and RBAC name it.
pub fn plural<K: Resource<DynamicType = ()>>() -> String {
    K::plural(&()).into_owned()
}

/// (status, reason, message) of the condition `type_` in `status.conditions`
/// of `obj`, whatever its kind.
pub fn condition<K: Serialize>(obj: &K, type_: &str) -> Option<(String, String, String)> {
    let obj = serde_json::to_value(obj).ok()?;
    let field = |c: &Value, name: &str| c[name].as_str().unwrap_or_default().to_string();
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .map(|c| (field(c, "status"), field(c, "reason"), field(c, "message")))
}

/// Whether the condition `type_` of `obj` is True.
pub fn is_true<K: Serialize>(obj: &K, type_: &str) -> bool {
    condition(obj, type_).is_some_and(|c| c.0 == "True")
}

/// The reason of a Stalled=True condition.
pub fn stalled_reason<K: Serialize>(obj: &K) -> Option<String> {
    condition(obj, "Stalled")
        .filter(|c| c.0 == "True")
        .map(|c| c.1)
}

/// The reason of a Reconciling=True condition.
pub fn reconciling_reason<K: Serialize>(obj: &K) -> Option<String> {
    condition(obj, "Reconciling")
        .filter(|c| c.0 == "True")
        .map(|c| c.1)
}

/// Creates the object `manifest` describes in `api`.
pub async fn create<K: Object>(api: &Api<K>, manifest: impl Into<Value>) -> K {
    let manifest = manifest.into();
    let what = format!("{} {}", manifest["kind"], manifest["metadata"]["name"]);
    let obj: K = serde_json::from_value(manifest)
        .unwrap_or_else(|e| panic!("{what} does not fit its type: {e}"));
    api.create(&PostParams::default(), &obj)
        .await
        .unwrap_or_else(|e| panic!("creating {what}: {e}"))
}

/// Waits until `check` returns `Some` for the object `name` of `api`,
/// returning what it returned.
pub async fn wait_until<K: Object, T>(
    api: &Api<K>,
    name: &str,
    what: &str,
    check: impl Fn(&K) -> Option<T>,
) -> T {
    let check = &check;
    let what = format!("{} {name}: {what}", K::kind(&()));
    eventually(&what, WAIT, || {
        let api = api.clone();
        async move {
            api.get_opt(name)
                .await
                .ok()
                .flatten()
                .and_then(|o| check(&o))
        }
    })
    .await
}

/// Waits until `check` holds for the object `name` of `api`, returning it.
pub async fn wait_for<K: Object>(
    api: &Api<K>,
    name: &str,
    what: &str,
    check: impl Fn(&K) -> bool,
) -> K {
    wait_until(api, name, what, |o| check(o).then(|| o.clone())).await
}

/// Waits until the object is Ready=True, returning it.
pub async fn wait_ready<K: Object>(api: &Api<K>, name: &str) -> K {
    wait_for(api, name, "Ready=True", |o| is_true(o, "Ready")).await
}

/// Waits until the object `name` is gone from `api`.
pub async fn wait_gone<K: Object>(api: &Api<K>, name: &str) {
    let what = format!("{} {name} to be gone", K::kind(&()));
    eventually(&what, WAIT, || {
        let api = api.clone();
        async move { matches!(api.get_opt(name).await, Ok(None)).then_some(()) }
    })
    .await;
}

/// The finalizers of `obj` include `finalizer`.
pub fn holds<K: Resource>(obj: &K, finalizer: &str) -> bool {
    obj.finalizers().iter().any(|f| f == finalizer)
}

/// Sets an annotation on the object `name` (a nudge that wakes its controller).
pub async fn annotate<K: Object>(api: &Api<K>, name: &str, key: &str, value: &str) {
    api.patch(
        name,
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({"metadata": {"annotations": {key: value}}})),
    )
    .await
    .unwrap_or_else(|e| panic!("annotating {name}: {e}"));
}
