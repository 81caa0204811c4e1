//! The decision for an instance that runs in Aura: stalls first (where it
//! sits, the Secret, templates, the schedule), then a restore or a
//! re-create in flight, the password, the Secret, and one operation at a
//! time towards the spec (a snapshot first where the spec asks).

use super::{
    Action, BeforeChange, Decision, LookAgain, Observation, Readiness, Reason, SpecChange,
    StatusSummary, check_offered, create_intent, describe_update, invalid_template,
    secret_not_owned, secret_not_trusted,
};
use crate::api::{
    AuraInstanceSpec, AuraInstanceStatus, MAX_RECREATIONS, PasswordRecovery, Phase, SecretFormat,
};
use crate::aura::model::{Instance, InstanceStatus};

/// Whether `operation` needs a snapshot first (a resize or an upgrade with
/// `snapshots.beforeChanges`).
pub fn wants_snapshot_first(spec: &AuraInstanceSpec, operation: &SpecChange) -> bool {
    spec.snapshot_before_changes()
        && match operation {
            SpecChange::Update(r) => r.memory.is_some() || r.storage.is_some(),
            SpecChange::Upgrade(_) => true,
            SpecChange::None | SpecChange::Pause | SpecChange::Resume => false,
        }
}

/// With `snapshots.beforeChanges`, a resize or upgrade waits for its
/// snapshot: made first, then Completed. Under --dry-run nothing is waited
/// for (that snapshot would never be taken): the change's report says it
/// would come first.
fn snapshot_first(obs: &Observation<'_>, operation: &SpecChange) -> Option<Decision> {
    if obs.dry_run || !wants_snapshot_first(obs.spec, operation) {
        return None;
    }
    let waiting = |message: String| {
        StatusSummary::in_progress(Phase::Updating, Reason::SnapshotBeforeChange, message)
    };
    let Some((name, state)) = obs.before_change else {
        return Some(Decision {
            action: Action::None,
            status: waiting("looking for the snapshot to take before the change".into()),
            requeue: LookAgain::Poll,
        });
    };
    match state {
        BeforeChange::Completed => None,
        BeforeChange::Missing => Some(Decision {
            action: Action::SnapshotFirst { name: name.clone() },
            status: waiting(format!("taking AuraSnapshot {name} before the change")),
            requeue: LookAgain::Poll,
        }),
        BeforeChange::Taking => Some(Decision {
            action: Action::None,
            status: waiting(format!(
                "waiting for AuraSnapshot {name} to complete before the change"
            )),
            requeue: LookAgain::Poll,
        }),
        BeforeChange::Failed => Some(Decision {
            action: Action::None,
            status: StatusSummary::stalled(
                Reason::SnapshotBeforeChange,
                format!(
                    "AuraSnapshot {name}, taken before the change, failed; the change waits (delete that AuraSnapshot to try again, or set snapshots.beforeChanges to false)"
                ),
            ),
            requeue: LookAgain::Resync,
        }),
    }
}

pub(super) fn decide_running(obs: &Observation<'_>, instance: &Instance) -> Decision {
    if let Some(stop) = held_back(obs, instance) {
        return stop;
    }
    if let Some(decision) = recover_password(obs, instance) {
        return decision;
    }
    if !obs.secret.up_to_date {
        return Decision {
            action: Action::WriteSecret,
            status: aura_status_summary(obs, instance),
            requeue: LookAgain::Poll,
        };
    }
    let operation = obs.compared.next().clone();
    if let Some(wait) = snapshot_first(obs, &operation) {
        return wait;
    }
    operate(obs, instance, operation)
}

