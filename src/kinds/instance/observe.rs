//! Observe: the reads `plan` names, carried out with as few calls as the
//! caches allow; `decide` gets it all as values. Nothing is chosen here.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;

use jiff::Timestamp;

use super::compare::Compared;
use super::decide::{self, AuraView, Observation, Stall, TenantChoice};
use super::plan::{self, AuraRead};
use super::secret;
use super::verify;
use crate::api::{AuraInstance, AuraInstanceStatus, ProjectId};
use crate::aura::{
    AuraClient, AuraErrorKind, CreatedInstance, Credentials, Instance, InstanceSummary, Tenant,
};
use crate::kinds::shared::views::Claim;
use crate::reconciler::credentials::{self, CredentialsProblem, CredentialsSource};
use crate::reconciler::driver;
use crate::reconciler::{Context, ReconcileError, Result};

type Ctx = Context<AuraInstance>;

/// Everything `decide` needs, owned; [`Observed::view`] lends it out.
pub struct Observed {
    pub current: AuraInstanceStatus,
    pub instance_id: Option<String>,
    pub aura: Aura,
    /// The spec held against the instance Aura reported (empty without one).
    pub compared: Compared,
    /// Another AuraInstance holds the observed instance's claim.
    pub claimed_elsewhere: bool,
    /// The Secret this object would write, and whether it is already there.
    pub secret: Option<SecretPlan>,
    /// A Secret of that name exists and is not this object's.
    pub not_owned: bool,
    /// A Secret nobody owns names the instance but is not taken.
    pub not_trusted: Option<verify::Distrust>,
    /// The password's keeper from a Secret replacement is still there, and no
    /// longer needed.
    pub leftover_backup: bool,
    /// The tenant's catalogue, when a resize is pending.
    pub catalogue: Option<Arc<Tenant>>,
    /// A clone's source, read only while there is no instance yet.
    pub source: Option<super::source::SourceView>,
    /// The snapshot before a pending resize or upgrade (snapshots.beforeChanges).
    pub before_change: Option<(String, decide::BeforeChange)>,
    /// While there is no instance yet: the project the credentials come
    /// through, when it does not hold its finalizer yet.
    pub project_not_held: Option<ProjectId>,
    /// While there is no instance yet: the AuraCustomerManagedKey the create
    /// names (`customerManagedKeyRef`), as far as the create is concerned.
    pub key: Option<decide::KeyGate>,
}

/// The connection Secret to write.
pub struct SecretPlan {
    pub desired: Secret,
    /// The Secret exists and holds all of it.
    pub up_to_date: bool,
    /// The Secret exists with another type, which cannot change: it is replaced.
    pub replace: bool,
}

pub enum Aura {
    Found(Box<Instance>),
    Gone,
    /// The status names it; no claim backs it (never asked about).
    Unheld(String),
    NotCreated {
        tenant: Arc<Tenant>,
        listed: Option<Arc<Vec<InstanceSummary>>>,
        claimed: Vec<String>,
        adoptable: Vec<Instance>,
    },
}

impl Observed {
    pub fn view(&self) -> AuraView<'_> {
        match &self.aura {
            Aura::Found(i) => AuraView::Found(i),
            Aura::Gone => AuraView::Gone,
            Aura::Unheld(id) => AuraView::Unheld(id),
            Aura::NotCreated {
                tenant,
                listed,
                claimed,
                adoptable,
            } => AuraView::NotCreated {
                tenant,
                listed: listed.as_deref().map(Vec::as_slice),
                claimed,
                adoptable,
            },
        }
    }

    pub fn found(&self) -> Option<&Instance> {
        match &self.aura {
            Aura::Found(i) => Some(i),
            _ => None,
        }
    }

    pub fn secret_view(&self) -> decide::SecretView {
        match (self.found(), &self.secret) {
            (Some(i), Some(plan)) => decide::SecretView {
                up_to_date: plan.up_to_date,
                has_password: secret::has_password(Some(&plan.desired), &i.id),
                not_owned: self.not_owned,
                not_trusted: self.not_trusted,
            },
            _ => decide::SecretView {
                not_owned: self.not_owned,
                not_trusted: self.not_trusted,
                ..Default::default()
            },
        }
    }
}

impl Observed {
    /// What `decide` looks at: this, the object, and the pass's settings.
    pub fn observation<'a>(
        &'a self,
        obj: &'a AuraInstance,
        aura_name: &'a str,
        ctx: &Ctx,
        restoring: Option<&'a str>,
    ) -> Observation<'a> {
        Observation {
            spec: &obj.spec,
            aura_name,
            status: &self.current,
            now: Timestamp::now(),
            aura: self.view(),
            compared: self.compared.clone(),
            secret: self.secret_view(),
            generation: obj.metadata.generation,
            catalogue: self.catalogue.as_deref(),
            create_grace: ctx.config.create_grace,
            claimed_elsewhere: self.claimed_elsewhere,
            secret_name: obj.connection_secret_name(),
            dry_run: ctx.config.dry_run,
            restoring,
            source: self.source.as_ref(),
            before_change: self.before_change.as_ref(),
            project_not_held: self.project_not_held.clone(),
            key: self.key.as_ref(),
        }
    }
}

