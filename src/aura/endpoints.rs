//! The Aura API v1 calls, one method each: tenants, instances, snapshots,
//! customer-managed keys, Graph Analytics sessions.

use reqwest::Method;

use super::client::{AuraClient, Call, Version};
use super::error::{AuraError, AuraErrorKind, Endpoint};
use super::model::{
    CreateInstanceRequest, CreateKeyRequest, CreatedInstance, CustomerManagedKey, Instance,
    InstanceSummary, MetricsIntegration, OverwriteInstanceRequest, Reachable, Session,
    SessionRequest, SessionSizing, SessionSizingRequest, Snapshot, SnapshotCreated, Tenant,
    TenantSummary, UpdateInstanceRequest, UpgradeInstanceRequest,
};

impl AuraClient {
    // ---- tenants ----

    /// `GET /tenants`.
    pub async fn list_tenants(&self) -> Result<Vec<TenantSummary>, AuraError> {
        self.get_list(
            "list_tenants",
            "list tenants".into(),
            &["tenants"],
            &[],
            Endpoint::Api,
        )
        .await
    }

    /// `GET /tenants/{id}` with its allowed instance configurations.
    pub async fn get_tenant(&self, id: &str) -> Result<Tenant, AuraError> {
        self.get_json(
            "get_tenant",
            format!("get tenant {id}"),
            &["tenants", id],
            &[],
            Endpoint::Tenant,
        )
        .await
    }

    /// `GET /tenants/{id}/metrics-integration`: the project's metrics
    /// endpoint; `None` where the tier does not offer it (Aura answers 400
    /// `tenant-incapable-of-action`).
    pub async fn get_metrics_integration(
        &self,
        tenant_id: &str,
    ) -> Result<Option<MetricsIntegration>, AuraError> {
        let result = self
            .get_json(
                "get_metrics_integration",
                format!("get the metrics integration of tenant {tenant_id}"),
                &["tenants", tenant_id, "metrics-integration"],
                &[],
                Endpoint::Tenant,
            )
            .await;
        match result {
            Ok(found) => Ok(Some(found)),
            Err(e) if e.not_offered() => Ok(None),
            Err(e) => Err(e),
        }
    }

    // ---- instances ----

    /// `GET /instances?tenantId=`: summaries, without status.
    pub async fn list_instances(&self, tenant_id: &str) -> Result<Vec<InstanceSummary>, AuraError> {
        self.get_list(
            "list_instances",
            format!("list instances of tenant {tenant_id}"),
            &["instances"],
            &[("tenantId", tenant_id)],
            Endpoint::Tenant,
        )
        .await
    }

    /// `POST /instances`. Never retried: a failure after the request may have
    /// reached Aura is [`AuraErrorKind::OutcomeUnknown`]; the caller must look
    /// for the instance (by name in the tenant) before creating again.
    pub async fn create_instance(
        &self,
        req: &CreateInstanceRequest,
    ) -> Result<CreatedInstance, AuraError> {
        let label = format!("create instance {:?}", req.name);
        let body = serde_json::to_value(req).map_err(|e| {
            AuraError::other(&label, AuraErrorKind::NeedsHuman, None, e.to_string(), None)
        })?;
        let answer = self
            .send(Call {
                name: "create_instance",
                label: label.clone(),
                method: Method::POST,
                path: &["instances"],
                query: &[],
                body: Some(body),
                endpoint: Endpoint::Create,
                version: Version::V1,
            })
            .await?;
        // Only id and password are required (DESIGN 4.2): an answer that lacks
        // them is an outcome to resolve by listing, never a reason to retry.
        Self::decode(&label, &answer, AuraErrorKind::OutcomeUnknown)
    }

    /// `GET /instances/{id}`.
    pub async fn get_instance(&self, id: &str) -> Result<Instance, AuraError> {
        let mut instance: Instance = self
            .get_json(
                "get_instance",
                format!("get instance {id}"),
                &["instances", id],
                &[],
                Endpoint::Api,
            )
            .await?;
        if instance.id.is_empty() {
            instance.id = id.to_string();
        }
        Ok(instance)
    }

    /// `PATCH /instances/{id}` (rename answers 200, resize 202). Not retried.
    pub async fn update_instance(
        &self,
        id: &str,
        req: &UpdateInstanceRequest,
    ) -> Result<(), AuraError> {
        let label = format!("update instance {id}");
        let body = serde_json::to_value(req).map_err(|e| {
            AuraError::other(&label, AuraErrorKind::NeedsHuman, None, e.to_string(), None)
        })?;
        self.change(
            "update_instance",
            label,
            Method::PATCH,
            &["instances", id],
            body,
        )
        .await
        .map(drop)
    }

    /// `DELETE /instances/{id}`: 202 and 404 both mean done.
    pub async fn delete_instance(&self, id: &str) -> Result<(), AuraError> {
        self.delete_gone_ok(
            "delete_instance",
            format!("delete instance {id}"),
            &["instances", id],
        )
        .await
    }

