//! Act: what one pass reads (the AuraInstance, its admin login, the users in
//! the database, the Secret and whether its login works), the one step
//! `decide` names, and the status.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use super::decide::{
    self, InstanceGate, LoginCheck, Observation, Schedule, SecretSeen, Step, UserReason,
    UserSummary, Why,
};
use crate::api::{
    AuraDatabaseUser, AuraDatabaseUserStatus, AuraInstance, DATABASE_USER_LABEL, Phase,
};
use crate::kinds::shared::connection::{self, format, template};
use crate::kinds::shared::cron;
use crate::query_api::admin::{self, Neo4jCode, Password, QueryError, Statement};
use crate::query_api::{QueryApi, Verdict};
use crate::reconciler::status::{self, Progress, Write};
use crate::reconciler::{Context, ReconcileError, Result};

type Ctx = Context<AuraDatabaseUser>;

/// One pass: look (the instance, the database, the Secret), decide (pure),
/// carry the one step out, write the status.
pub async fn apply(obj: &AuraDatabaseUser, ctx: &Ctx) -> Result<Action> {
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<AuraDatabaseUser> = Api::namespaced(ctx.client.clone(), &ns);
    let mut next = obj.status.clone().unwrap_or_default();
    let now = Timestamp::now();
    let seen = match look(obj, ctx, &mut next, now).await? {
        Looked::Seen(seen) => seen,
        Looked::Stop(summary, requeue) => {
            return finish(&api, obj, &mut next, &summary, Some(requeue)).await;
        }
    };
    let names = obj.usernames();
    let decision = decide::decide(&Observation {
        now,
        names: &names,
        status: &next,
        roles: &obj.spec.roles,
        adopt: obj.adopts(),
        rotate_requested: obj.rotate_requested(),
        schedule: seen.schedule,
        grace: seen.grace,
        secret: &seen.secret,
        users: &seen.users,
        existing_roles: seen.existing_roles.as_deref(),
        login: &seen.login,
        rbac: seen.rbac,
    });
    let step = decision.step.clone();
    tracing::debug!(?step, requeue = ?decision.requeue, "database user step");
    let mut summary = decision.summary.clone();
    if let Step::Record { users, adopted } = step {
        for user in users {
            if !next.users.contains(&user) {
                next.users.push(user.clone());
            }
            if adopted && !next.adopted.contains(&user) {
                next.adopted.push(user);
            }
        }
        // The name is on record before anything makes the user: guarded,
        // so that a pass that read an older object does not record twice.
        status::summarize(obj, &mut next, &summary);
        status::write(&api, obj, &next, Write::Guarded("record the users")).await?;
        return Ok(Action::requeue(decide::NEXT_STEP));
    }
    match carry_out(obj, ctx, &seen, &mut next, step, now).await? {
        Ok(Some(after)) => summary = after,
        Ok(None) => {}
        Err(e) => return refused(&api, obj, &mut next, &e).await,
    }
    finish(&api, obj, &mut next, &summary, decision.requeue).await
}

/// What a pass saw before deciding, or why it stops there.
enum Looked {
    Seen(Box<Sight>),
    Stop(UserSummary, Duration),
}

struct Sight {
    instance: std::sync::Arc<AuraInstance>,
    instance_id: String,
    rbac: bool,
    db: Database,
    schedule: Schedule,
    grace: SignedDuration,
    users: Vec<admin::UserRow>,
    existing_roles: Option<Vec<String>>,
    existing: Option<Secret>,
    secret: SecretSeen,
    login: LoginCheck,
}

