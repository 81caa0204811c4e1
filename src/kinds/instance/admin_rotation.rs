//! `spec.adminPasswordRotation` and the `aura-operator.io/rotate`
//! annotation: the admin password changed in place (there is one admin
//! user), crash-safe. The new password is written to a Secret the operator
//! owns (`<connection Secret>.admin-rotation`) before the database is told;
//! after a crash at any step, the next pass asks the database which of the
//! two passwords it accepts and converges on it, so the connection Secret is
//! never left with a password the database refuses. `plan` and `resume` are
//! pure; `run` is the I/O.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::Api;
use kube::{Resource, ResourceExt};

use super::act::apply_secret;
use super::observe::Observed;
use super::secret;
use crate::api::{AuraInstance, AuraInstanceStatus, ROTATE_ANNOTATION};
use crate::kinds::shared::{connection, cron};
use crate::query_api::Verdict;
use crate::query_api::admin::{self, Password};
use crate::reconciler::{Context, ReconcileError, Result};

type Ctx = Context<AuraInstance>;

/// The key of the new password in the rotation's Secret.
const NEW_PASSWORD_KEY: &str = "NEW_PASSWORD";

/// The name of the Secret that holds a rotation's new password until it is in place.
pub fn pending_name(connection_secret: &str) -> String {
    format!("{connection_secret}.admin-rotation")
}

/// Whether a rotation is asked for now.
pub fn due(obj: &AuraInstance, status: &AuraInstanceStatus, now: Timestamp) -> Due {
    let requested = obj
        .annotations()
        .get(ROTATE_ANNOTATION)
        .filter(|v| !v.is_empty());
    if requested.is_some_and(|r| status.admin_rotate_requested.as_ref() != Some(r)) {
        return Due::Now;
    }
    let Some(expression) = obj
        .spec
        .admin_password_rotation
        .as_ref()
        .and_then(|r| r.schedule.as_deref())
    else {
        return Due::No;
    };
    let Ok(cron) = cron::parse("spec.adminPasswordRotation.schedule", expression) else {
        return Due::No;
    };
    // The first reference is the object's creation: no rotation for slots before it.
    let reference = status
        .admin_password_changed_at
        .as_deref()
        .and_then(|t| t.parse::<Timestamp>().ok())
        .or_else(|| obj.creation_timestamp().map(|t| t.0))
        .unwrap_or(now);
    match cron::due(&cron, Some(reference), reference, now) {
        cron::Due::Take { .. } => Due::Now,
        cron::Due::Wait(after) => Due::Later(after),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    No,
    Now,
    Later(std::time::Duration),
}

/// What the database said about the two passwords of a rotation cut short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// The database takes the new one: write it into the connection Secret.
    Promote,
    /// It still takes the old one: tell the database now.
    Alter,
    /// Neither (or no answer): leave both Secrets as they are, look again.
    Unknown(String),
}

/// Which step of a rotation cut short comes next.
pub fn resume(new: &Verdict, old: &Verdict) -> Resume {
    match (new, old) {
        (Verdict::Accepted, _) => Resume::Promote,
        (_, Verdict::Accepted) => Resume::Alter,
        (Verdict::Unreachable(why), _) | (_, Verdict::Unreachable(why)) => {
            Resume::Unknown(format!("the database did not answer: {why}"))
        }
        _ => Resume::Unknown(
            "the database refuses both the current and the new admin password".to_string(),
        ),
    }
}

/// What a pass did about the admin password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Nothing,
    Rotated,
    /// A rotation could not finish: the reason, with no secret in it.
    Stuck(String),
}

