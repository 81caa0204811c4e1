//! Where a Graph Analytics session goes: the account's side of
//! `POST /graph-analytics/sessions` (an attached session takes its project,
//! provider and region from its instance, which must be running).

use tokio::time::Instant;

use super::{InstanceStatus, World, secs};
use crate::simulator::error::ApiError;
use crate::simulator::sessions::{Placed, SessionRequest, SessionView};

impl World {
    /// Places a session request: attached to a running instance (whose
    /// project, provider and region it must not contradict), or standalone
    /// in a known project, a provider and a region the catalogue offers.
    pub fn place_session(&mut self, req: SessionRequest, now: Instant) -> Result<Placed, ApiError> {
        let Some(instance_id) = req.instance_id.clone() else {
            return self.place_standalone(req);
        };
        let inst = self.get(&instance_id, now)?;
        if inst.status != InstanceStatus::Running {
            return Err(ApiError::invalid_state(format!(
                "A session can only attach to a running instance (status: {})",
                inst.status
            )));
        }
        let (tenant_id, cloud_provider, region) = (
            inst.tenant_id.clone(),
            inst.cloud_provider.clone(),
            inst.region.clone(),
        );
        for (field, given, have) in [
            ("tenant_id", &req.tenant_id, &tenant_id),
            ("cloud_provider", &req.cloud_provider, &cloud_provider),
            ("region", &req.region, &region),
        ] {
            if given.as_ref().is_some_and(|g| g != have) {
                return Err(ApiError::field(
                    field,
                    format!("{field} must be the instance's ({have}) for a session attached to it"),
                ));
            }
        }
        Ok(Placed {
            request: req,
            tenant_id,
            cloud_provider,
            region,
        })
    }

    fn place_standalone(&self, req: SessionRequest) -> Result<Placed, ApiError> {
        let required = |field: &str, v: &Option<String>| {
            v.clone().ok_or_else(|| {
                ApiError::field(
                    field,
                    format!("{field} is required for a session not attached to an instance"),
                )
            })
        };
        let tenant_id = required("tenant_id", &req.tenant_id)?;
        let cloud_provider = required("cloud_provider", &req.cloud_provider)?;
        let region = required("region", &req.region)?;
        if !self.has_tenant(&tenant_id) {
            return Err(ApiError::tenant_not_found());
        }
        if !self
            .catalogue
            .iter()
            .any(|c| c.cloud_provider == cloud_provider && c.region == region)
        {
            return Err(ApiError::field(
                "region",
                format!("Region {region} is not available on {cloud_provider}"),
            ));
        }
        Ok(Placed {
            request: req,
            tenant_id,
            cloud_provider,
            region,
        })
    }

    /// `POST /graph-analytics/sessions`: `true` when it made a new session.
    pub fn get_or_create_session(
        &mut self,
        req: SessionRequest,
        user_id: &str,
        now: Instant,
    ) -> Result<(bool, SessionView), ApiError> {
        let placed = self.place_session(req, now)?;
        let create = secs(self.timings.create);
        self.sessions.get_or_create(placed, user_id, now, create)
    }
}
