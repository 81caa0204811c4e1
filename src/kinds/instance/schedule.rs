//! `spec.snapshots`: when a scheduled snapshot is due, which scheduled
//! snapshots `keep` prunes, and the AuraSnapshot objects an instance makes
//! (scheduled, and before a change). The decisions are pure; `take` and
//! `prune` are the I/O around them.

use std::time::Duration;

use croner::Cron;
use jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams};
use kube::{Resource, ResourceExt};

use crate::api::{AuraInstance, AuraSnapshot, INSTANCE_LABEL, LastSnapshot, SCHEDULED_LABEL};
use crate::reconciler::{ReconcileError, Result};

use crate::kinds::shared::cron;
pub use crate::kinds::shared::cron::{Due, due};
use crate::kinds::shared::snapshots as make;
pub use crate::kinds::shared::snapshots::{Made, SLOT_ANNOTATION};

/// `spec.snapshots.schedule`, parsed (see [`cron::parse`]).
pub fn parse(expression: &str) -> Result<Cron, String> {
    cron::parse("spec.snapshots.schedule", expression)
}

/// What `spec.snapshots.schedule` asks of a pass now (`None`: no schedule,
/// or one that does not parse, which `decide` stalls on).
pub fn plan(obj: &AuraInstance, last: Option<&LastSnapshot>, now: Timestamp) -> Option<Due> {
    let cron = schedule_of(obj)?;
    Some(due(
        &cron,
        last_slot(&obj.name_any(), last),
        created(obj, now),
        now,
    ))
}

/// After the snapshot of `slot` was made: when the schedule asks again.
pub fn after_taking(obj: &AuraInstance, slot: Timestamp, now: Timestamp) -> Duration {
    match schedule_of(obj).map(|cron| due(&cron, Some(slot), created(obj, now), now)) {
        Some(Due::Wait(after)) => after,
        Some(Due::Take { .. }) | None => Duration::from_secs(1),
    }
}

fn schedule_of(obj: &AuraInstance) -> Option<Cron> {
    let expression = obj.spec.snapshots.as_ref()?.schedule.as_deref()?;
    parse(expression).ok()
}

fn created(obj: &AuraInstance, now: Timestamp) -> Timestamp {
    obj.metadata
        .creation_timestamp
        .as_ref()
        .map_or(now, |t| t.0)
}

/// A scheduled snapshot this pass made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheduled {
    pub name: String,
    pub slot: Timestamp,
    pub made: Made,
    /// The scheduled objects `keep` pruned.
    pub pruned: Vec<String>,
}

/// Makes the AuraSnapshot of `slot` and prunes beyond `keep`; `None` while
/// the previous scheduled snapshot (`last`) is still being taken (DESIGN
/// 4.14: one slot at a time).
pub async fn take_slot(
    client: &kube::Client,
    obj: &AuraInstance,
    slot: Timestamp,
    last: Option<&LastSnapshot>,
) -> Result<Option<Scheduled>> {
    if last_slot(&obj.name_any(), last).is_some()
        && let Some(previous) = last
        && still_taking(client, obj, &previous.name).await?
    {
        return Ok(None);
    }
    let name = slot_name(&obj.name_any(), slot);
    let made = take(client, obj, &name, Some(slot)).await?;
    let keep = obj.spec.snapshots.as_ref().and_then(|p| p.keep);
    let pruned = prune(client, obj, keep).await?;
    Ok(Some(Scheduled {
        name,
        slot,
        made,
        pruned,
    }))
}

/// Whether the AuraSnapshot `name` of `obj`'s namespace is still being taken.
async fn still_taking(client: &kube::Client, obj: &AuraInstance, name: &str) -> Result<bool> {
    let api: Api<AuraSnapshot> =
        Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default());
    let found = api
        .get_opt(name)
        .await
        .map_err(|e| ReconcileError::kube("read the last scheduled AuraSnapshot", e))?;
    Ok(found.is_some_and(|s| {
        s.status.unwrap_or_default().progress() == crate::api::SnapshotProgress::Taking
    }))
}

/// The scheduled objects beyond `keep`, oldest first; `objects` are (name, slot).
pub fn to_prune(mut objects: Vec<(String, Timestamp)>, keep: Option<u32>) -> Vec<String> {
    let Some(keep) = keep else {
        return Vec::new();
    };
    objects.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    objects
        .into_iter()
        .skip(keep as usize)
        .map(|(name, _)| name)
        .collect()
}

/// The name of the scheduled snapshot of `slot`: the same on every retry
/// and restart, so that a slot is never taken twice.
pub fn slot_name(instance: &str, slot: Timestamp) -> String {
    bounded(instance, &format!("-{}", slot.as_second()))
}

/// The name of the snapshot taken before the change of `generation`.
pub fn before_change_name(instance: &str, generation: i64) -> String {
    bounded(instance, &format!("-before-g{generation}"))
}

fn bounded(prefix: &str, suffix: &str) -> String {
    let room = 253 - suffix.len();
    let mut cut = prefix.len().min(room);
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", prefix[..cut].trim_end_matches(['-', '.']))
}

/// The slot of the last scheduled snapshot, from status: only a scheduled
/// one (named for its slot) counts, so that a snapshot taken before a change
/// does not pass for the slot it fell in.
pub fn last_slot(instance: &str, last: Option<&LastSnapshot>) -> Option<Timestamp> {
    let last = last?;
    let slot: Timestamp = last.taken_at.as_deref()?.parse().ok()?;
    (last.name == slot_name(instance, slot)).then_some(slot)
}

