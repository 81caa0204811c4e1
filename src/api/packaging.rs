//! The packaging text derived from [`KINDS`]: the CRD files (in `crds/`,
//! `deploy/crds/` and the chart), the RBAC rules of every kind (the chart's
//! `templates/_kinds.tpl`, a marked region of `deploy/rbac.yaml`), the CRD
//! list of `deploy/kustomization.yaml` and the chart's Artifact Hub
//! annotation. `make generate` writes them; a unit test fails when a
//! checked-in copy differs, so a new kind reaches every file by one entry in
//! [`KINDS`].
//!
//! A region is the lines between one holding `BEGIN GENERATED <name>` and
//! one holding `END GENERATED <name>`; the generated lines take the
//! indentation of the BEGIN line, and everything outside stays hand-written.

use std::path::{Path, PathBuf};

use super::kinds::{KINDS, KindInfo, Scope};

/// Where the generated CRD files go: each holds exactly one `<plural>.yaml`
/// per kind and nothing else.
pub const CRD_DIRS: &[&str] = &["crds", "deploy/crds", "charts/aura-operator/crds"];

/// The chart's template of kind rules, generated whole.
pub const CHART_KINDS_TPL: &str = "charts/aura-operator/templates/_kinds.tpl";

const API_GROUP: &str = "aura-operator.io";

/// One RBAC rule on a resource of the API group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub resource: String,
    pub verbs: &'static [&'static str],
}

/// The rules the operator needs on one kind: the objects, their `/status`
/// and `/finalizers` where it uses them.
pub fn rules(kind: &KindInfo) -> Vec<Rule> {
    [
        (kind.plural.to_string(), kind.verbs),
        (format!("{}/status", kind.plural), kind.status_verbs),
        (format!("{}/finalizers", kind.plural), kind.finalizer_verbs),
    ]
    .into_iter()
    .filter(|(_, verbs)| !verbs.is_empty())
    .map(|(resource, verbs)| Rule { resource, verbs })
    .collect()
}