/// What keeps every change back: a stall for a person, or Aura's own work
/// (a re-create, a restore) in flight.
fn held_back(obs: &Observation<'_>, instance: &Instance) -> Option<Decision> {
    if let Some(mismatch) = obs.compared.mismatch.clone() {
        return Some(Decision {
            action: Action::None,
            status: StatusSummary::stalled(Reason::InstanceMismatch, mismatch),
            requeue: LookAgain::Resync,
        });
    }
    if obs.secret.not_owned {
        return Some(secret_not_owned(&obs.secret_name));
    }
    if let Some(why) = obs.secret.not_trusted {
        return Some(secret_not_trusted(&obs.secret_name, why));
    }
    if let Some(stall) = invalid_template(obs.spec) {
        return Some(stall);
    }
    if let Some(expression) = obs
        .spec
        .snapshots
        .as_ref()
        .and_then(|p| p.schedule.as_deref())
        && let Err(message) = crate::kinds::instance::schedule::parse(expression)
    {
        return Some(Decision {
            action: Action::None,
            status: StatusSummary::stalled(Reason::InvalidSchedule, message),
            requeue: LookAgain::Resync,
        });
    }
    if recreating(obs.status) {
        return Some(Decision {
            action: Action::None,
            status: StatusSummary::in_progress(
                Phase::Creating,
                Reason::Recreating,
                format!(
                    "waiting for Aura to destroy instance {} (its password was lost), to create it again",
                    instance.id
                ),
            ),
            requeue: LookAgain::Poll,
        });
    }
    if let Some(restore) = obs.restoring {
        return Some(Decision {
            action: Action::None,
            status: StatusSummary::in_progress(
                Phase::Updating,
                Reason::Restoring,
                format!(
                    "AuraRestore {restore} replaces the data (Aura reports the instance {}); nothing else is changed until it ends",
                    instance.status
                ),
            ),
            requeue: LookAgain::Poll,
        });
    }
    None
}

/// The one operation that brings the instance towards the spec.
fn operate(obs: &Observation<'_>, instance: &Instance, operation: SpecChange) -> Decision {
    let drift = drift_note(obs, instance, &operation);
    match operation {
        SpecChange::None => {
            let requeue = if instance.status.is_settled() {
                LookAgain::Resync
            } else {
                LookAgain::Poll
            };
            Decision {
                action: Action::None,
                status: aura_status_summary(obs, instance),
                requeue,
            }
        }
        SpecChange::Update(request) => {
            if (request.memory.is_some() || request.storage.is_some())
                && let Some(tenant) = obs.catalogue
            {
                let wanted = AuraInstanceSpec {
                    storage: request.storage.clone().or_else(|| obs.spec.storage.clone()),
                    ..obs.spec.clone()
                };
                if let Err(message) = check_offered(&wanted, tenant) {
                    return Decision {
                        action: Action::None,
                        status: StatusSummary::stalled(Reason::ConfigurationNotOffered, message),
                        requeue: LookAgain::Resync,
                    };
                }
            }
            let what = describe_update(&request);
            Decision {
                action: Action::Update {
                    instance_id: instance.id.clone(),
                    request,
                    drift,
                },
                status: StatusSummary::in_progress(
                    Phase::Updating,
                    Reason::Updating,
                    format!("changing {what}"),
                ),
                requeue: LookAgain::Poll,
            }
        }
        SpecChange::Pause => Decision {
            action: Action::Pause {
                instance_id: instance.id.clone(),
                drift,
            },
            status: StatusSummary::in_progress(
                Phase::Paused,
                Reason::Pausing,
                "pausing the instance",
            ),
            requeue: LookAgain::Poll,
        },
        SpecChange::Resume => Decision {
            action: Action::Resume {
                instance_id: instance.id.clone(),
                drift,
            },
            status: StatusSummary::in_progress(
                Phase::Updating,
                Reason::Resuming,
                "resuming the instance",
            ),
            requeue: LookAgain::Poll,
        },
        SpecChange::Upgrade(to) => Decision {
            status: StatusSummary::in_progress(
                Phase::Updating,
                Reason::Upgrading,
                format!("upgrading the instance to {to}"),
            ),
            action: Action::Upgrade {
                instance_id: instance.id.clone(),
                to,
            },
            requeue: LookAgain::Poll,
        },
    }
}

