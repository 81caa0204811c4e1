//! A clone's source (`spec.source`): the Aura ids the create carries, once the
//! source instance and snapshot exist. `view` is pure; `resolve` reads the
//! watch store and the AuraSnapshot it names.

use kube::ResourceExt;
use kube::api::Api;

use crate::api::{AuraInstance, AuraSnapshot, InstanceSource, SnapshotProgress};
use crate::aura::{AuraClient, AuraErrorKind, Reachable};
use crate::kinds::shared::access;
use crate::kinds::shared::views::InstanceView;
use crate::reconciler::{Context, ReconcileError, Result};

/// What a clone's source comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceView {
    /// The ids the create sends: an instance this namespace may read.
    Ready {
        instance_id: Reachable,
        snapshot_id: Option<String>,
    },
    /// The source instance or snapshot is still being made.
    Waiting(String),
    /// A person must act (a name that does not exist, a failed snapshot,
    /// a snapshot of another instance).
    Problem(String),
    /// The source is another namespace's, or nobody's without the project's
    /// consent (DESIGN 4.13).
    NotAllowed(String),
}

/// The ids a source names, before the claims say whether it may be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Candidate {
    Ready {
        instance_id: String,
        snapshot_id: Option<String>,
    },
    Waiting(String),
    Problem(String),
}

/// The source, from the instance the AuraInstance `instanceRef` names holds
/// (`None`: no such AuraInstance; `Some(None)`: it holds none yet) and the
/// AuraSnapshot `snapshotRef` names (`None`: not there).
pub fn view(
    source: &InstanceSource,
    instance: Option<Option<&str>>,
    snapshot: Option<&AuraSnapshot>,
) -> Candidate {
    let instance_id = match (&source.instance_id, &source.instance_ref) {
        (Some(id), _) => id.clone(),
        (None, Some(r)) => match instance {
            None => {
                return Candidate::Problem(format!(
                    "AuraInstance {} (spec.source.instanceRef) does not exist in this namespace",
                    r.name
                ));
            }
            Some(Some(id)) => id.to_string(),
            Some(None) => {
                return Candidate::Waiting(format!(
                    "waiting for AuraInstance {} (spec.source.instanceRef) to have an Aura instance",
                    r.name
                ));
            }
        },
        (None, None) => {
            return Candidate::Problem("spec.source names no instance".into());
        }
    };
    let snapshot_id = match (&source.snapshot_id, &source.snapshot_ref) {
        (Some(id), _) => Some(id.clone()),
        (None, None) => None,
        (None, Some(r)) => {
            let Some(snap) = snapshot else {
                return Candidate::Problem(format!(
                    "AuraSnapshot {} (spec.source.snapshotRef) does not exist in this namespace",
                    r.name
                ));
            };
            let status = snap.status.clone().unwrap_or_default();
            if let Some(of) = status.instance_id.as_deref()
                && of != instance_id
            {
                return Candidate::Problem(format!(
                    "AuraSnapshot {} is a snapshot of instance {of}, not of the source instance {instance_id}",
                    r.name
                ));
            }
            match status.progress() {
                SnapshotProgress::Completed => match status.snapshot_id {
                    Some(id) => Some(id),
                    None => {
                        return Candidate::Waiting(format!(
                            "waiting for AuraSnapshot {} to record its id",
                            r.name
                        ));
                    }
                },
                SnapshotProgress::Failed => {
                    return Candidate::Problem(format!(
                        "AuraSnapshot {} (spec.source.snapshotRef) failed; it cannot seed a clone",
                        r.name
                    ));
                }
                SnapshotProgress::Taking => {
                    return Candidate::Waiting(format!(
                        "waiting for AuraSnapshot {} (spec.source.snapshotRef) to complete",
                        r.name
                    ));
                }
            }
        }
    };
    Candidate::Ready {
        instance_id,
        snapshot_id,
    }
}