/// Rules as YAML list items, unindented.
fn rules_yaml(rules: &[Rule]) -> String {
    let quoted = |words: &[&str]| {
        words
            .iter()
            .map(|w| format!("\"{w}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    rules
        .iter()
        .map(|r| {
            format!(
                "- apiGroups: [\"{API_GROUP}\"]\n  resources: [\"{}\"]\n  verbs: [{}]\n",
                r.resource,
                quoted(r.verbs)
            )
        })
        .collect()
}

fn scoped(scope: Scope) -> impl Iterator<Item = &'static KindInfo> {
    KINDS.iter().filter(move |k| k.scope == scope)
}

/// The rules on every namespaced kind: granted where the operator watches
/// (one ClusterRole, or a Role per watched namespace).
pub fn namespaced_rules() -> Vec<Rule> {
    scoped(Scope::Namespaced).flat_map(rules).collect()
}

/// The rules on every cluster-scoped kind: granted cluster-wide in every mode.
pub fn cluster_rules() -> Vec<Rule> {
    scoped(Scope::Cluster).flat_map(rules).collect()
}

/// The rules of the storage migration (`crate::migration`): read the CRDs
/// of the promoted kinds and trim their `status.storedVersions`, by name.
pub fn storage_migration_rules_yaml() -> String {
    let names: Vec<String> = KINDS
        .iter()
        .filter(|k| !k.older_versions.is_empty())
        .map(|k| format!("\"{}.{API_GROUP}\"", k.plural))
        .collect();
    let names = names.join(", ");
    format!(
        "- apiGroups: [\"apiextensions.k8s.io\"]\n  resources: [\"customresourcedefinitions\"]\n  resourceNames: [{names}]\n  verbs: [\"get\"]\n\
         - apiGroups: [\"apiextensions.k8s.io\"]\n  resources: [\"customresourcedefinitions/status\"]\n  resourceNames: [{names}]\n  verbs: [\"patch\"]\n"
    )
}

fn chart_kinds_tpl() -> String {
    let mut out = String::from(
        "{{/*\nGenerated from src/api/kinds.rs by `make generate`; edit that list, not this file.\n\
         The rules the operator needs on the objects of its kinds: the namespaced\n\
         kinds together (where it watches), each cluster-scoped kind on its own.\n*/}}\n",
    );
    let mut define = |name: &str, rules: &[Rule]| {
        out.push_str(&format!(
            "{{{{- define \"aura-operator.{name}\" -}}}}\n{}{{{{- end }}}}\n",
            rules_yaml(rules)
        ));
    };
    define("namespacedKindRules", &namespaced_rules());
    for kind in scoped(Scope::Cluster) {
        define(&format!("kindRules.{}", kind.kind), &rules(kind));
    }
    out.push_str(&format!(
        "{{{{- define \"aura-operator.storageMigrationRules\" -}}}}\n{}{{{{- end }}}}\n",
        storage_migration_rules_yaml()
    ));
    out
}

fn kustomization_crds() -> String {
    KINDS
        .iter()
        .map(|k| format!("- crds/{}.yaml\n", k.plural))
        .collect()
}

fn artifacthub_crds() -> String {
    KINDS
        .iter()
        .map(|k| {
            format!(
                "- kind: {kind}\n  version: {version}\n  name: {plural}.{API_GROUP}\n  displayName: {kind}\n  description: {summary}\n",
                kind = k.kind,
                version = k.crd().spec.versions[0].name,
                plural = k.plural,
                summary = k.summary,
            )
        })
        .collect()
}

fn indented(text: &str, indent: &str) -> String {
    text.lines().map(|l| format!("{indent}{l}\n")).collect()
}

/// The marked regions: file, region name, its lines.
fn regions() -> Vec<(&'static str, String, String)> {
    let mut regions = vec![
        (
            "deploy/rbac.yaml",
            "namespaced kind rules".to_string(),
            rules_yaml(&namespaced_rules()),
        ),
        (
            "deploy/kustomization.yaml",
            "crds".to_string(),
            kustomization_crds(),
        ),
        (
            "deploy/rbac.yaml",
            "storage migration rules".to_string(),
            storage_migration_rules_yaml(),
        ),
        (
            "charts/aura-operator/Chart.yaml",
            "artifacthub crds".to_string(),
            format!(
                "artifacthub.io/crds: |\n{}",
                indented(&artifacthub_crds(), "  ")
            ),
        ),
    ];
    // A cluster-scoped kind has its own ClusterRole; a new one without a
    // marked region fails `make generate` and the test below.
    for kind in scoped(Scope::Cluster) {
        regions.push((
            "deploy/rbac.yaml",
            format!("{} rules", kind.kind),
            rules_yaml(&rules(kind)),
        ));
    }
    regions
}

/// Why a file could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: no region `BEGIN GENERATED {region}` ... `END GENERATED {region}`")]
    NoRegion { path: PathBuf, region: String },
}

/// `text` with the lines of region `name` replaced by `body`, indented as
/// the BEGIN line; `None` when the markers are missing.
pub fn replace_region(text: &str, name: &str, body: &str) -> Option<String> {
    let begin = format!("BEGIN GENERATED {name}");
    let end = format!("END GENERATED {name}");
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let first = lines.iter().position(|l| l.contains(&begin))?;
    let last = first + lines[first..].iter().position(|l| l.contains(&end))?;
    let indent: String = lines[first]
        .chars()
        .take_while(|c| c.is_whitespace())
        .collect();
    let mut out: String = lines[..=first].concat();
    for line in body.lines() {
        out.push_str(&indent);
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&lines[last..].concat());
    Some(out)
}

/// Every generated file under `root` as it should be, with the files of the
/// CRD folders that no kind generates (to be removed).
#[derive(Debug, Default)]
pub struct Generated {
    pub files: Vec<(PathBuf, String)>,
    pub stale: Vec<PathBuf>,
}

fn read(path: &Path) -> Result<String, GenerateError> {
    std::fs::read_to_string(path).map_err(|source| GenerateError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// What `make generate` writes under the repository root `root`.
pub fn generate(root: &Path) -> Result<Generated, GenerateError> {
    let mut out = Generated::default();
    for dir in CRD_DIRS {
        let dir = root.join(dir);
        let wanted: Vec<PathBuf> = KINDS
            .iter()
            .map(|k| dir.join(format!("{}.yaml", k.plural)))
            .collect();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            out.stale.extend(
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "yaml") && !wanted.contains(p)),
            );
        }
        for (path, kind) in wanted.into_iter().zip(KINDS) {
            out.files.push((path, super::crd_yaml(&kind.crd())));
        }
    }
    out.files
        .push((root.join(CHART_KINDS_TPL), chart_kinds_tpl()));
    let mut edited: Vec<(PathBuf, String)> = Vec::new();
    for (file, name, body) in regions() {
        let path = root.join(file);
        let text = match edited.iter().position(|(p, _)| *p == path) {
            Some(i) => edited.remove(i).1,
            None => read(&path)?,
        };
        let text = replace_region(&text, &name, &body).ok_or_else(|| GenerateError::NoRegion {
            path: path.clone(),
            region: name.clone(),
        })?;
        edited.push((path, text));
    }
    out.files.extend(edited);
    Ok(out)
}