/// Where the credentials come from, and the credentials or why there are none.
pub async fn credentials(
    obj: &AuraInstance,
    ctx: &Ctx,
) -> Result<(CredentialsSource, Result<Credentials, CredentialsProblem>)> {
    let source = ctx.credentials_source(obj);
    // The projects and namespaces may have changed since the watch last saw
    // the object: the index and the project's users follow what is used now.
    driver::note_source_in_pass(ctx, obj, &source);
    // A project's Secret is held by the project, not by each of its users.
    let hold = matches!(source, CredentialsSource::Own(_));
    let resolved = credentials::resolve(&ctx.client, &ctx.secrets, &source, hold).await?;
    Ok((source, resolved))
}

/// What observing found: everything `decide` needs, or a reason for a human
/// to act before anything else can be observed.
pub enum Gathered {
    Observed(Box<Observed>),
    Stall(Stall),
}

pub async fn observe(
    obj: &AuraInstance,
    ctx: &Ctx,
    aura: &AuraClient,
    credentials: &CredentialsSource,
) -> Result<Gathered> {
    let mut current = obj.status.clone().unwrap_or_default();
    ctx.keep_adoption(obj, &mut current);
    // A password received but not yet stored wins over everything else.
    let pending = ctx.pending_password(obj);
    let held = ctx
        .claims()
        .held_by(obj, current.instance_id.as_deref())
        .await?;
    let recorded = ctx.recorded_instance(obj);
    let read = plan::aura_read(
        &current,
        plan::Known {
            held: held.as_deref(),
            pending: pending.as_ref().map(|p| p.id.as_str()),
            recorded: recorded.as_deref(),
            adopt: obj.spec.instance_id.as_deref(),
        },
        plan::searches_to_adopt(&obj.spec, &current),
    );
    let (instance_id, observed_aura) = match read {
        AuraRead::Unheld(id) => (None, Aura::Unheld(id)),
        AuraRead::Instance(id) => {
            let seen = match aura.get_instance(&id).await {
                Ok(i) => Aura::Found(Box::new(i)),
                Err(e) if e.kind() == AuraErrorKind::NotFound => Aura::Gone,
                Err(e) => return Err(e.into()),
            };
            (Some(id), seen)
        }
        AuraRead::Tenant { list } => match not_created(obj, ctx, aura, &current, list).await? {
            Ok(seen) => (None, seen),
            Err(stall) => return Ok(Gathered::Stall(stall)),
        },
    };
    let compared = match &observed_aura {
        Aura::Found(i) => Compared::of(&obj.spec, &obj.aura_name(), i),
        _ => Compared::default(),
    };
    let follow = plan::follow_up(&obj.spec, &compared);

    // Nothing is recorded, written or sent for an instance without its claim;
    // an instance that sits elsewhere than the spec says is never claimed.
    let claimed_elsewhere = match &observed_aura {
        Aura::Found(i) if follow.claim => {
            matches!(ctx.claims().claim(obj, &i.id).await?, Claim::HeldByOther(_))
        }
        _ => false,
    };
    let secret = match connection_secret(
        obj,
        ctx,
        &observed_aura,
        &current,
        pending.as_ref(),
        claimed_elsewhere,
    )
    .await?
    {
        Ok(secret) => secret,
        Err(stall) => return Ok(Gathered::Stall(stall)),
    };

    let found = match &observed_aura {
        Aura::Found(i) => Some(i.as_ref()),
        _ => None,
    };
    // A resize is checked against the tenant's catalogue before it is sent;
    // without a known tenant it goes to Aura unchecked.
    let catalogue = match found
        .filter(|_| follow.catalogue)
        .and_then(|i| i.tenant_id.as_deref().or(current.tenant_id.as_deref()))
    {
        Some(tenant_id) => Some(ctx.tenants.tenant(aura, tenant_id).await?),
        None => None,
    };
    let (source, project_not_held, key) = match &observed_aura {
        Aura::NotCreated { .. } => (
            super::source::resolve(obj, ctx, aura).await?,
            ctx.projects.not_yet_held(credentials),
            obj.spec.customer_managed_key_ref.as_ref().map(|r| {
                let ns = obj.namespace().unwrap_or_default();
                decide::key_gate(
                    &obj.spec,
                    &r.name,
                    ctx.state.keys.key(&ns, &r.name).as_ref(),
                )
            }),
        ),
        _ => (None, None, None),
    };
    let before_change = match found.filter(|_| follow.before_change) {
        Some(_) => Some(before_change(obj, ctx).await?),
        None => None,
    };

    Ok(Gathered::Observed(Box::new(Observed {
        source,
        project_not_held,
        key,
        before_change,
        current,
        instance_id,
        aura: observed_aura,
        compared,
        claimed_elsewhere,
        secret: secret.plan,
        not_owned: secret.not_owned,
        not_trusted: secret.not_trusted,
        leftover_backup: secret.leftover_backup,
        catalogue,
    })))
}