/// The status that mirrors what Aura reports, with nothing of ours in flight.
pub(super) fn aura_status_summary(obs: &Observation<'_>, instance: &Instance) -> StatusSummary {
    match &instance.status {
        InstanceStatus::Running if !obs.secret.has_password && obs.status.adopted_at.is_some() => {
            Decision::password_unavailable_adopted(obs.spec.secret_format())
        }
        InstanceStatus::Running if !obs.secret.has_password => {
            Decision::password_unavailable(obs.spec.secret_format())
        }
        InstanceStatus::Running => StatusSummary {
            phase: Phase::Running,
            readiness: Readiness::True,
            reconciling: None,
            stalled: None,
        },
        InstanceStatus::Creating => crate::kinds::instance::status::aura_creating(),
        InstanceStatus::Paused | InstanceStatus::Suspended => StatusSummary {
            phase: Phase::Paused,
            readiness: Readiness::False {
                reason: Reason::Paused,
                message: format!("the Aura instance is {}", instance.status),
            },
            reconciling: None,
            stalled: None,
        },
        InstanceStatus::Pausing => StatusSummary::in_progress(
            Phase::Paused,
            Reason::Pausing,
            "Aura is pausing the instance",
        ),
        InstanceStatus::Resuming => StatusSummary::in_progress(
            Phase::Updating,
            Reason::Resuming,
            "Aura is resuming the instance",
        ),
        InstanceStatus::Destroying => StatusSummary::in_progress(
            Phase::Deleting,
            Reason::Destroying,
            "Aura is destroying the instance",
        ),
        InstanceStatus::LoadingFailed => StatusSummary::stalled(
            Reason::LoadingFailed,
            "Aura reports 'loading failed' for this instance; see the Aura console",
        ),
        other => StatusSummary::in_progress(
            Phase::Updating,
            Reason::Updating,
            format!("Aura reports the instance as {other}"),
        ),
    }
}

/// When the spec has not changed since it was last observed, a difference was
/// made outside the operator (the Aura console): say what is put back.
fn drift_note(obs: &Observation<'_>, instance: &Instance, op: &SpecChange) -> Option<String> {
    let spec_unchanged =
        obs.generation.is_some() && obs.status.observed_generation == obs.generation;
    if !spec_unchanged || obs.status.instance_id.is_none() {
        return None;
    }
    match op {
        SpecChange::None | SpecChange::Upgrade(_) => None,
        SpecChange::Pause => {
            Some("the instance was resumed outside the operator; pausing it again".into())
        }
        SpecChange::Resume => {
            Some("the instance was paused outside the operator; resuming it".into())
        }
        SpecChange::Update(r) => {
            let mut was = Vec::new();
            let reported = |v: &Option<String>| v.clone().unwrap_or_default();
            if r.name.is_some() {
                was.push(format!("name {}", reported(&instance.name)));
            }
            if r.memory.is_some() {
                was.push(format!("memory {}", reported(&instance.memory)));
            }
            if r.storage.is_some() {
                was.push(format!("storage {}", reported(&instance.storage)));
            }
            if r.vector_optimized.is_some() {
                was.push(format!(
                    "vectorOptimized {}",
                    instance.vector_optimized.unwrap_or(false)
                ));
            }
            if r.graph_analytics_plugin.is_some() {
                was.push(format!(
                    "graphAnalyticsPlugin {}",
                    instance.graph_analytics_plugin.unwrap_or(false)
                ));
            }
            // Settings applied after the create are drift only once they
            // were as the spec says (the last status saw them so).
            let had_secondaries =
                obs.status.secondaries_count == obs.spec.secondaries_count.map(u64::from);
            if r.secondaries_count.is_some() && had_secondaries {
                was.push(format!(
                    "secondariesCount {}",
                    instance.secondaries_count.unwrap_or(0)
                ));
            }
            let had_cdc = obs.spec.cdc_enrichment_mode.is_some_and(|want| {
                obs.status
                    .cdc_enrichment_mode
                    .as_deref()
                    .is_some_and(|seen| want.is(seen))
            });
            if r.cdc_enrichment_mode.is_some() && had_cdc {
                was.push(format!(
                    "cdcEnrichmentMode {}",
                    instance.cdc_enrichment_mode.as_deref().unwrap_or("OFF")
                ));
            }
            if was.is_empty() {
                return None;
            }
            Some(format!(
                "changed outside the operator ({}); setting {} as the spec says",
                was.join(", "),
                describe_update(r)
            ))
        }
    }
}

impl Decision {
    /// The instance runs but nobody can log in: a human must bring the
    /// password back, so this is Stalled (kstatus Failed) though still Running.
    fn password_unavailable(format: SecretFormat) -> StatusSummary {
        let key = crate::kinds::instance::secret::password_key(format);
        Self::password_unavailable_because(
            &format!(
                "the instance runs but the connection Secret has no {key}, and Aura returns a password only once"
            ),
            format,
        )
    }

