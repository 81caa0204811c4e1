//! Projects as credentials resolution sees them (DESIGN 4.9): which project an
//! object names, whether its namespace may use it, and the registry that the
//! project watches fill. The choice itself is a pure function over what the
//! watches show; the registry also tells each side when the other changed
//! (an instance now uses another project; a project or namespace changed in a
//! way that matters to the instances naming it).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, RwLock};

use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::core::{PartialObjectMeta, Selector, SelectorExt};
use kube::runtime::reflector::{ObjectRef, Store};

use super::credentials::{CredentialsProblem, CredentialsSource, SecretKey};
use super::locked;
use super::wakes::Wakes;
pub use crate::api::ProjectId;
use crate::api::{
    AllowedNamespaces, AuraProject, ClusterAuraProject, DEFAULT_PROJECT, PROJECT_FINALIZER,
    ProjectKind,
};

/// What an object asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted<'a> {
    /// `credentialsSecretRef`: a Secret in its own namespace.
    Secret(&'a str),
    /// `projectRef`.
    Project(ProjectKind, &'a str),
    /// Neither: the ClusterAuraProject named `default`.
    Default,
    /// None of its own: the object acts on an AuraInstance and uses that
    /// instance's credentials, resolved on each pass (AuraSnapshot, AuraRestore).
    Borrowed,
}

impl Wanted<'_> {
    /// The project this names for an object in `namespace`, if any.
    pub fn project(&self, namespace: &str) -> Option<ProjectId> {
        match *self {
            Self::Secret(_) | Self::Borrowed => None,
            Self::Project(ProjectKind::AuraProject, name) => {
                Some(ProjectId::namespaced(namespace, name))
            }
            Self::Project(ProjectKind::ClusterAuraProject, name) => Some(ProjectId::cluster(name)),
            Self::Default => Some(ProjectId::cluster(DEFAULT_PROJECT)),
        }
    }
}

/// A project as resolution needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectView {
    pub id: ProjectId,
    pub secret: SecretKey,
    /// The tenant its objects default to: its spec's, else the one it found.
    pub tenant_id: Option<String>,
    /// The organization its objects default to: its spec's, else the one it found.
    pub organization_id: Option<String>,
    /// Who may use it; `None` for an AuraProject (its own namespace only).
    pub allowed: Option<AllowedNamespaces>,
    /// `allowUnheldSources`.
    pub allow_unheld_sources: bool,
    /// It holds its finalizer: deleting it now waits for its users.
    pub held: bool,
}

impl ProjectView {
    pub fn of_namespaced(p: &AuraProject) -> Self {
        let ns = p.namespace().unwrap_or_default();
        Self {
            id: ProjectId::namespaced(&ns, &p.name_any()),
            secret: SecretKey::new(&ns, &p.spec.credentials_secret_ref.name),
            tenant_id: p
                .spec
                .tenant_id
                .clone()
                .or_else(|| p.status.as_ref().and_then(|s| s.tenant_id.clone())),
            organization_id: p
                .spec
                .organization_id
                .clone()
                .or_else(|| p.status.as_ref().and_then(|s| s.organization_id.clone())),
            allowed: None,
            allow_unheld_sources: p.spec.allow_unheld_sources,
            held: holds_finalizer(p),
        }
    }

    pub fn of_cluster(p: &ClusterAuraProject) -> Self {
        let r = &p.spec.credentials_secret_ref;
        Self {
            id: ProjectId::cluster(&p.name_any()),
            secret: SecretKey::new(&r.namespace, &r.name),
            tenant_id: p
                .spec
                .tenant_id
                .clone()
                .or_else(|| p.status.as_ref().and_then(|s| s.tenant_id.clone())),
            organization_id: p
                .spec
                .organization_id
                .clone()
                .or_else(|| p.status.as_ref().and_then(|s| s.organization_id.clone())),
            allowed: Some(p.spec.allowed_namespaces.clone()),
            allow_unheld_sources: p.spec.allow_unheld_sources,
            held: holds_finalizer(p),
        }
    }
}