/// No instance yet: the tenant to create in, the instances another object
/// holds, and the tenant's instances after a lost create (`list`).
async fn not_created(
    obj: &AuraInstance,
    ctx: &Ctx,
    aura: &AuraClient,
    current: &AuraInstanceStatus,
    list: bool,
) -> Result<Result<Aura, Stall>> {
    let tenant = match tenant(ctx, aura, obj, current).await? {
        Ok(t) => t,
        Err(stall) => return Ok(Err(stall)),
    };
    let listed = if list {
        Some(Arc::new(aura.list_instances(&tenant.id).await?))
    } else {
        None
    };
    let claimed = ctx.claims().held_by_others(
        obj,
        listed.as_deref().map(Vec::as_slice).unwrap_or_default(),
    );
    // adoption: AdoptOrCreate reads the unheld instances of its name (the
    // list does not say their type or region); bounded by that name.
    let mut adoptable = Vec::new();
    if plan::searches_to_adopt(&obj.spec, current) {
        let name = obj.aura_name();
        for summary in listed.iter().flat_map(|l| l.iter()) {
            if summary.name.as_deref() != Some(name.as_str()) || claimed.contains(&summary.id) {
                continue;
            }
            match aura.get_instance(&summary.id).await {
                Ok(i) => adoptable.push(i),
                Err(e) if e.kind() == AuraErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(Ok(Aura::NotCreated {
        tenant,
        listed,
        claimed,
        adoptable,
    }))
}

/// The connection Secret as observed.
struct SecretSeen {
    plan: Option<SecretPlan>,
    not_owned: bool,
    not_trusted: Option<verify::Distrust>,
    leftover_backup: bool,
}

/// The connection Secret: only the operator's own is ever written (DESIGN
/// 4.12), checked before a create too, so that no password is made for a
/// Secret that cannot take it.
async fn connection_secret(
    obj: &AuraInstance,
    ctx: &Ctx,
    observed_aura: &Aura,
    current: &AuraInstanceStatus,
    pending: Option<&CreatedInstance>,
    claimed_elsewhere: bool,
) -> Result<Result<SecretSeen, Stall>> {
    let ns = obj.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let name = obj.connection_secret_name();
    let backup = ctx
        .secrets
        .owned(&ns, &secret::backup_name(&name))
        .filter(|b| secret::controlled_by(b, obj));
    let mut not_owned = false;
    let mut not_trusted = None;
    let plan = match observed_aura {
        Aura::Found(i) if !claimed_elsewhere && templates_render(obj) => {
            // The watch's copy can tell that nothing needs writing; anything
            // else is decided on a live read.
            // A copy without the password is read live: a backup may hold it.
            let cached = ctx
                .secrets
                .owned(&ns, &name)
                .filter(|s| secret::may_write(Some(s), obj, Some(&i.id)))
                .filter(|s| secret::has_password(Some(s), &i.id))
                .and_then(|s| {
                    let desired = secret::desired_for(obj, current, i, pending, Some(&s)).ok()?;
                    secret::matches(&s, &desired).then_some(desired)
                });
            match cached {
                Some(desired) => Some(SecretPlan {
                    desired,
                    up_to_date: true,
                    replace: false,
                }),
                None => {
                    let existing = read_secret(&secrets, &name).await?;
                    let writable = match secret::standing(existing.as_ref(), obj, Some(&i.id)) {
                        secret::Standing::Writable => true,
                        secret::Standing::Takeover { labelled } => {
                            // Restored from a backup or brought by an external
                            // store: taken only on the database's yes.
                            let found = existing.as_ref().expect("a Secret to take over");
                            not_trusted = verify::trust(obj, ctx, found, labelled).await;
                            not_trusted.is_none()
                        }
                        secret::Standing::OtherInstance(_) => {
                            not_trusted = Some(verify::Distrust::OtherInstance);
                            false
                        }
                        secret::Standing::Foreign => {
                            not_owned = true;
                            false
                        }
                    };
                    if writable {
                        // The backup is read live when it could hold the only
                        // copy of the password: just after a start the watch
                        // may not have listed it yet.
                        let backup = if secret::has_password(existing.as_ref(), &i.id) {
                            None
                        } else {
                            read_secret(&secrets, &secret::backup_name(&name))
                                .await?
                                .filter(|b| secret::controlled_by(b, obj))
                        };
                        match secret_plan(obj, current, i, pending, existing, backup.as_ref()) {
                            Ok(plan) => Some(plan),
                            Err(stall) => return Ok(Err(stall)),
                        }
                    } else {
                        None
                    }
                }
            }
        }
        Aura::NotCreated { .. } => {
            let ours = ctx
                .secrets
                .owned(&ns, &name)
                .is_some_and(|s| secret::may_write(Some(&s), obj, None));
            if !ours {
                let existing = read_secret(&secrets, &name).await?;
                not_owned = !secret::may_write(existing.as_ref(), obj, None);
            }
            None
        }
        _ => None,
    };
    // The backup goes once the Secret is written, unless it holds the only
    // copy of the password.
    let leftover_backup = match (observed_aura, &backup, &plan) {
        (Aura::Found(i), Some(backup), Some(plan)) => {
            plan.up_to_date && secret::may_drop_backup(&plan.desired, backup, &i.id)
        }
        _ => false,
    };
    Ok(Ok(SecretSeen {
        plan,
        not_owned,
        not_trusted,
        leftover_backup,
    }))
}

/// The Secret this object would write over `existing` (ours, or absent).
fn secret_plan(
    obj: &AuraInstance,
    current: &AuraInstanceStatus,
    instance: &Instance,
    pending: Option<&CreatedInstance>,
    existing: Option<Secret>,
    backup: Option<&Secret>,
) -> Result<SecretPlan, Stall> {
    // A replacement cut short kept the password in the backup.
    let carry = match &existing {
        Some(e) if secret::has_password(Some(e), &instance.id) => Some(e),
        _ => backup.or(existing.as_ref()),
    };
    let desired = secret::desired_for(obj, current, instance, pending, carry)
        .map_err(|problem| (decide::Reason::InvalidTemplate, problem.to_string()))?;
    let up_to_date = existing
        .as_ref()
        .is_some_and(|s| secret::matches(s, &desired));
    let replace = existing
        .as_ref()
        .is_some_and(|s| !secret::same_type(s, &desired));
    Ok(SecretPlan {
        desired,
        up_to_date,
        replace,
    })
}

/// The AuraSnapshot of this generation's change, and where it is.
async fn before_change(obj: &AuraInstance, ctx: &Ctx) -> Result<(String, decide::BeforeChange)> {
    use crate::api::{AuraSnapshot, SnapshotProgress};
    let name = super::schedule::before_change_name(
        &obj.name_any(),
        obj.metadata.generation.unwrap_or_default(),
    );
    let api: Api<AuraSnapshot> =
        Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let found = api
        .get_opt(&name)
        .await
        .map_err(|e| ReconcileError::kube("read the snapshot before the change", e))?;
    let state = match found {
        None => decide::BeforeChange::Missing,
        Some(s) => match s.status.unwrap_or_default().progress() {
            SnapshotProgress::Completed => decide::BeforeChange::Completed,
            SnapshotProgress::Failed => decide::BeforeChange::Failed,
            SnapshotProgress::Taking => decide::BeforeChange::Taking,
        },
    };
    Ok((name, state))
}

/// The extra keys' templates render over placeholder values (else `decide`
/// stalls with the template's error, and nothing is written).
fn templates_render(obj: &AuraInstance) -> bool {
    obj.spec
        .connection_secret
        .as_ref()
        .is_none_or(|c| secret::template::check(obj.secret_format(), &c.extra_keys).is_ok())
}

pub async fn read_secret(secrets: &Api<Secret>, name: &str) -> Result<Option<Secret>> {
    secrets
        .get_opt(name)
        .await
        .map_err(|e| ReconcileError::kube("read the connection Secret", e))
}

/// The tenant to create in, with its catalogue; or why there is none.
async fn tenant(
    ctx: &Ctx,
    aura: &AuraClient,
    obj: &AuraInstance,
    current: &AuraInstanceStatus,
) -> Result<Result<Arc<Tenant>, Stall>> {
    let project_tenant = ctx.credentials_source(obj).tenant_id().map(str::to_string);
    let id = match (
        decide::tenant_choice(obj.spec.tenant_id.as_deref(), current),
        project_tenant,
    ) {
        (TenantChoice::Known(id), _) => id,
        // The project's tenant comes after the spec's and the recorded one.
        (TenantChoice::List, Some(id)) => id,
        (TenantChoice::List, None) => match decide::only_tenant(&ctx.tenants.list(aura).await?) {
            Ok(id) => id,
            Err(stall) => return Ok(Err(stall)),
        },
    };
    match ctx.tenants.tenant(aura, &id).await {
        Ok(t) => Ok(Ok(t)),
        Err(e) => match decide::tenant_missing(&e) {
            Some(stall) => Ok(Err(stall)),
            None => Err(e.into()),
        },
    }
}