/// The reads of a pass: the gates first (no call), then the database and
/// the Secret.
async fn look(
    obj: &AuraDatabaseUser,
    ctx: &Ctx,
    next: &mut AuraDatabaseUserStatus,
    now: Timestamp,
) -> Result<Looked> {
    let (instance, gate) = instance_gate(obj, ctx).await?;
    let rotation = rotation(obj, next, now);
    let template_problem = obj
        .spec
        .connection_secret
        .as_ref()
        .filter(|c| !c.extra_keys.is_empty())
        .and_then(|c| template::check(obj.secret_format(), &c.extra_keys).err())
        .map(|p| p.to_string());
    let problem = rotation
        .as_ref()
        .err()
        .map(String::as_str)
        .or(template_problem.as_deref());
    let conflict = conflict(obj, ctx);
    if let Some(summary) = decide::gate(&gate, &obj.spec.roles, conflict.as_deref(), problem) {
        let requeue = if summary.stalled.is_some() {
            decide::SETTLED
        } else {
            decide::WAIT
        };
        return Ok(Looked::Stop(summary, requeue));
    }
    let (Some(instance), InstanceGate::Ready { instance_id, rbac }) = (instance, gate) else {
        return Err(ReconcileError::Invariant(
            "a Ready gate without its instance",
        ));
    };
    let (schedule, grace) = rotation.unwrap_or_default();
    next.instance_id = Some(instance_id.clone());
    next.next_rotation_at = schedule.next.map(|t| t.to_string());
    let db = match Database::of(ctx, &instance, obj.database()).await? {
        Ok(db) => db,
        Err(summary) => return Ok(Looked::Stop(summary, decide::WAIT)),
    };
    let names = obj.usernames();
    if let Some(summary) = decide::admin_name(&names, &db.admin_user) {
        return Ok(Looked::Stop(summary, decide::SETTLED));
    }
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let users = match db.admin(ctx, &admin::show_users(&name_refs)).await {
        Ok(rows) => admin::user_rows(&rows),
        Err(e) => return Ok(stop(&e)),
    };
    let existing_roles = if rbac && !obj.spec.roles.is_empty() {
        match db.admin(ctx, &admin::show_roles(&obj.spec.roles)).await {
            Ok(rows) => Some(admin::first_column(&rows)),
            Err(e) => return Ok(stop(&e)),
        }
    } else {
        None
    };
    let secrets: Api<Secret> =
        Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let existing = secrets
        .get_opt(&obj.secret_name())
        .await
        .map_err(|e| ReconcileError::kube("read the Secret", e))?;
    let secret = secret_seen(obj, existing.as_ref());
    if secret == SecretSeen::Foreign {
        let summary = Progress::stalled(
            UserReason::SecretNotOwned,
            format!(
                "a Secret named {} exists and this object does not own it: the operator never writes over it; delete it or set spec.connectionSecret.name",
                obj.secret_name()
            ),
        );
        return Ok(Looked::Stop(summary, decide::SETTLED));
    }
    let login = match existing.as_ref().and_then(connection::login) {
        Some((user, password)) if names.contains(&user) => {
            login_check(db.check(ctx, &user, &password).await, obj.database())
        }
        _ => LoginCheck::NotAsked,
    };
    Ok(Looked::Seen(Box::new(Sight {
        instance,
        instance_id,
        rbac,
        db,
        schedule,
        grace,
        users,
        existing_roles,
        existing,
        secret,
        login,
    })))
}

fn stop(e: &QueryError) -> Looked {
    let (summary, requeue) = refusal(e);
    Looked::Stop(summary, requeue)
}

fn login_check(verdict: Verdict, database: &str) -> LoginCheck {
    match verdict {
        Verdict::Accepted => LoginCheck::Accepted,
        Verdict::Rejected { .. } => LoginCheck::Refused,
        Verdict::Forbidden { code } => LoginCheck::Unreachable(format!(
            "the login may not use database {database} ({})",
            code.unwrap_or_default()
        )),
        Verdict::Unreachable(why) => LoginCheck::Unreachable(why),
    }
}

