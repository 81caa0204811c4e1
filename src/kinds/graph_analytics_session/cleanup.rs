//! Deleting an AuraGraphAnalyticsSession deletes the session in Aura. When
//! Aura cannot be reached for it any more (its AuraInstance or credentials
//! are gone), the object goes anyway: Aura ends an idle session after its
//! ttl, and an event says so.

use kube::runtime::controller::Action;

use super::act::{self, Ctx};
use super::decide::SessionReason;
use crate::api::AuraGraphAnalyticsSession;
use crate::reconciler::{Cleanup, Result};

pub async fn cleanup(obj: &AuraGraphAnalyticsSession, ctx: &Ctx) -> Result<Cleanup> {
    let current = obj.status.clone().unwrap_or_default();
    let Some(id) = current.id.clone() else {
        return Ok(Cleanup::Done);
    };
    let place = match act::place(obj, ctx, &current).await? {
        Ok(place) => place,
        Err((summary, _)) => {
            ctx.warn(
                obj,
                SessionReason::SessionDeleted,
                &format!(
                    "session {id} was not deleted ({}); Aura ends it after its ttl idle",
                    summary.message().unwrap_or("Aura cannot be reached for it")
                ),
            )
            .await;
            return Ok(Cleanup::Done);
        }
    };
    if ctx.config.dry_run {
        ctx.dry_run_skipped(
            obj,
            "delete_session",
            &format!("DELETE /graph-analytics/sessions/{id}"),
        )
        .await;
        return Ok(Cleanup::Done);
    }
    match place.aura.delete_session(&id).await {
        Ok(()) => {
            ctx.normal(
                obj,
                SessionReason::SessionDeleted,
                &format!("deleted session {id} in Aura"),
            )
            .await;
            Ok(Cleanup::Done)
        }
        Err(e) if e.is_transient() => Ok(Cleanup::Again(Action::requeue(
            e.retry_after()
                .unwrap_or(std::time::Duration::from_secs(10)),
        ))),
        Err(e) => Err(e.into()),
    }
}
