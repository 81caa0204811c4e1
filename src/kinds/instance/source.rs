//! A clone's source (`spec.source`): the Aura ids the create carries, once the
//! source instance and snapshot exist. `view` is pure; `resolve` reads the
//! watch store and the AuraSnapshot it names.

use kube::ResourceExt;
use kube::api::Api;

use crate::api::{AuraInstance, AuraSnapshot, InstanceSource, SnapshotProgress};
use crate::kinds::shared::views::InstanceView;
use crate::reconciler::{Context, ReconcileError, Result};

/// What a clone's source comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceView {
    /// The ids the create sends.
    Ready {
        instance_id: String,
        snapshot_id: Option<String>,
    },
    /// The source instance or snapshot is still being made.
    Waiting(String),
    /// A person must act (a name that does not exist, a failed snapshot,
    /// a snapshot of another instance).
    Problem(String),
}

/// The source, from the AuraInstance `instanceRef` names (`None`: not
/// there) and the AuraSnapshot `snapshotRef` names (`None`: not there).
pub fn view(
    source: &InstanceSource,
    instance: Option<&AuraInstance>,
    snapshot: Option<&AuraSnapshot>,
) -> SourceView {
    let instance_id = match (&source.instance_id, &source.instance_ref) {
        (Some(id), _) => id.clone(),
        (None, Some(r)) => match instance {
            None => {
                return SourceView::Problem(format!(
                    "AuraInstance {} (spec.source.instanceRef) does not exist in this namespace",
                    r.name
                ));
            }
            Some(o) => match o.status.as_ref().and_then(|s| s.instance_id.clone()) {
                Some(id) => id,
                None => {
                    return SourceView::Waiting(format!(
                        "waiting for AuraInstance {} (spec.source.instanceRef) to have an Aura instance",
                        r.name
                    ));
                }
            },
        },
        (None, None) => {
            return SourceView::Problem("spec.source names no instance".into());
        }
    };
    let snapshot_id = match (&source.snapshot_id, &source.snapshot_ref) {
        (Some(id), _) => Some(id.clone()),
        (None, None) => None,
        (None, Some(r)) => {
            let Some(snap) = snapshot else {
                return SourceView::Problem(format!(
                    "AuraSnapshot {} (spec.source.snapshotRef) does not exist in this namespace",
                    r.name
                ));
            };
            let status = snap.status.clone().unwrap_or_default();
            if let Some(of) = status.instance_id.as_deref()
                && of != instance_id
            {
                return SourceView::Problem(format!(
                    "AuraSnapshot {} is a snapshot of instance {of}, not of the source instance {instance_id}",
                    r.name
                ));
            }
            match status.progress() {
                SnapshotProgress::Completed => match status.snapshot_id {
                    Some(id) => Some(id),
                    None => {
                        return SourceView::Waiting(format!(
                            "waiting for AuraSnapshot {} to record its id",
                            r.name
                        ));
                    }
                },
                SnapshotProgress::Failed => {
                    return SourceView::Problem(format!(
                        "AuraSnapshot {} (spec.source.snapshotRef) failed; it cannot seed a clone",
                        r.name
                    ));
                }
                SnapshotProgress::Taking => {
                    return SourceView::Waiting(format!(
                        "waiting for AuraSnapshot {} (spec.source.snapshotRef) to complete",
                        r.name
                    ));
                }
            }
        }
    };
    SourceView::Ready {
        instance_id,
        snapshot_id,
    }
}