    /// Adopted by adoption: AdoptOrCreate, and no Secret brought its
    /// password back: the way out goes through the Aura console.
    fn password_unavailable_adopted(format: SecretFormat) -> StatusSummary {
        let key = crate::kinds::instance::secret::password_key(format);
        Self::password_unavailable_saying(format!(
            "the instance was adopted (adoption: AdoptOrCreate) and no connection Secret brought its password: reset the admin password in the Aura console, then write it with kubectl patch secret <connection secret> --type merge -p '{{\"stringData\":{{\"{key}\":\"...\"}}}}'; the operator verifies it and carries on. Restoring the Secret from a backup instead works too. The logins of AuraDatabaseUsers live in the database and are not lost"
        ))
    }

    fn password_unavailable_after(recreations: i32, format: SecretFormat) -> StatusSummary {
        Self::password_unavailable_because(
            &format!(
                "the instance runs without a known password after {recreations} re-creations (passwordRecovery gives up after {MAX_RECREATIONS})"
            ),
            format,
        )
    }

    fn password_unavailable_because(why: &str, format: SecretFormat) -> StatusSummary {
        let key = crate::kinds::instance::secret::password_key(format);
        Self::password_unavailable_saying(format!(
            "{why}: write it back with kubectl patch secret <connection secret> --type merge -p '{{\"stringData\":{{\"{key}\":\"...\"}}}}' (or reset it in the Aura console first)"
        ))
    }

    /// Running, nobody can log in: Ready False and Stalled, saying `message`.
    fn password_unavailable_saying(message: String) -> StatusSummary {
        StatusSummary {
            phase: Phase::Running,
            readiness: Readiness::False {
                reason: Reason::PasswordUnavailable,
                message: message.clone(),
            },
            reconciling: None,
            stalled: Some((Reason::PasswordUnavailable, message)),
        }
    }
}

/// The instance found after a lost create was destroyed to be created again,
/// and Aura has not yet reported it gone.
pub fn recreating(status: &AuraInstanceStatus) -> bool {
    status.recreating_instance_id.is_some() && status.recreating_instance_id == status.instance_id
}

/// passwordRecovery (DESIGN 2): an instance this object found after its own
/// lost create, never Ready, whose password nobody knows, is destroyed and
/// created again, at most [`MAX_RECREATIONS`] times, unless it is protected
/// (deletionProtection). `None`: nothing to recover.
fn recover_password(obs: &Observation<'_>, instance: &Instance) -> Option<Decision> {
    // Found by the search after a lost create; or claimed right after a
    // create's answer whose password never reached the Secret (a restart in
    // between): the status has not recorded it yet, the intent is still there.
    let found_by_lost_create = obs.status.lost_create_instance_id.as_deref() == Some(&instance.id)
        || (obs.status.instance_id.is_none() && create_intent(obs.status).is_some());
    let adopted_by_id = obs.spec.instance_id.as_deref() == Some(&instance.id);
    // An instance adopted in a rebuild holds data: it is never destroyed here.
    let adopted_in_rebuild = obs.status.adopted_at.is_some();
    if obs.secret.has_password || !found_by_lost_create || adopted_by_id || adopted_in_rebuild {
        return None;
    }
    // Aura refuses a delete while it creates: wait for the instance to run.
    if instance.status != InstanceStatus::Running {
        return None;
    }
    let done = obs.status.recreations.unwrap_or(0);
    match obs.spec.password_recovery.unwrap_or_default() {
        PasswordRecovery::Manual => None,
        // DESIGN 4.8: a protected object is never destroyed, not even to
        // recover a password.
        PasswordRecovery::Recreate if obs.spec.protected() => Some(Decision {
            action: Action::None,
            status: Decision::password_unavailable_because(
                "the instance runs without a known password (the create answer was lost), and passwordRecovery: Recreate never destroys a protected instance (deletionProtection: true)",
                obs.spec.secret_format(),
            ),
            requeue: LookAgain::Resync,
        }),
        PasswordRecovery::Recreate if done >= MAX_RECREATIONS => Some(Decision {
            action: Action::None,
            status: Decision::password_unavailable_after(done, obs.spec.secret_format()),
            requeue: LookAgain::Resync,
        }),
        PasswordRecovery::Recreate => Some(Decision {
            action: Action::Recreate {
                instance_id: instance.id.clone(),
            },
            status: StatusSummary::in_progress(
                Phase::Creating,
                Reason::Recreating,
                format!(
                    "destroying instance {}, whose password was lost with its create answer, to create it again (passwordRecovery: Recreate)",
                    instance.id
                ),
            ),
            requeue: LookAgain::Poll,
        }),
    }
}