/// Writes what [`generate`] says and removes the stale CRD files; returns
/// the paths written.
pub fn write(root: &Path) -> Result<Vec<PathBuf>, GenerateError> {
    let generated = generate(root)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| GenerateError::Io { path, source }
    };
    for path in &generated.stale {
        std::fs::remove_file(path).map_err(io(path))?;
    }
    let mut written = Vec::new();
    for (path, text) in generated.files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, text).map_err(io(&path))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_has_rules_only_for_the_verbs_it_uses() {
        let claim = KINDS
            .iter()
            .find(|k| k.kind == "AuraInstanceClaim")
            .unwrap();
        assert_eq!(
            rules(claim),
            vec![Rule {
                resource: "aurainstanceclaims".into(),
                verbs: claim.verbs
            }]
        );
        let instance = KINDS.iter().find(|k| k.kind == "AuraInstance").unwrap();
        let resources: Vec<String> = rules(instance).into_iter().map(|r| r.resource).collect();
        assert_eq!(
            resources,
            [
                "aurainstances",
                "aurainstances/status",
                "aurainstances/finalizers"
            ]
        );
    }

    #[test]
    fn every_kind_has_its_rules_in_exactly_one_scope() {
        for kind in KINDS {
            let in_namespaced = namespaced_rules().iter().any(|r| r.resource == kind.plural);
            let in_cluster = cluster_rules().iter().any(|r| r.resource == kind.plural);
            assert!(in_namespaced != in_cluster, "{}", kind.kind);
            assert_eq!(in_cluster, kind.scope == Scope::Cluster, "{}", kind.kind);
        }
    }

    #[test]
    fn a_region_is_replaced_with_its_indentation_and_the_rest_kept() {
        let cases = [
            (
                "a\n  # BEGIN GENERATED x\n  old\n  # END GENERATED x\nb\n",
                "new\nmore\n",
                Some("a\n  # BEGIN GENERATED x\n  new\n  more\n  # END GENERATED x\nb\n"),
            ),
            (
                "# BEGIN GENERATED x\n# END GENERATED x\n",
                "one\n",
                Some("# BEGIN GENERATED x\none\n# END GENERATED x\n"),
            ),
            ("# BEGIN GENERATED x\nno end\n", "one\n", None),
            ("# BEGIN GENERATED y\n# END GENERATED y\n", "one\n", None),
            // The END of another region does not close this one.
            (
                "# BEGIN GENERATED x\n# END GENERATED y\n# END GENERATED x\n",
                "z\n",
                Some("# BEGIN GENERATED x\nz\n# END GENERATED x\n"),
            ),
        ];
        for (text, body, want) in cases {
            assert_eq!(replace_region(text, "x", body).as_deref(), want, "{text:?}");
        }
    }

    #[test]
    fn the_artifact_hub_list_names_every_kind() {
        let text = artifacthub_crds();
        let parsed: Vec<serde_json::Value> = serde_yaml::from_str(&text).unwrap();
        assert_eq!(parsed.len(), KINDS.len());
        for (entry, kind) in parsed.iter().zip(KINDS) {
            assert_eq!(entry["kind"], kind.kind);
            assert_eq!(entry["name"], format!("{}.{API_GROUP}", kind.plural));
        }
    }

    /// The checked-in files are what `make generate` writes.
    #[test]
    fn the_generated_files_are_current() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let generated = generate(root).expect("every region is marked");
        assert!(
            generated.stale.is_empty(),
            "files no kind generates: {:?}; run `make generate`",
            generated.stale
        );
        for (path, want) in generated.files {
            let have = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                have == want,
                "{} is out of date: run `make generate`",
                path.strip_prefix(root).unwrap_or(&path).display()
            );
        }
    }
}