/// Makes an AuraSnapshot of `obj`, owned by it and labelled with its name.
pub async fn take(
    client: &kube::Client,
    obj: &AuraInstance,
    name: &str,
    slot: Option<Timestamp>,
) -> Result<Made> {
    let ns = obj.namespace().unwrap_or_default();
    make::make(
        client,
        &ns,
        name,
        &obj.name_any(),
        make::owned_by(obj),
        slot,
    )
    .await
}

/// Deletes the scheduled AuraSnapshots of `obj` beyond `keep`; returns their names.
pub async fn prune(
    client: &kube::Client,
    obj: &AuraInstance,
    keep: Option<u32>,
) -> Result<Vec<String>> {
    if keep.is_none() {
        return Ok(Vec::new());
    }
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<AuraSnapshot> = Api::namespaced(client.clone(), &ns);
    let selector = format!("{INSTANCE_LABEL}={},{SCHEDULED_LABEL}=true", obj.name_any());
    let listed = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| ReconcileError::kube("list the scheduled AuraSnapshots", e))?;
    let objects = listed
        .items
        .iter()
        .filter(|s| s.meta().deletion_timestamp.is_none())
        .filter_map(|s| {
            let slot = s.annotations().get(SLOT_ANNOTATION)?.parse().ok()?;
            Some((s.name_any(), slot))
        })
        .collect();
    let gone = to_prune(objects, keep);
    for name in &gone {
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(ReconcileError::kube("prune a scheduled AuraSnapshot", e)),
        }
    }
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use croner::parser::{CronParser, Seconds};

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn five_and_six_field_expressions_parse_and_nonsense_does_not() {
        assert!(parse("0 3 * * *").is_ok());
        assert!(parse("0 0 * * * *").is_ok());
        assert!(parse("30 * * * *").is_ok(), "hourly is the floor");
        for too_often in [
            "*/10 * * * * *",
            "* * * * * *",
            "*/5 * * * *",
            "0,30 * * * *",
            "0 */5 * * * *",
        ] {
            let e = parse(too_often).unwrap_err();
            assert!(e.contains("more often than hourly"), "{too_often}: {e}");
        }
        let bad = parse("every day").unwrap_err();
        assert!(bad.contains("spec.snapshots.schedule"), "{bad}");
    }

    #[test]
    fn a_slot_is_due_once_and_missed_slots_come_as_one() {
        let daily = parse("0 3 * * *").unwrap();
        let created = t("2026-11-01T00:00:00Z");
        let rows: &[(Option<&str>, &str, Due)] = &[
            // Never taken, a slot passed since creation: take it.
            (
                None,
                "2026-11-01T03:00:05Z",
                Due::Take {
                    slot: t("2026-11-01T03:00:00Z"),
                },
            ),
            // Taken: wait for the next one.
            (
                Some("2026-11-01T03:00:00Z"),
                "2026-11-01T04:00:00Z",
                Due::Wait(Duration::from_secs(23 * 3600)),
            ),
            // Down for three days: the latest slot only, once.
            (
                Some("2026-11-01T03:00:00Z"),
                "2026-11-04T12:00:00Z",
                Due::Take {
                    slot: t("2026-11-04T03:00:00Z"),
                },
            ),
        ];
        for (last, now, want) in rows {
            let got = due(&daily, last.map(t), created, t(now));
            assert_eq!(&got, want, "last {last:?} now {now}");
        }
        // No slot since the object was created: nothing yet.
        let fresh = due(
            &daily,
            None,
            t("2026-11-01T03:30:00Z"),
            t("2026-11-01T04:00:00Z"),
        );
        assert!(matches!(fresh, Due::Wait(_)), "{fresh:?}");
        // The arithmetic holds at any grain (the floor is `parse`'s, below).
        let every_ten = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse("*/10 * * * * *")
            .unwrap();
        assert_eq!(
            due(
                &every_ten,
                Some(t("2026-11-01T00:00:10Z")),
                created,
                t("2026-11-01T00:00:15Z")
            ),
            Due::Wait(Duration::from_secs(5))
        );
    }

    #[test]
    fn keep_prunes_the_oldest_scheduled_objects() {
        let objects = vec![
            ("a".to_string(), t("2026-11-01T03:00:00Z")),
            ("c".to_string(), t("2026-11-03T03:00:00Z")),
            ("b".to_string(), t("2026-11-02T03:00:00Z")),
        ];
        assert_eq!(to_prune(objects.clone(), Some(2)), vec!["a".to_string()]);
        assert_eq!(to_prune(objects.clone(), Some(5)), Vec::<String>::new());
        assert_eq!(to_prune(objects, None), Vec::<String>::new());
    }

    #[test]
    fn names_are_stable_per_slot_and_fit() {
        let slot = t("2026-11-01T03:00:00Z");
        assert_eq!(slot_name("orders", slot), slot_name("orders", slot));
        assert_eq!(slot_name("orders", slot), "orders-1793502000");
        assert_eq!(before_change_name("orders", 4), "orders-before-g4");
        assert!(slot_name(&"x".repeat(253), slot).len() <= 253);
    }

    #[test]
    fn only_a_scheduled_snapshot_counts_as_the_last_slot() {
        let slot = t("2026-12-01T03:00:00Z");
        let scheduled = LastSnapshot {
            name: slot_name("orders", slot),
            taken_at: Some(slot.to_string()),
        };
        assert_eq!(last_slot("orders", Some(&scheduled)), Some(slot));
        // A snapshot before a change at 03:20 does not take the 04:00 slot's place.
        let before = LastSnapshot {
            name: before_change_name("orders", 3),
            taken_at: Some("2026-12-01T03:20:00Z".into()),
        };
        assert_eq!(last_slot("orders", Some(&before)), None);
        assert_eq!(last_slot("orders", None), None);
    }
}