/// Reads what `spec.source` names; `None` without a source.
pub async fn resolve(
    obj: &AuraInstance,
    ctx: &Context<AuraInstance>,
) -> Result<Option<SourceView>> {
    let Some(source) = &obj.spec.source else {
        return Ok(None);
    };
    let ns = obj.namespace().unwrap_or_default();
    let instance = source
        .instance_ref
        .as_ref()
        .and_then(|r| ctx.find(&ns, &r.name));
    let snapshot = match &source.snapshot_ref {
        Some(r) => Api::<AuraSnapshot>::namespaced(ctx.client.clone(), &ns)
            .get_opt(&r.name)
            .await
            .map_err(|e| ReconcileError::kube("read the clone's source AuraSnapshot", e))?,
        None => None,
    };
    Ok(Some(view(source, instance.as_deref(), snapshot.as_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{AuraInstanceStatus, AuraSnapshotSpec, AuraSnapshotStatus, LocalRef};

    fn local(name: &str) -> Option<LocalRef> {
        Some(LocalRef { name: name.into() })
    }

    fn prod(id: Option<&str>) -> AuraInstance {
        let mut o: AuraInstance = serde_json::from_value(serde_json::json!({
            "apiVersion": "aura-operator.io/v1alpha1", "kind": "AuraInstance",
            "metadata": {"name": "prod", "namespace": "a"},
            "spec": {"cloudProvider": "gcp", "region": "europe-west1", "type": "professional-db", "memory": "2GB"}
        }))
        .unwrap();
        o.status = Some(AuraInstanceStatus {
            instance_id: id.map(Into::into),
            ..Default::default()
        });
        o
    }

    fn snap(of: &str, status: &str, id: Option<&str>) -> AuraSnapshot {
        let mut s = AuraSnapshot::new(
            "nightly",
            AuraSnapshotSpec {
                instance_ref: LocalRef {
                    name: "prod".into(),
                },
            },
        );
        s.status = Some(AuraSnapshotStatus {
            instance_id: Some(of.into()),
            snapshot_id: id.map(Into::into),
            aura_status: Some(status.into()),
            ..Default::default()
        });
        s
    }

    fn ready(instance: &str, snapshot: Option<&str>) -> SourceView {
        SourceView::Ready {
            instance_id: instance.into(),
            snapshot_id: snapshot.map(Into::into),
        }
    }

    #[test]
    fn sources_resolve_to_ids_or_say_what_they_wait_for() {
        let by_ref = InstanceSource {
            instance_ref: local("prod"),
            ..Default::default()
        };
        let by_id = InstanceSource {
            instance_id: Some("0a1b2c3d".into()),
            snapshot_id: Some("s1".into()),
            ..Default::default()
        };
        let with_snap = InstanceSource {
            instance_ref: local("prod"),
            snapshot_ref: local("nightly"),
            ..Default::default()
        };
        let running = prod(Some("0a1b2c3d"));
        let creating = prod(None);
        let done = snap("0a1b2c3d", "Completed", Some("s9"));
        let taking = snap("0a1b2c3d", "InProgress", Some("s9"));
        let failed = snap("0a1b2c3d", "Failed", Some("s9"));
        let other = snap("ffffffff", "Completed", Some("s9"));
        type Row<'a> = (
            &'a str,
            &'a InstanceSource,
            Option<&'a AuraInstance>,
            Option<&'a AuraSnapshot>,
            fn(&SourceView) -> bool,
        );
        let rows: Vec<Row> = vec![
            ("by id", &by_id, None, None, |v| {
                *v == ready("0a1b2c3d", Some("s1"))
            }),
            ("by ref", &by_ref, Some(&running), None, |v| {
                *v == ready("0a1b2c3d", None)
            }),
            (
                "ref missing",
                &by_ref,
                None,
                None,
                |v| matches!(v, SourceView::Problem(m) if m.contains("prod")),
            ),
            ("ref creating", &by_ref, Some(&creating), None, |v| {
                matches!(v, SourceView::Waiting(_))
            }),
            (
                "snapshot done",
                &with_snap,
                Some(&running),
                Some(&done),
                |v| *v == ready("0a1b2c3d", Some("s9")),
            ),
            (
                "snapshot taking",
                &with_snap,
                Some(&running),
                Some(&taking),
                |v| matches!(v, SourceView::Waiting(_)),
            ),
            (
                "snapshot failed",
                &with_snap,
                Some(&running),
                Some(&failed),
                |v| matches!(v, SourceView::Problem(_)),
            ),
            (
                "snapshot missing",
                &with_snap,
                Some(&running),
                None,
                |v| matches!(v, SourceView::Problem(m) if m.contains("nightly")),
            ),
            (
                "snapshot of another",
                &with_snap,
                Some(&running),
                Some(&other),
                |v| matches!(v, SourceView::Problem(m) if m.contains("ffffffff")),
            ),
        ];
        for (what, source, instance, snapshot, check) in rows {
            let v = view(source, instance, snapshot);
            assert!(check(&v), "{what}: {v:?}");
        }
    }
}