/// Carries out a due rotation, or finishes one cut short. Runs only on a
/// settled instance whose connection Secret is the operator's and holds a login.
pub async fn run(
    obj: &AuraInstance,
    ctx: &Ctx,
    observed: &Observed,
    settled: bool,
) -> Result<Outcome> {
    let now = Timestamp::now();
    let Some(plan) = observed.secret.as_ref().filter(|_| settled) else {
        return Ok(Outcome::Nothing);
    };
    let (Some(found), Some((user, current))) = (observed.found(), secret::login(&plan.desired))
    else {
        return Ok(Outcome::Nothing);
    };
    let secrets: Api<Secret> =
        Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let pending_name = pending_name(&obj.connection_secret_name());
    // A rotation cut short was due too (its record is its last step), so
    // nothing is read unless one is due; then the rotation's Secret is read
    // from the apiserver, never from a watch that may not have listed it yet
    // (a new password written over the one the database already took is
    // a password lost).
    if due(obj, &observed.current, now) != Due::Now {
        return Ok(Outcome::Nothing);
    }
    let pending = secrets
        .get_opt(&pending_name)
        .await
        .map_err(|e| ReconcileError::kube("read the admin rotation Secret", e))?
        .filter(|s| secret::controlled_by(s, obj))
        .and_then(|s| secret::read_key(&s, NEW_PASSWORD_KEY))
        .filter(|p| !p.is_empty())
        .map(Password::from_secret);
    let uri = secret::uri(&plan.desired).unwrap_or_default();
    let host = secret::format::host_of(&uri);
    let api = &ctx.state.query_api;
    let (system, data) = match (
        api.endpoint(&host, admin::SYSTEM_DATABASE),
        api.endpoint(&host, secret::format::DATABASE),
    ) {
        (Ok(s), Ok(d)) => (s, d),
        (Err(e), _) | (_, Err(e)) => {
            return Ok(Outcome::Stuck(format!(
                "no Query API URL for host {host}: {e}"
            )));
        }
    };
    let current = Password::from_secret(current);
    let (new, step) = match pending {
        Some(new) => {
            let said_new = api.check(&data, &user, new.expose()).await;
            let said_old = api.check(&data, &user, current.expose()).await;
            (new, resume(&said_new, &said_old))
        }
        None => {
            // Step 1: the new password is kept before the database hears of it.
            let new = Password::generate();
            write_pending(obj, &secrets, &pending_name, &new).await?;
            crate::reconciler::failpoint("admin-rotation-pending-written");
            (new, Resume::Alter)
        }
    };
    match step {
        Resume::Unknown(why) => return Ok(Outcome::Stuck(why)),
        Resume::Alter => {
            // Step 2: the database takes the new password.
            if let Err(e) = api
                .run(
                    &system,
                    &user,
                    &current,
                    &admin::alter_current_user_password(&current, &new),
                )
                .await
            {
                return Ok(Outcome::Stuck(e.to_string()));
            }
            crate::reconciler::failpoint("admin-rotation-altered");
        }
        Resume::Promote => {}
    }
    // Step 3: the connection Secret gets it; step 4: the pending one goes.
    let name = found.name.clone().unwrap_or_else(|| obj.aura_name());
    let url = secret::connection_url(
        &found.id,
        found
            .connection_url
            .as_deref()
            .or(observed.current.connection_url.as_deref()),
    );
    let details = secret::ConnectionDetails {
        instance_id: &found.id,
        instance_name: &name,
        connection_url: &url,
        username: &user,
        password: Some(new.expose()),
    };
    let desired = secret::desired(obj, &details, None, true)
        .map_err(|_| ReconcileError::Invariant("a template that rendered a pass ago"))?;
    apply_secret(ctx, &secrets, &desired).await?;
    connection::delete(&secrets, &pending_name, None)
        .await
        .map_err(|e| ReconcileError::kube("delete the admin rotation Secret", e))?;
    Ok(Outcome::Rotated)
}

/// A rotation this process made, as its status records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    pub at: Timestamp,
    pub requested: Option<String>,
}

/// Puts a rotation this process remembers into a status read from a copy
/// that does not show it yet.
pub fn remembered(status: &mut AuraInstanceStatus, rotated: Option<&Rotated>) {
    let Some(r) = rotated else {
        return;
    };
    let recorded = status
        .admin_password_changed_at
        .as_deref()
        .and_then(|t| t.parse::<Timestamp>().ok());
    if recorded.is_none_or(|t| t < r.at) {
        status.admin_password_changed_at = Some(r.at.to_string());
        status.admin_rotate_requested = r.requested.clone();
    }
}

/// Records what a rotation did in the status.
pub fn record(
    obj: &AuraInstance,
    status: &mut AuraInstanceStatus,
    outcome: &Outcome,
    now: Timestamp,
) {
    if *outcome == Outcome::Rotated {
        remembered(status, Some(&rotated(obj, now)));
    }
}

/// What a rotation made now records.
pub fn rotated(obj: &AuraInstance, now: Timestamp) -> Rotated {
    Rotated {
        at: now,
        requested: obj.annotations().get(ROTATE_ANNOTATION).cloned(),
    }
}