fn holds_finalizer(p: &impl ResourceExt) -> bool {
    p.finalizers().iter().any(|f| f == PROJECT_FINALIZER)
}

/// Whether `allowed` lets objects of `namespace` (with `labels`, when known)
/// in. A selector that does not parse allows nobody.
pub fn allows(
    allowed: &AllowedNamespaces,
    namespace: &str,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    if allowed.names.iter().any(|n| n == namespace) {
        return true;
    }
    let (Some(selector), Some(labels)) = (&allowed.selector, labels) else {
        return false;
    };
    Selector::try_from(selector.clone()).is_ok_and(|s| s.matches(labels))
}

/// Where an object of `namespace` that asks for `wanted` gets its credentials,
/// given the project it names as the watches show it (`None`: not there).
pub fn choose(
    namespace: &str,
    wanted: Wanted<'_>,
    project: Option<&ProjectView>,
    labels: Option<&BTreeMap<String, String>>,
) -> CredentialsSource {
    let Some(id) = wanted.project(namespace) else {
        let Wanted::Secret(name) = wanted else {
            // Borrowed: nothing of its own to watch or count.
            return CredentialsSource::Refused(CredentialsProblem::NotConfigured);
        };
        return CredentialsSource::Own(SecretKey::new(namespace, name));
    };
    let Some(project) = project else {
        let problem = match wanted {
            Wanted::Default => CredentialsProblem::NotConfigured,
            _ => CredentialsProblem::ProjectNotFound(id),
        };
        return CredentialsSource::Refused(problem);
    };
    // A cluster-scoped object (no namespace) is made by cluster
    // administrators: the allowed namespaces do not bind it.
    if let Some(allowed) = &project.allowed
        && !namespace.is_empty()
        && !allows(allowed, namespace, labels)
    {
        return CredentialsSource::Refused(CredentialsProblem::NamespaceNotAllowed(id));
    }
    CredentialsSource::Project {
        project: id,
        secret: project.secret.clone(),
        tenant_id: project.tenant_id.clone(),
        organization_id: project.organization_id.clone(),
        allow_unheld_sources: project.allow_unheld_sources,
    }
}

/// A change that may change how some objects resolve.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Change {
    /// A project appeared, went, or changed its Secret, tenant or allowed namespaces.
    Project(ProjectId),
    /// A namespace's labels changed.
    Namespace(String),
}

/// The last view of each project, and the last labels of each namespace.
type Seen = (
    HashMap<ProjectId, ProjectView>,
    HashMap<String, BTreeMap<String, String>>,
);