    /// `POST /instances/{id}/pause`. Not retried.
    pub async fn pause_instance(&self, id: &str) -> Result<(), AuraError> {
        self.change(
            "pause_instance",
            format!("pause instance {id}"),
            Method::POST,
            &["instances", id, "pause"],
            serde_json::json!({}),
        )
        .await
        .map(drop)
    }

    /// `POST /instances/{id}/resume`. Not retried.
    pub async fn resume_instance(&self, id: &str) -> Result<(), AuraError> {
        self.change(
            "resume_instance",
            format!("resume instance {id}"),
            Method::POST,
            &["instances", id, "resume"],
            serde_json::json!({}),
        )
        .await
        .map(drop)
    }

    /// `POST /instances/{id}/upgrade` (professional to business-critical),
    /// optionally with a resize. Not retried.
    pub async fn upgrade_instance(
        &self,
        id: &str,
        req: &UpgradeInstanceRequest,
    ) -> Result<(), AuraError> {
        let label = format!("upgrade instance {id}");
        let body = serde_json::to_value(req).map_err(|e| {
            AuraError::other(&label, AuraErrorKind::NeedsHuman, None, e.to_string(), None)
        })?;
        self.change(
            "upgrade_instance",
            label,
            Method::POST,
            &["instances", id, "upgrade"],
            body,
        )
        .await
        .map(drop)
    }

    /// `POST /instances/{id}/overwrite`: replaces the instance's data with
    /// `source_instance_id`'s current data, or with its snapshot
    /// `source_snapshot_id` (which must be exportable). Destroys the data the
    /// instance holds; not retried.
    pub async fn overwrite_instance(
        &self,
        instance_id: &Reachable,
        source_instance_id: &Reachable,
        source_snapshot_id: Option<&str>,
    ) -> Result<(), AuraError> {
        let (instance_id, source_instance_id) = (instance_id.as_str(), source_instance_id.as_str());
        let label = match source_snapshot_id {
            Some(sid) => format!(
                "overwrite instance {instance_id} with snapshot {sid} of instance {source_instance_id}"
            ),
            None => format!("overwrite instance {instance_id} with instance {source_instance_id}"),
        };
        let req = OverwriteInstanceRequest {
            source_instance_id: source_instance_id.to_string(),
            source_snapshot_id: source_snapshot_id.map(str::to_string),
        };
        let body = serde_json::to_value(&req).map_err(|e| {
            AuraError::other(&label, AuraErrorKind::NeedsHuman, None, e.to_string(), None)
        })?;
        self.change(
            "overwrite_instance",
            label,
            Method::POST,
            &["instances", instance_id, "overwrite"],
            body,
        )
        .await
        .map(drop)
    }

    // ---- snapshots ----

    /// `POST /instances/{id}/snapshots`: an on-demand snapshot. Not retried.
    pub async fn create_snapshot(
        &self,
        instance_id: &Reachable,
    ) -> Result<SnapshotCreated, AuraError> {
        let instance_id = instance_id.as_str();
        let label = format!("create snapshot of instance {instance_id}");
        let answer = self
            .change(
                "create_snapshot",
                label.clone(),
                Method::POST,
                &["instances", instance_id, "snapshots"],
                serde_json::json!({}),
            )
            .await?;
        // A 202 without a body: the snapshot exists, its id comes from a list.
        if answer.body.trim().is_empty() {
            return Ok(SnapshotCreated::default());
        }
        Self::decode(&label, &answer, AuraErrorKind::Transient)
    }

    /// `GET /instances/{id}/snapshots[?date=YYYY-MM-DD]` (today when `date` is `None`).
    pub async fn list_snapshots(
        &self,
        instance_id: &Reachable,
        date: Option<&str>,
    ) -> Result<Vec<Snapshot>, AuraError> {
        let instance_id = instance_id.as_str();
        let query: Vec<(&str, &str)> = date.map(|d| ("date", d)).into_iter().collect();
        self.get_list(
            "list_snapshots",
            format!("list snapshots of instance {instance_id}"),
            &["instances", instance_id, "snapshots"],
            &query,
            Endpoint::Api,
        )
        .await
    }

    /// `GET /instances/{id}/snapshots/{snapshot_id}`.
    pub async fn get_snapshot(
        &self,
        instance_id: &Reachable,
        snapshot_id: &str,
    ) -> Result<Snapshot, AuraError> {
        let instance_id = instance_id.as_str();
        self.get_json(
            "get_snapshot",
            format!("get snapshot {snapshot_id} of instance {instance_id}"),
            &["instances", instance_id, "snapshots", snapshot_id],
            &[],
            Endpoint::Api,
        )
        .await
    }

    /// `POST /instances/{id}/snapshots/{snapshot_id}/restore`. Not retried.
    pub async fn restore_snapshot(
        &self,
        instance_id: &Reachable,
        snapshot_id: &str,
    ) -> Result<(), AuraError> {
        let instance_id = instance_id.as_str();
        self.change(
            "restore_snapshot",
            format!("restore snapshot {snapshot_id} to instance {instance_id}"),
            Method::POST,
            &[
                "instances",
                instance_id,
                "snapshots",
                snapshot_id,
                "restore",
            ],
            serde_json::json!({}),
        )
        .await
        .map(drop)
    }