/// Carries out one step (not `Record`, which is a status write of its
/// own). `Ok(Some(..))`: the status to show instead of the decision's.
async fn carry_out(
    obj: &AuraDatabaseUser,
    ctx: &Ctx,
    seen: &Sight,
    next: &mut AuraDatabaseUserStatus,
    step: Step,
    now: Timestamp,
) -> Result<std::result::Result<Option<UserSummary>, QueryError>> {
    let db = &seen.db;
    let rotate_requested = obj.rotate_requested();
    match step {
        Step::Settled | Step::Record { .. } => {}
        Step::Promote { user } => {
            decide::promote(next, &user, now, seen.grace, rotate_requested);
        }
        Step::Reclaim { user, users } => {
            let Some((_, password)) = seen.existing.as_ref().and_then(connection::login) else {
                return Err(ReconcileError::Invariant("a restored Secret with a login"));
            };
            let password = Password::from_secret(password);
            let desired = secret(obj, &seen.instance, &seen.instance_id, &user, &password)
                .map_err(|_| ReconcileError::Invariant("a template that passed its check"))?;
            let secrets: Api<Secret> =
                Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
            write_secret(&secrets, seen.existing.as_ref(), &desired).await?;
            for u in users {
                if !next.users.contains(&u) {
                    next.users.push(u);
                }
            }
            decide::promote(next, &user, now, seen.grace, rotate_requested);
            ctx.normal(
                obj,
                UserReason::SecretTakenOver,
                &format!("the restored Secret holds a working login of {user}: taken over, its password kept"),
            )
            .await;
            return Ok(Ok(Some(Progress::working(
                UserReason::Rotating,
                "checking the login",
            ))));
        }
        Step::SetLogin { user, create, why } => {
            let password = Password::generate();
            let statement = if create {
                admin::create_user(&user, &password)
            } else {
                admin::alter_user_password(&user, &password)
            };
            if let Err(e) = db.admin(ctx, &statement).await {
                return Ok(Err(e));
            }
            if seen.rbac {
                for role in &obj.spec.roles {
                    if let Err(e) = db.admin(ctx, &admin::grant_role(role, &user)).await {
                        return Ok(Err(e));
                    }
                }
            }
            let desired = secret(obj, &seen.instance, &seen.instance_id, &user, &password)
                .map_err(|_| ReconcileError::Invariant("a template that passed its check"))?;
            let secrets: Api<Secret> =
                Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
            write_secret(&secrets, seen.existing.as_ref(), &desired).await?;
            decide::promote(next, &user, now, seen.grace, rotate_requested);
            let (reason, note) = login_event(&user, create, why);
            ctx.normal(obj, reason, &note).await;
            return Ok(Ok(Some(Progress::working(
                UserReason::Rotating,
                "checking the new login",
            ))));
        }
        Step::Roles { grant, revoke } => {
            let grants = grant.iter().map(|(r, u)| admin::grant_role(r, u));
            let revokes = revoke.iter().map(|(r, u)| admin::revoke_role(r, u));
            for statement in grants.chain(revokes) {
                if let Err(e) = db.admin(ctx, &statement).await {
                    return Ok(Err(e));
                }
            }
        }
        Step::Retire { user } => {
            // A password nobody knows: works on every edition (suspending a
            // user does not exist in community editions).
            let unknown = Password::generate();
            if let Err(e) = db
                .admin(ctx, &admin::alter_user_password(&user, &unknown))
                .await
            {
                return Ok(Err(e));
            }
            next.retiring = None;
            ctx.normal(
                obj,
                UserReason::PreviousLoginRetired,
                &format!("the grace period of {user} ended; its password was replaced"),
            )
            .await;
        }
    }
    Ok(Ok(None))
}

/// The event of a login that got a fresh password.
fn login_event(user: &str, create: bool, why: Why) -> (UserReason, String) {
    match why {
        Why::First if create => (UserReason::UserCreated, format!("created user {user}")),
        Why::First => (
            UserReason::UserCreated,
            format!("took over user {user} with a new password"),
        ),
        Why::Rotation => (
            UserReason::PasswordRotated,
            format!(
                "the Secret now holds {user} with a fresh password; the previous login works until the grace period ends"
            ),
        ),
        Why::Repair => (
            UserReason::LoginRepaired,
            format!("the Secret's login did not work: {user} got a fresh password"),
        ),
    }
}