/// The project watches' stores, who uses which project, and the news of both.
#[derive(Default)]
pub struct Projects {
    namespaced: RwLock<Vec<Store<AuraProject>>>,
    cluster: RwLock<Option<Store<ClusterAuraProject>>>,
    namespaces: RwLock<Option<Store<PartialObjectMeta<Namespace>>>>,
    /// The last view of each project and the last labels of each namespace,
    /// so that only changes that matter are told (a project's own status
    /// write, say, wakes nobody).
    seen: Mutex<Seen>,
    /// Which project each object (by kind-erased reference) resolved to.
    users: Mutex<BTreeMap<String, ProjectId>>,
    changes: Wakes<Change>,
    used: Wakes<ProjectId>,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Projects {
    /// Waits (at most `wait`) until the project and namespace watches have
    /// listed, so that objects are not judged against empty stores at start;
    /// `scopes` AuraProject watches are expected.
    pub async fn wait_ready(&self, scopes: usize, wait: std::time::Duration) -> bool {
        let listed = async {
            loop {
                let namespaced: Vec<Store<AuraProject>> = read(&self.namespaced).clone();
                let cluster = read(&self.cluster).clone();
                let namespaces = read(&self.namespaces).clone();
                if let (true, Some(cluster), Some(namespaces)) =
                    (namespaced.len() >= scopes, cluster, namespaces)
                {
                    for s in &namespaced {
                        let _ = s.wait_until_ready().await;
                    }
                    let _ = cluster.wait_until_ready().await;
                    let _ = namespaces.wait_until_ready().await;
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(wait, listed).await.is_ok()
    }

    pub fn add_namespaced_store(&self, store: Store<AuraProject>) {
        write(&self.namespaced).push(store);
    }

    pub fn set_cluster_store(&self, store: Store<ClusterAuraProject>) {
        *write(&self.cluster) = Some(store);
    }

    pub fn set_namespace_store(&self, store: Store<PartialObjectMeta<Namespace>>) {
        *write(&self.namespaces) = Some(store);
    }

    /// The project `id` as the watches show it.
    pub fn view(&self, id: &ProjectId) -> Option<ProjectView> {
        match (&id.kind, &id.namespace) {
            (ProjectKind::AuraProject, Some(ns)) => {
                let reference = ObjectRef::new(&id.name).within(ns);
                read(&self.namespaced)
                    .iter()
                    .find_map(|s| s.get(&reference))
                    .map(|p| ProjectView::of_namespaced(&p))
            }
            (ProjectKind::ClusterAuraProject, _) => read(&self.cluster)
                .as_ref()
                .and_then(|s| s.get(&ObjectRef::new(&id.name)))
                .map(|p| ProjectView::of_cluster(&p)),
            (ProjectKind::AuraProject, None) => None,
        }
    }

    /// A namespace's labels as the watch shows them.
    pub fn labels(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
        read(&self.namespaces)
            .as_ref()
            .and_then(|s| s.get(&ObjectRef::new(namespace)))
            .map(|n| n.labels().clone())
    }

    /// The project `source` names, when it does not hold its finalizer yet:
    /// an object creates nothing through it until it does, so that deleting
    /// the project waits for every user that made something with it.
    pub fn not_yet_held(&self, source: &CredentialsSource) -> Option<ProjectId> {
        let id = source.project()?;
        self.view(id).is_some_and(|v| !v.held).then(|| id.clone())
    }

    /// Where an object of `namespace` asking for `wanted` gets its credentials now.
    pub fn source(&self, namespace: &str, wanted: Wanted<'_>) -> CredentialsSource {
        let project = wanted.project(namespace).and_then(|id| self.view(&id));
        let labels = self.labels(namespace);
        choose(namespace, wanted, project.as_ref(), labels.as_ref())
    }

    /// The project watch saw `view` (or saw `id` go, with `None`).
    pub fn saw_project(&self, id: &ProjectId, view: Option<ProjectView>) {
        let mut seen = locked(&self.seen);
        let changed = match view {
            Some(v) => seen.0.insert(id.clone(), v.clone()).as_ref() != Some(&v),
            None => seen.0.remove(id).is_some(),
        };
        drop(seen);
        if changed {
            self.changes.tell(Change::Project(id.clone()));
        }
    }

    /// The namespace watch saw `namespace` with `labels`.
    pub fn saw_namespace(&self, namespace: &str, labels: &BTreeMap<String, String>) {
        let mut seen = locked(&self.seen);
        let changed = seen.1.get(namespace) != Some(labels);
        if changed {
            seen.1.insert(namespace.to_string(), labels.clone());
        }
        drop(seen);
        if changed {
            self.changes.tell(Change::Namespace(namespace.to_string()));
        }
    }

    /// Changes to projects and namespaces, for the kinds that use them.
    pub fn changes(&self) -> impl futures::Stream<Item = Change> + Send + 'static + use<> {
        self.changes.subscribe()
    }

    /// Notes which project `user` (an object's "Kind ns/name") resolves to now.
    pub fn note_user(&self, user: String, project: Option<ProjectId>) {
        self.note_user_if_listed(user, project, || true);
    }

    /// The same, for a pass that may have started before its object went:
    /// `listed` (whether the watch still shows the object) is asked under the
    /// registry's lock, so a Delete (store first, then this registry) either
    /// is seen here or comes after and removes the user.
    pub fn note_user_if_listed(
        &self,
        user: String,
        project: Option<ProjectId>,
        listed: impl FnOnce() -> bool,
    ) {
        let mut users = locked(&self.users);
        let project = project.filter(|_| listed());
        let before = match &project {
            Some(p) => users.insert(user, p.clone()),
            None => users.remove(&user),
        };
        drop(users);
        if before != project {
            for p in before.into_iter().chain(project) {
                self.used.tell(p);
            }
        }
    }

    /// Forgets the users of one kind (their names start with `kind`) that
    /// `keep` refuses: objects a re-listed watch no longer shows.
    pub fn retain_users(&self, kind: &str, keep: impl Fn(&str) -> bool) {
        let mut gone = Vec::new();
        locked(&self.users).retain(|user, project| {
            let stays = !user.starts_with(kind) || keep(user);
            if !stays {
                gone.push(project.clone());
            }
            stays
        });
        for p in gone {
            self.used.tell(p);
        }
    }

    /// Projects whose set of users changed, for the project controllers.
    pub fn usage_changes(&self) -> impl futures::Stream<Item = ProjectId> + Send + 'static + use<> {
        self.used.subscribe()
    }

    /// The objects that use `project`, sorted.
    pub fn users_of(&self, project: &ProjectId) -> Vec<String> {
        locked(&self.users)
            .iter()
            .filter(|(_, p)| *p == project)
            .map(|(u, _)| u.clone())
            .collect()
    }

    /// The Secrets of `namespace` that some project names (they keep their
    /// credentials-in-use finalizer while the project lives).
    pub fn secrets_named_in(&self, namespace: &str) -> BTreeSet<String> {
        self.secrets_named(namespace, None)
    }

    /// The same, leaving out the project `leaving`.
    pub fn secrets_named_in_except(
        &self,
        namespace: &str,
        leaving: &ProjectId,
    ) -> BTreeSet<String> {
        self.secrets_named(namespace, Some(leaving))
    }

    fn secrets_named(&self, namespace: &str, leaving: Option<&ProjectId>) -> BTreeSet<String> {
        let mut views: Vec<ProjectView> = Vec::new();
        for store in read(&self.namespaced).iter() {
            views.extend(store.state().iter().map(|p| ProjectView::of_namespaced(p)));
        }
        if let Some(store) = read(&self.cluster).as_ref() {
            views.extend(store.state().iter().map(|p| ProjectView::of_cluster(p)));
        }
        views
            .into_iter()
            .filter(|v| v.secret.namespace == namespace && Some(&v.id) != leaving)
            .map(|v| v.secret.name)
            .collect()
    }
}

/// How a user is named in the registry and in a project's status.
pub fn user_name(kind: &str, namespace: &str, name: &str) -> String {
    format!("{kind} {namespace}/{name}")
}

/// How an object is named among a project's users.
pub fn user_of<K: kube::Resource<DynamicType = ()>>(obj: &K) -> String {
    user_name(
        &K::kind(&()),
        obj.meta().namespace.as_deref().unwrap_or_default(),
        obj.meta().name.as_deref().unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

    use super::*;
    use futures::{FutureExt, StreamExt};

    /// What a subscriber has pending now, taken.
    fn pending<T>(stream: &mut (impl futures::Stream<Item = T> + Unpin)) -> Vec<T> {
        let mut taken = Vec::new();
        while let Some(Some(item)) = stream.next().now_or_never() {
            taken.push(item);
        }
        taken
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn match_labels(pairs: &[(&str, &str)]) -> Option<LabelSelector> {
        Some(LabelSelector {
            match_labels: Some(labels(pairs)),
            match_expressions: None,
        })
    }

    fn cluster(allowed: AllowedNamespaces) -> ProjectView {
        ProjectView {
            id: ProjectId::cluster("shared"),
            secret: SecretKey::new("aura-operator", "aura-api"),
            tenant_id: Some("t-1".into()),
            organization_id: None,
            allowed: Some(allowed),
            allow_unheld_sources: false,
            held: true,
        }
    }

    #[test]
    fn allowed_namespaces_by_name_and_by_label() {
        let team = labels(&[("aura-operator.io/allowed", "true")]);
        let other = labels(&[("team", "b")]);
        let expr = Some(LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["prod".into(), "staging".into()]),
            }]),
        });
        let by_names = AllowedNamespaces {
            names: vec!["team-a".into()],
            selector: None,
        };
        let by_label = AllowedNamespaces {
            names: vec![],
            selector: match_labels(&[("aura-operator.io/allowed", "true")]),
        };
        let everyone = AllowedNamespaces {
            names: vec![],
            selector: Some(LabelSelector::default()),
        };
        let broken = AllowedNamespaces {
            names: vec![],
            selector: Some(LabelSelector {
                match_labels: None,
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "Sometimes".into(),
                    values: None,
                }]),
            }),
        };
        let by_expression = AllowedNamespaces {
            names: vec![],
            selector: expr,
        };
        type Case<'a> = (
            &'a AllowedNamespaces,
            &'a str,
            Option<&'a BTreeMap<String, String>>,
            bool,
        );
        let cases: &[Case<'_>] = &[
            (&by_names, "team-a", None, true),
            (&by_names, "team-b", Some(&team), false),
            (&by_label, "team-b", Some(&team), true),
            (&by_label, "team-b", Some(&other), false),
            (&by_label, "team-b", None, false),
            (&everyone, "anything", Some(&other), true),
            (&AllowedNamespaces::default(), "team-a", Some(&team), false),
            (&broken, "team-a", Some(&team), false),
            (
                &by_expression,
                "x",
                Some(&labels(&[("tier", "prod")])),
                true,
            ),
            (
                &by_expression,
                "x",
                Some(&labels(&[("tier", "dev")])),
                false,
            ),
        ];
        for (allowed, ns, labels, want) in cases {
            assert_eq!(
                allows(allowed, ns, *labels),
                *want,
                "{allowed:?} {ns} {labels:?}"
            );
        }
    }

    #[test]
    fn choosing_credentials() {
        let allowed = cluster(AllowedNamespaces {
            names: vec!["team-a".into()],
            selector: None,
        });
        let own = ProjectView {
            id: ProjectId::namespaced("team-a", "mine"),
            secret: SecretKey::new("team-a", "own-api"),
            tenant_id: None,
            organization_id: None,
            allowed: None,
            allow_unheld_sources: false,
            held: true,
        };
        let shared_id = ProjectId::cluster("shared");
        let cases: Vec<(&str, Wanted<'_>, Option<&ProjectView>, CredentialsSource)> = vec![
            (
                "team-a",
                Wanted::Secret("api"),
                None,
                CredentialsSource::Own(SecretKey::new("team-a", "api")),
            ),
            (
                "team-a",
                Wanted::Project(ProjectKind::ClusterAuraProject, "shared"),
                Some(&allowed),
                CredentialsSource::Project {
                    project: shared_id.clone(),
                    secret: SecretKey::new("aura-operator", "aura-api"),
                    tenant_id: Some("t-1".into()),
                    organization_id: None,
                    allow_unheld_sources: false,
                },
            ),
            (
                "team-b",
                Wanted::Project(ProjectKind::ClusterAuraProject, "shared"),
                Some(&allowed),
                CredentialsSource::Refused(CredentialsProblem::NamespaceNotAllowed(
                    shared_id.clone(),
                )),
            ),
            // A cluster-scoped object (a ClusterAuraIPFilter) has no namespace to allow.
            (
                "",
                Wanted::Project(ProjectKind::ClusterAuraProject, "shared"),
                Some(&allowed),
                CredentialsSource::Project {
                    project: shared_id.clone(),
                    secret: SecretKey::new("aura-operator", "aura-api"),
                    tenant_id: Some("t-1".into()),
                    organization_id: None,
                    allow_unheld_sources: false,
                },
            ),
            (
                "team-a",
                Wanted::Project(ProjectKind::ClusterAuraProject, "shared"),
                None,
                CredentialsSource::Refused(CredentialsProblem::ProjectNotFound(shared_id)),
            ),
            (
                "team-a",
                Wanted::Default,
                None,
                CredentialsSource::Refused(CredentialsProblem::NotConfigured),
            ),
            (
                "team-a",
                Wanted::Project(ProjectKind::AuraProject, "mine"),
                Some(&own),
                CredentialsSource::Project {
                    project: ProjectId::namespaced("team-a", "mine"),
                    secret: SecretKey::new("team-a", "own-api"),
                    tenant_id: None,
                    organization_id: None,
                    allow_unheld_sources: false,
                },
            ),
        ];
        for (ns, wanted, project, want) in cases {
            assert_eq!(choose(ns, wanted, project, None), want, "{ns} {wanted:?}");
        }
    }

    /// An AuraProject is found by the namespace of the object naming it, so
    /// another namespace's object never reaches it.
    #[test]
    fn a_namespaced_project_is_looked_up_in_the_objects_own_namespace() {
        let wanted = Wanted::Project(ProjectKind::AuraProject, "mine");
        assert_eq!(
            wanted.project("team-b"),
            Some(ProjectId::namespaced("team-b", "mine"))
        );
        assert_eq!(
            Wanted::Default.project("x"),
            Some(ProjectId::cluster(DEFAULT_PROJECT))
        );
        assert_eq!(Wanted::Secret("s").project("x"), None);
    }

    #[test]
    fn only_changes_that_matter_are_told() {
        let projects = Projects::default();
        let mut changes = Box::pin(projects.changes());
        let view = cluster(AllowedNamespaces::default());
        let mut told = Vec::new();
        projects.saw_project(&view.id, Some(view.clone()));
        told.extend(pending(&mut changes));
        projects.saw_project(&view.id, Some(view.clone()));
        told.extend(pending(&mut changes));
        let mut moved = view.clone();
        moved.tenant_id = Some("t-2".into());
        projects.saw_project(&view.id, Some(moved));
        told.extend(pending(&mut changes));
        projects.saw_namespace("team-a", &labels(&[("a", "1")]));
        told.extend(pending(&mut changes));
        projects.saw_namespace("team-a", &labels(&[("a", "1")]));
        told.extend(pending(&mut changes));
        projects.saw_project(&view.id, None);
        told.extend(pending(&mut changes));
        assert_eq!(
            told,
            vec![
                Change::Project(view.id.clone()),
                Change::Project(view.id.clone()),
                Change::Namespace("team-a".into()),
                Change::Project(view.id.clone()),
            ]
        );
    }

    #[test]
    fn users_are_counted_per_project_and_moves_are_told() {
        let projects = Projects::default();
        let mut used = Box::pin(projects.usage_changes());
        let a = ProjectId::cluster("a");
        let b = ProjectId::cluster("b");
        let mut told = Vec::new();
        let steps = [
            ("AuraInstance ns/x", Some(&a)),
            ("AuraInstance ns/x", Some(&a)),
            ("AuraInstance ns/y", Some(&a)),
            ("AuraInstance ns/x", Some(&b)),
            ("AuraInstance ns/y", None),
        ];
        for (user, project) in steps {
            projects.note_user(user.into(), project.cloned());
            told.extend(pending(&mut used).into_iter().map(|p| p.name));
        }
        assert_eq!(projects.users_of(&a), Vec::<String>::new());
        assert_eq!(projects.users_of(&b), vec!["AuraInstance ns/x".to_string()]);
        assert_eq!(told, vec!["a", "a", "a", "b", "a"]);
    }

    /// A pass on a copy of an object the watch has let go (its Delete came
    /// between the pass's start and its note) neither adds nor keeps it.
    #[test]
    fn a_user_no_longer_listed_is_not_noted() {
        let projects = Projects::default();
        let a = ProjectId::cluster("a");
        let cases = [
            // (listed before, listed now, users after)
            (false, false, 0),
            (false, true, 1),
            (true, false, 0),
            (true, true, 1),
        ];
        for (before, now, after) in cases {
            let user = format!("AuraInstance ns/{before}-{now}");
            if before {
                projects.note_user(user.clone(), Some(a.clone()));
            }
            projects.note_user_if_listed(user.clone(), Some(a.clone()), || now);
            let users = projects.users_of(&a);
            assert_eq!(
                users.iter().filter(|u| **u == user).count(),
                after,
                "listed before {before}, now {now}"
            );
        }
    }
}