async fn write_pending(
    obj: &AuraInstance,
    secrets: &Api<Secret>,
    name: &str,
    new: &Password,
) -> Result<()> {
    let pending = Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: obj.namespace(),
            labels: Some(BTreeMap::from([
                (secret::INSTANCE_LABEL.to_string(), obj.name_any()),
                (
                    secret::MANAGED_BY_LABEL.to_string(),
                    secret::MANAGED_BY_VALUE.to_string(),
                ),
            ])),
            owner_references: Some(vec![OwnerReference {
                api_version: AuraInstance::api_version(&()).into_owned(),
                kind: AuraInstance::kind(&()).into_owned(),
                name: obj.name_any(),
                uid: obj.uid().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: None,
            }]),
            ..Default::default()
        },
        type_: Some(secret::format::OPAQUE_TYPE.into()),
        data: Some(BTreeMap::from([(
            NEW_PASSWORD_KEY.to_string(),
            ByteString(new.expose().as_bytes().to_vec()),
        )])),
        ..Default::default()
    };
    connection::apply(secrets, &pending)
        .await
        .map_err(|e| ReconcileError::kube("write the admin rotation Secret", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_cut_short_converges_on_the_password_the_database_takes() {
        let no = || Verdict::Rejected { code: None };
        let gone = || Verdict::Unreachable("timed out".into());
        let rows = [
            (Verdict::Accepted, no(), Resume::Promote),
            (no(), Verdict::Accepted, Resume::Alter),
            // Both work only between the two statements of a real server's cache; the new wins.
            (Verdict::Accepted, Verdict::Accepted, Resume::Promote),
        ];
        for (new, old, want) in rows {
            assert_eq!(resume(&new, &old), want, "{new:?} {old:?}");
        }
        assert!(matches!(resume(&no(), &no()), Resume::Unknown(_)));
        assert!(matches!(resume(&gone(), &no()), Resume::Unknown(_)));
        assert!(matches!(resume(&no(), &gone()), Resume::Unknown(_)));
    }

    fn instance(annotation: Option<&str>, schedule: Option<&str>) -> AuraInstance {
        let mut obj: AuraInstance = serde_json::from_value(serde_json::json!({
            "apiVersion": "aura-operator.io/v1beta1", "kind": "AuraInstance",
            "metadata": {"name": "db", "creationTimestamp": "2026-03-01T00:00:00Z"},
            "spec": {"cloudProvider": "gcp", "region": "europe-west1", "type": "professional-db",
                     "memory": "2GB"},
        }))
        .unwrap();
        if let Some(a) = annotation {
            obj.metadata.annotations =
                Some([(ROTATE_ANNOTATION.to_string(), a.to_string())].into());
        }
        obj.spec.admin_password_rotation = schedule.map(|s| crate::api::AdminPasswordRotation {
            schedule: Some(s.to_string()),
        });
        obj
    }

    #[test]
    fn when_the_admin_password_rotates() {
        let now: Timestamp = "2026-03-02T05:00:00Z".parse().unwrap();
        let handled = |v: &str| AuraInstanceStatus {
            admin_rotate_requested: Some(v.into()),
            ..Default::default()
        };
        let changed = |at: &str| AuraInstanceStatus {
            admin_password_changed_at: Some(at.into()),
            ..Default::default()
        };
        let none = AuraInstanceStatus::default();
        assert_eq!(due(&instance(None, None), &none, now), Due::No);
        assert_eq!(due(&instance(Some("1"), None), &none, now), Due::Now);
        assert_eq!(due(&instance(Some("1"), None), &handled("1"), now), Due::No);
        assert_eq!(
            due(&instance(Some("2"), None), &handled("1"), now),
            Due::Now
        );
        assert_eq!(due(&instance(Some(""), None), &none, now), Due::No);
        // Daily at 04:00: the slot after the creation is due, then not again until tomorrow.
        assert_eq!(
            due(&instance(None, Some("0 4 * * *")), &none, now),
            Due::Now
        );
        assert!(matches!(
            due(
                &instance(None, Some("0 4 * * *")),
                &changed("2026-03-02T04:00:01Z"),
                now
            ),
            Due::Later(_)
        ));
        // A schedule that does not parse rotates nothing (the CRD refuses it at admission).
        assert_eq!(due(&instance(None, Some("every day")), &none, now), Due::No);
    }

    #[test]
    fn a_stale_copy_does_not_forget_a_rotation() {
        let obj = instance(Some("7"), None);
        let at: Timestamp = "2026-03-02T05:00:00Z".parse().unwrap();
        let mut stale = AuraInstanceStatus::default();
        remembered(&mut stale, Some(&rotated(&obj, at)));
        assert_eq!(stale.admin_rotate_requested.as_deref(), Some("7"));
        assert_eq!(due(&obj, &stale, at), Due::No, "no second rotation");
        // A newer record than the memory wins.
        let mut newer = AuraInstanceStatus {
            admin_password_changed_at: Some("2026-03-03T00:00:00Z".into()),
            admin_rotate_requested: Some("8".into()),
            ..Default::default()
        };
        remembered(&mut newer, Some(&rotated(&obj, at)));
        assert_eq!(newer.admin_rotate_requested.as_deref(), Some("8"));
    }

    #[test]
    fn pending_secret_names_fit_next_to_the_connection_secret() {
        assert_eq!(
            pending_name("db-connection"),
            "db-connection.admin-rotation"
        );
    }
}