/// Writes the status and says when to look again. Guarded: a pass that
/// read the object before the watch showed this operator's last write gets
/// a conflict (and a new pass) instead of writing the older status over it
/// (which would forget the live login, and with it a rotation's grace period).
async fn finish(
    api: &Api<AuraDatabaseUser>,
    obj: &AuraDatabaseUser,
    next: &mut AuraDatabaseUserStatus,
    summary: &UserSummary,
    requeue: Option<Duration>,
) -> Result<Action> {
    status::summarize(obj, next, summary);
    status::write(api, obj, next, Write::GuardedIfChanged("write status")).await?;
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

/// A statement that did not run, as status.
async fn refused(
    api: &Api<AuraDatabaseUser>,
    obj: &AuraDatabaseUser,
    next: &mut AuraDatabaseUserStatus,
    e: &QueryError,
) -> Result<Action> {
    let (summary, requeue) = refusal(e);
    finish(api, obj, next, &summary, Some(requeue)).await
}

/// The status a refusal gives: the database's own code and message.
pub fn refusal(e: &QueryError) -> (UserSummary, Duration) {
    match e {
        QueryError::LoginRefused { .. } => (
            Progress::stalled(
                UserReason::AuthenticationFailed,
                "the database refused the AuraInstance's admin login (from its connection Secret): see the AuraInstance's CredentialsVerified condition",
            ),
            decide::WAIT,
        ),
        QueryError::Unreachable(_) => (
            Progress::working(UserReason::Unreachable, e.to_string()),
            decide::WAIT,
        ),
        // Roles asked of a database without them: the tier said so itself.
        QueryError::Refused { .. } if e.code() == Some(Neo4jCode::Unsupported) => (
            Progress::stalled(
                UserReason::RolesNotSupported,
                format!("the database has no role-based access control; remove spec.roles ({e})"),
            ),
            decide::WAIT * 4,
        ),
        QueryError::Refused { .. } => (
            Progress::stalled(UserReason::DatabaseRefused, e.to_string()),
            decide::WAIT * 4,
        ),
    }
}

/// The AuraInstance named by the spec, and what it allows.
pub async fn instance_gate(
    obj: &AuraDatabaseUser,
    ctx: &Ctx,
) -> Result<(Option<std::sync::Arc<AuraInstance>>, InstanceGate)> {
    let ns = obj.namespace().unwrap_or_default();
    let Some(instance) = ctx.state.instances.find(&ns, &obj.spec.instance_ref.name) else {
        return Ok((None, InstanceGate::NotFound));
    };
    if instance.meta().deletion_timestamp.is_some() {
        return Ok((Some(instance), InstanceGate::Deleting));
    }
    let istatus = instance.status.as_ref();
    if instance.spec.paused || istatus.and_then(|s| s.phase) == Some(Phase::Paused) {
        return Ok((Some(instance), InstanceGate::Paused));
    }
    let conditions = istatus.map(|s| s.conditions.as_slice()).unwrap_or_default();
    if !status::is_true(conditions, status::READY) {
        let why = status::condition(conditions, status::READY)
            .map(|c| format!("{}: {}", c.reason, c.message))
            .unwrap_or_else(|| "no status yet".into());
        return Ok((Some(instance), InstanceGate::NotReady(why)));
    }
    let Some(id) = ctx.state.instances.held_by(&instance).await? else {
        return Ok((
            Some(instance),
            InstanceGate::NotReady("it holds no Aura instance".into()),
        ));
    };
    let rbac = instance.spec.instance_type.has_role_based_access();
    Ok((
        Some(instance),
        InstanceGate::Ready {
            instance_id: id,
            rbac,
        },
    ))
}

/// The schedule and the grace period, or why they do not parse.
fn rotation(
    obj: &AuraDatabaseUser,
    status: &AuraDatabaseUserStatus,
    now: Timestamp,
) -> std::result::Result<(Schedule, SignedDuration), String> {
    let spec = obj.spec.rotation.as_ref();
    let grace = decide::grace_period(spec.and_then(|r| r.grace_period.as_deref()))?;
    let Some(expression) = spec.and_then(|r| r.schedule.as_deref()) else {
        return Ok((Schedule::default(), grace));
    };
    let cron = cron::parse("spec.rotation.schedule", expression)?;
    let reference = status
        .password_changed_at
        .as_deref()
        .and_then(|t| t.parse::<Timestamp>().ok())
        // Before the first password: nothing is due.
        .unwrap_or(now);
    let schedule = match cron::due(&cron, Some(reference), reference, now) {
        cron::Due::Take { .. } => Schedule {
            due: true,
            next: None,
        },
        cron::Due::Wait(after) => Schedule {
            due: false,
            next: SignedDuration::try_from(after)
                .ok()
                .and_then(|d| now.checked_add(d).ok()),
        },
    };
    Ok((schedule, grace))
}

/// Another AuraDatabaseUser of the namespace, made before this one, that
/// manages one of this object's user names in the same AuraInstance.
fn conflict(obj: &AuraDatabaseUser, ctx: &Ctx) -> Option<String> {
    let ns = obj.namespace().unwrap_or_default();
    let mine = obj.usernames();
    let me = (obj.creation_timestamp(), obj.name_any());
    ctx.objects_in(&ns)
        .into_iter()
        .filter(|o| o.uid() != obj.uid())
        .filter(|o| o.spec.instance_ref == obj.spec.instance_ref)
        .filter(|o| o.usernames().iter().any(|n| mine.contains(n)))
        .filter(|o| (o.creation_timestamp(), o.name_any()) < me)
        .map(|o| o.name_any())
        .min()
}

/// The database of an AuraInstance, asked with its admin login.
pub struct Database {
    system: reqwest::Url,
    data: reqwest::Url,
    admin_user: String,
    admin_password: Password,
}

impl Database {
    /// Reads the AuraInstance's connection Secret for its admin login.
    pub async fn of(
        ctx: &Ctx,
        instance: &AuraInstance,
        database: &str,
    ) -> Result<std::result::Result<Self, UserSummary>> {
        let ns = instance.namespace().unwrap_or_default();
        let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
        let secret = secrets
            .get_opt(&instance.connection_secret_name())
            .await
            .map_err(|e| ReconcileError::kube("read the AuraInstance's connection Secret", e))?;
        let Some((user, password)) = secret.as_ref().and_then(connection::login) else {
            return Ok(Err(Progress::working(
                UserReason::InstancePasswordUnavailable,
                "the AuraInstance's connection Secret holds no admin login yet (see its status)",
            )));
        };
        let uri = secret
            .as_ref()
            .and_then(connection::uri)
            .or_else(|| instance.status.as_ref()?.connection_url.clone())
            .unwrap_or_default();
        let host = format::host_of(&uri);
        let api: &QueryApi = &ctx.state.query_api;
        let endpoints = api
            .endpoint(&host, admin::SYSTEM_DATABASE)
            .and_then(|s| Ok((s, api.endpoint(&host, database)?)));
        match endpoints {
            Ok((system, data)) => Ok(Ok(Self {
                system,
                data,
                admin_user: user,
                admin_password: Password::from_secret(password),
            })),
            Err(e) => Ok(Err(Progress::working(
                UserReason::Unreachable,
                format!("no Query API URL for host {host}: {e}"),
            ))),
        }
    }

    pub async fn admin(
        &self,
        ctx: &Ctx,
        statement: &Statement,
    ) -> std::result::Result<admin::Rows, QueryError> {
        ctx.state
            .query_api
            .run(
                &self.system,
                &self.admin_user,
                &self.admin_password,
                statement,
            )
            .await
    }

    async fn check(&self, ctx: &Ctx, user: &str, password: &str) -> Verdict {
        ctx.state.query_api.check(&self.data, user, password).await
    }
}

/// The spec's Secret as read.
fn secret_seen(obj: &AuraDatabaseUser, existing: Option<&Secret>) -> SecretSeen {
    let Some(secret) = existing else {
        return SecretSeen::Absent;
    };
    if !connection::controlled_by(secret, obj.uid().as_deref()) {
        return match connection::login(secret) {
            Some((username, _))
                if !connection::has_controller(secret) && obj.usernames().contains(&username) =>
            {
                SecretSeen::Restored { username }
            }
            _ => SecretSeen::Foreign,
        };
    }
    SecretSeen::Ours {
        username: connection::login(secret).map(|(u, _)| u),
        type_matches: secret.type_.as_deref() == Some(format::secret_type(obj.secret_format())),
    }
}

/// The Secret with `user`'s login.
pub fn secret(
    obj: &AuraDatabaseUser,
    instance: &AuraInstance,
    instance_id: &str,
    user: &str,
    password: &Password,
) -> std::result::Result<Secret, template::TemplateProblem> {
    let spec = obj.spec.connection_secret.as_ref();
    let uri = instance
        .status
        .as_ref()
        .and_then(|s| s.connection_url.clone())
        .unwrap_or_else(|| format!("neo4j+s://{instance_id}.databases.neo4j.io"));
    let host = format::host_of(&uri);
    let instance_name = instance.aura_name();
    let values = format::Values {
        uri: &uri,
        host: &host,
        username: user,
        password: Some(password.expose()),
        database: obj.database(),
        instance_id,
        instance_name: &instance_name,
    };
    connection::build(
        spec,
        &values,
        connection::Target {
            name: obj.secret_name(),
            namespace: obj.namespace(),
            label: (
                DATABASE_USER_LABEL,
                connection::label_value(&obj.name_any()),
            ),
            owner: connection::controller_ref(obj),
        },
    )
}

/// Writes the Secret in one request (username and password together). A
/// Secret's type cannot change: one of another type is deleted first (only
/// the one read), and a pass cut off there finds no Secret and gives the
/// login a fresh password.
async fn write_secret(
    secrets: &Api<Secret>,
    existing: Option<&Secret>,
    desired: &Secret,
) -> Result<()> {
    connection::write(secrets, existing, desired)
        .await
        .map_err(|(step, e)| ReconcileError::kube(step, e))
}