/// Reads what `spec.source` names, and asks the claims whether this
/// namespace may read it; `None` without a source.
pub async fn resolve(
    obj: &AuraInstance,
    ctx: &Context<AuraInstance>,
    aura: &AuraClient,
) -> Result<Option<SourceView>> {
    let Some(source) = &obj.spec.source else {
        return Ok(None);
    };
    let ns = obj.namespace().unwrap_or_default();
    let instance = match source.instance_ref.as_ref().map(|r| ctx.find(&ns, &r.name)) {
        Some(Some(o)) => Some(ctx.held_by(&o).await?),
        Some(None) | None => None,
    };
    let snapshot = match &source.snapshot_ref {
        Some(r) => Api::<AuraSnapshot>::namespaced(ctx.client.clone(), &ns)
            .get_opt(&r.name)
            .await
            .map_err(|e| ReconcileError::kube("read the clone's source AuraSnapshot", e))?,
        None => None,
    };
    Ok(Some(
        match view(
            source,
            instance.as_ref().map(Option::as_deref),
            snapshot.as_ref(),
        ) {
            Candidate::Ready {
                instance_id,
                snapshot_id,
            } => {
                let holder = ctx.holder_now(&instance_id).await?;
                // An instance nobody holds may be gone: that is said as such,
                // not as a refusal (nobody's data is read by asking).
                if holder.is_none() && gone(aura, &instance_id).await? {
                    return Ok(Some(SourceView::Problem(format!(
                        "the clone's source instance {instance_id} does not exist in Aura"
                    ))));
                }
                let unheld = ctx.unheld_sources_allowed(obj);
                match access::rule(&instance_id, holder.as_ref(), &ns, unheld) {
                    Ok(instance_id) => SourceView::Ready {
                        instance_id,
                        snapshot_id,
                    },
                    Err(refused) => SourceView::NotAllowed(refused.message()),
                }
            }
            Candidate::Waiting(m) => SourceView::Waiting(m),
            Candidate::Problem(m) => SourceView::Problem(m),
        },
    ))
}

/// Whether Aura answers 404 for `id`.
async fn gone(aura: &AuraClient, id: &str) -> Result<bool> {
    match aura.get_instance(id).await {
        Ok(_) => Ok(false),
        Err(e) if e.kind() == AuraErrorKind::NotFound => Ok(true),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{AuraSnapshotSpec, AuraSnapshotStatus, LocalRef};

    fn local(name: &str) -> Option<LocalRef> {
        Some(LocalRef { name: name.into() })
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

    fn ready(instance: &str, snapshot: Option<&str>) -> Candidate {
        Candidate::Ready {
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
        // The instance the AuraInstance prod holds the claim of.
        let running = Some("0a1b2c3d");
        let creating = None;
        let done = snap("0a1b2c3d", "Completed", Some("s9"));
        let taking = snap("0a1b2c3d", "InProgress", Some("s9"));
        let failed = snap("0a1b2c3d", "Failed", Some("s9"));
        let other = snap("ffffffff", "Completed", Some("s9"));
        type Row<'a> = (
            &'a str,
            &'a InstanceSource,
            Option<Option<&'a str>>,
            Option<&'a AuraSnapshot>,
            fn(&Candidate) -> bool,
        );
        let rows: Vec<Row> = vec![
            ("by id", &by_id, None, None, |v| {
                *v == ready("0a1b2c3d", Some("s1"))
            }),
            ("by ref", &by_ref, Some(running), None, |v| {
                *v == ready("0a1b2c3d", None)
            }),
            (
                "ref missing",
                &by_ref,
                None,
                None,
                |v| matches!(v, Candidate::Problem(m) if m.contains("prod")),
            ),
            ("ref creating", &by_ref, Some(creating), None, |v| {
                matches!(v, Candidate::Waiting(_))
            }),
            (
                "snapshot done",
                &with_snap,
                Some(running),
                Some(&done),
                |v| *v == ready("0a1b2c3d", Some("s9")),
            ),
            (
                "snapshot taking",
                &with_snap,
                Some(running),
                Some(&taking),
                |v| matches!(v, Candidate::Waiting(_)),
            ),
            (
                "snapshot failed",
                &with_snap,
                Some(running),
                Some(&failed),
                |v| matches!(v, Candidate::Problem(_)),
            ),
            (
                "snapshot missing",
                &with_snap,
                Some(running),
                None,
                |v| matches!(v, Candidate::Problem(m) if m.contains("nightly")),
            ),
            (
                "snapshot of another",
                &with_snap,
                Some(running),
                Some(&other),
                |v| matches!(v, Candidate::Problem(m) if m.contains("ffffffff")),
            ),
        ];
        for (what, source, instance, snapshot, check) in rows {
            let v = view(source, instance, snapshot);
            assert!(check(&v), "{what}: {v:?}");
        }
    }
}