    // ---- customer-managed keys ----

    /// `GET /customer-managed-keys?tenantId=`: id, name and tenant of each.
    pub async fn list_keys(&self, tenant_id: &str) -> Result<Vec<CustomerManagedKey>, AuraError> {
        self.get_list(
            "list_keys",
            format!("list customer managed keys of tenant {tenant_id}"),
            &["customer-managed-keys"],
            &[("tenantId", tenant_id)],
            Endpoint::Tenant,
        )
        .await
    }

    /// `GET /customer-managed-keys/{id}`.
    pub async fn get_key(&self, id: &str) -> Result<CustomerManagedKey, AuraError> {
        let mut key: CustomerManagedKey = self
            .get_json(
                "get_key",
                format!("get customer managed key {id}"),
                &["customer-managed-keys", id],
                &[],
                Endpoint::Api,
            )
            .await?;
        if key.id.is_empty() {
            key.id = id.to_string();
        }
        Ok(key)
    }

    /// `POST /customer-managed-keys` (202). Not idempotent and never
    /// retried: a failure after the request may have reached Aura is
    /// [`AuraErrorKind::OutcomeUnknown`], to be resolved by listing.
    pub async fn create_key(
        &self,
        req: &CreateKeyRequest,
    ) -> Result<CustomerManagedKey, AuraError> {
        let label = format!("create customer managed key {:?}", req.name);
        let body = serde_json::to_value(req).map_err(|e| {
            AuraError::other(&label, AuraErrorKind::NeedsHuman, None, e.to_string(), None)
        })?;
        let answer = self
            .send(Call {
                name: "create_key",
                label: label.clone(),
                method: Method::POST,
                path: &["customer-managed-keys"],
                query: &[],
                body: Some(body),
                endpoint: Endpoint::Create,
                version: Version::V1,
            })
            .await?;
        Self::decode(&label, &answer, AuraErrorKind::OutcomeUnknown)
    }

    /// `DELETE /customer-managed-keys/{id}`: 204 and 404 both mean gone.
    /// While an instance uses the key Aura answers 400
    /// `encryption-key-is-active` ([`AuraError::key_in_use`]).
    pub async fn delete_key(&self, id: &str) -> Result<(), AuraError> {
        self.delete_gone_ok(
            "delete_key",
            format!("delete customer managed key {id}"),
            &["customer-managed-keys", id],
        )
        .await
    }

    // ---- Graph Analytics sessions ----

    /// `POST /graph-analytics/sessions`: get-or-create by name in the
    /// project, so safe to repeat. A session of that name with other
    /// parameters is a 409 ([`AuraErrorKind::Conflict`] with Aura's words).
    pub async fn get_or_create_session(&self, req: &SessionRequest) -> Result<Session, AuraError> {
        let label = format!("get or create session {:?}", req.name);
        let body = serde_json::to_value(req).map_err(|e| {
            AuraError::other(&label, AuraErrorKind::NeedsHuman, None, e.to_string(), None)
        })?;
        let answer = self
            .change(
                "get_or_create_session",
                label.clone(),
                Method::POST,
                &["graph-analytics", "sessions"],
                body,
            )
            .await?;
        Self::decode(&label, &answer, AuraErrorKind::Transient)
    }

    /// `GET /graph-analytics/sessions/{id}`.
    pub async fn get_session(&self, id: &str) -> Result<Session, AuraError> {
        let mut session: Session = self
            .get_json(
                "get_session",
                format!("get session {id}"),
                &["graph-analytics", "sessions", id],
                &[],
                Endpoint::Api,
            )
            .await?;
        if session.id.is_empty() {
            session.id = id.to_string();
        }
        Ok(session)
    }

    /// `DELETE /graph-analytics/sessions/{id}`: 202 and 404 both mean gone.
    pub async fn delete_session(&self, id: &str) -> Result<(), AuraError> {
        self.delete_gone_ok(
            "delete_session",
            format!("delete session {id}"),
            &["graph-analytics", "sessions", id],
        )
        .await
    }

    /// `POST /graph-analytics/sessions/sizing`: the memory a session needs.
    pub async fn size_session(
        &self,
        req: &SessionSizingRequest,
    ) -> Result<SessionSizing, AuraError> {
        let label = "size a session".to_string();
        let body = serde_json::to_value(req).map_err(|e| {
            AuraError::other(&label, AuraErrorKind::NeedsHuman, None, e.to_string(), None)
        })?;
        let answer = self
            .change(
                "size_session",
                label.clone(),
                Method::POST,
                &["graph-analytics", "sessions", "sizing"],
                body,
            )
            .await?;
        Self::decode(&label, &answer, AuraErrorKind::Transient)
    }

    /// A DELETE whose 404 means done, as the thing is gone either way.
    async fn delete_gone_ok(
        &self,
        name: &'static str,
        label: String,
        path: &[&str],
    ) -> Result<(), AuraError> {
        let result = self
            .send(Call {
                name,
                label,
                method: Method::DELETE,
                path,
                query: &[],
                body: None,
                endpoint: Endpoint::Api,
                version: Version::V1,
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == AuraErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}
