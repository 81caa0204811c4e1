//! The layout the project keeps (DESIGN §3, ARCHITECTURE.md), checked over
//! the source text: no folder under `src/kinds/` reaches into another kind's
//! folder, and no file of `src/` imports another that imports it back, by any
//! path of imports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module's path from the crate root (`kinds::instance::act`).
type ModPath = Vec<String>;

struct Source {
    file: String,
    module: ModPath,
    /// The code with comments and string literals blanked out.
    code: String,
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file is: `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`.
fn module_of(relative: &Path) -> ModPath {
    let mut parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// Comments, string and char literals blanked, so that only code is read.
fn strip(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
            continue;
        }
        if c == 'r' && (next == Some('"') || next == Some('#')) {
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) == Some(&'"') {
                j += 1;
                loop {
                    if j >= chars.len() {
                        break;
                    }
                    if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
                        j += 1 + hashes;
                        break;
                    }
                    j += 1;
                }
                out.push(' ');
                i = j;
                continue;
            }
        }
        if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push(' ');
            continue;
        }
        if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 3;
            continue;
        }
        if c == '\'' && next == Some('\\') {
            while i < chars.len() && !(chars[i] == '\'' && i > 0 && chars[i - 1] != '\\') {
                i += 1;
            }
            i += 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

fn sources() -> Vec<Source> {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files
        .into_iter()
        // The binary is a crate of its own: it reaches the library by name.
        .filter(|f| !f.ends_with("main.rs"))
        .map(|f| {
            let relative = f.strip_prefix(&root).expect("under src/").to_path_buf();
            Source {
                file: relative.to_string_lossy().into_owned(),
                module: module_of(&relative),
                code: strip(&std::fs::read_to_string(&f).expect("read a source file")),
            }
        })
        .collect()
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path of two segments or more in `code`, with `use` groups
/// (`use a::{b::c, d}`) expanded into whole paths.
fn paths(code: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let boundary = i == 0 || !is_ident(chars[i - 1]) && chars[i - 1] != ':';
        if boundary && is_ident_start(chars[i]) {
            let (found, end) = path_at(&chars, i, &[]);
            out.extend(found.into_iter().filter(|p| p.len() >= 2));
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// The path (or the group's paths) starting at `i`, after `prefix`.
fn path_at(chars: &[char], mut i: usize, prefix: &[String]) -> (Vec<Vec<String>>, usize) {
    let mut segments = prefix.to_vec();
    loop {
        let start = i;
        while i < chars.len() && is_ident(chars[i]) {
            i += 1;
        }
        segments.push(chars[start..i].iter().collect());
        let mut j = i;
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        if chars.get(j) == Some(&':') && chars.get(j + 1) == Some(&':') {
            j += 2;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            match chars.get(j) {
                Some('{') => return group(chars, j + 1, &segments),
                Some(&c) if is_ident_start(c) => i = j,
                _ => return (vec![segments], j),
            }
        } else {
            return (vec![segments], i);
        }
    }
}

/// The paths of a `{ ... }` group after `prefix`, up to its closing brace.
fn group(chars: &[char], mut i: usize, prefix: &[String]) -> (Vec<Vec<String>>, usize) {
    let mut out = vec![prefix.to_vec()];
    while i < chars.len() {
        match chars[i] {
            '}' => return (out, i + 1),
            c if is_ident_start(c) => {
                let (found, end) = path_at(chars, i, prefix);
                out.extend(found);
                i = end;
            }
            _ => i += 1,
        }
    }
    (out, i)
}

/// What the files define and hand on: enough to follow a path through a
/// module's re-exports to the file that defines what it names.
struct Index<'a> {
    files: BTreeMap<ModPath, &'a Source>,
    /// Names each file defines (items and macros).
    defined: BTreeMap<&'a str, BTreeSet<String>>,
    /// Each file's `pub use` paths: (the name handed on, or `*`, the path).
    reexports: BTreeMap<&'a str, Vec<(String, Vec<String>)>>,
}

impl<'a> Index<'a> {
    fn new(sources: &'a [Source]) -> Self {
        let mut index = Index {
            files: BTreeMap::new(),
            defined: BTreeMap::new(),
            reexports: BTreeMap::new(),
        };
        for source in sources {
            index.files.insert(source.module.clone(), source);
            index
                .defined
                .insert(&source.file, definitions(&source.code));
            index
                .reexports
                .insert(&source.file, reexports(&source.code));
        }
        index
    }

    /// The file a path names from `module`; `None` outside the crate.
    fn resolve(
        &self,
        module: &ModPath,
        path: &[String],
        children: &BTreeSet<String>,
    ) -> Option<&'a str> {
        let mut absolute: ModPath = match path[0].as_str() {
            "crate" => Vec::new(),
            "self" | "super" => module.clone(),
            first if children.contains(first) => module.clone(),
            _ => return None,
        };
        let mut rest = path;
        if rest[0] == "crate" || rest[0] == "self" {
            rest = &rest[1..];
        }
        while rest.first().is_some_and(|s| s == "super") {
            absolute.pop();
            rest = &rest[1..];
        }
        absolute.extend(rest.iter().cloned());
        self.file_of(&absolute, 0)
    }

    /// The file that defines what the absolute path names, through re-exports.
    fn file_of(&self, absolute: &[String], depth: usize) -> Option<&'a str> {
        let n = (0..=absolute.len())
            .rev()
            .find(|n| self.files.contains_key(&absolute[..*n]))?;
        let source = self.files[&absolute[..n].to_vec()];
        let Some(name) = absolute.get(n) else {
            return Some(&source.file);
        };
        if depth > 8 || self.defined[source.file.as_str()].contains(name) {
            return Some(&source.file);
        }
        for (handed, target) in &self.reexports[source.file.as_str()] {
            let mut through: ModPath = match target[0].as_str() {
                "crate" => target[1..].to_vec(),
                "super" => {
                    let mut m = source.module.clone();
                    m.pop();
                    m.extend(target[1..].iter().cloned());
                    m
                }
                "self" => [source.module.clone(), target[1..].to_vec()].concat(),
                _ => [source.module.clone(), target.clone()].concat(),
            };
            if handed == name {
                through.extend(absolute[n + 1..].iter().cloned());
                return self.file_of(&through, depth + 1).or(Some(&source.file));
            }
            if handed == "*" {
                through.push(name.clone());
                if let Some(file) = self.file_of(&through, depth + 1)
                    && self.defined[file].contains(name)
                {
                    return Some(file);
                }
            }
        }
        Some(&source.file)
    }
}

/// The names a file defines: items, and macros (exported ones live at the crate root).
fn definitions(code: &str) -> BTreeSet<String> {
    const ITEMS: [&str; 9] = [
        "struct",
        "enum",
        "fn",
        "trait",
        "const",
        "type",
        "static",
        "mod",
        "macro_rules!",
    ];
    let words: Vec<&str> = code
        .split(|c: char| c.is_whitespace() || c == '(' || c == '<' || c == '{' || c == ':')
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .filter(|w| ITEMS.contains(&w[0]))
        .map(|w| w[1].trim_end_matches(';').to_string())
        .filter(|name| name.chars().next().is_some_and(is_ident_start))
        .collect()
}

/// A file's `pub use` statements, as (name handed on, its path).
fn reexports(code: &str) -> Vec<(String, Vec<String>)> {
    code.split(';')
        .filter_map(|statement| {
            let statement = statement.trim();
            let at = statement.find("use ")?;
            let head = &statement[..at];
            head.trim_start_matches(|c: char| c == '}' || c.is_whitespace())
                .starts_with("pub")
                .then_some(&statement[at + 4..])
        })
        .flat_map(|rest| {
            let mut found: Vec<(String, Vec<String>)> = paths(rest)
                .into_iter()
                .map(|p| (p.last().cloned().unwrap_or_default(), p))
                .collect();
            if let Some(prefix) = rest.trim_end().strip_suffix("::*") {
                let prefix = prefix.split("::").map(|s| s.trim().to_string()).collect();
                found.push(("*".into(), prefix));
            }
            found
        })
        .collect()
}

/// The child modules a file declares (`mod x;`, `pub mod x;`).
fn children(code: &str) -> BTreeSet<String> {
    code.split(';')
        .filter_map(|statement| {
            let words: Vec<&str> = statement.split_whitespace().collect();
            let at = words.iter().rposition(|w| *w == "mod")?;
            (at + 2 == words.len()).then(|| words[at + 1].to_string())
        })
        .collect()
}

/// A module's root file and the files it declares are one module: what
/// passes between them is no circle.
fn one_module(a: &Source, b: &Source) -> bool {
    let parent_of = |child: &Source, parent: &Source| {
        child.module.len() == parent.module.len() + 1 && child.module.starts_with(&parent.module)
    };
    parent_of(a, b) || parent_of(b, a)
}

/// Which files each file imports.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let sources = sources();
    let index = Index::new(&sources);
    let by_file: BTreeMap<&str, &Source> = sources.iter().map(|s| (s.file.as_str(), s)).collect();
    sources
        .iter()
        .map(|s| {
            let children = children(&s.code);
            let targets = paths(&s.code)
                .iter()
                .filter_map(|p| index.resolve(&s.module, p, &children))
                .filter(|t| *t != s.file && !one_module(s, by_file[t]))
                .map(str::to_string)
                .collect();
            (s.file.clone(), targets)
        })
        .collect()
}

/// The kind folder a file of `src/kinds/` is in (`kinds/<kind>/...`).
fn kind_folder(file: &str) -> Option<&str> {
    let rest = file.strip_prefix("kinds/")?;
    let (folder, _) = rest.split_once('/')?;
    (folder != "shared").then_some(folder)
}

#[test]
fn no_kind_folder_reaches_into_another() {
    let mut crossings = Vec::new();
    for (file, targets) in imports() {
        let Some(mine) = kind_folder(&file) else {
            continue;
        };
        for target in targets {
            if let Some(theirs) = kind_folder(&target)
                && theirs != mine
            {
                crossings.push(format!("{file} -> {target}"));
            }
        }
    }
    assert!(
        crossings.is_empty(),
        "a kind reaches into another kind's folder (go through kinds/shared/views.rs):\n{}",
        crossings.join("\n")
    );
}

#[test]
fn no_file_imports_one_that_imports_it_back() {
    let graph = imports();
    // Strongly connected components (Tarjan): any of more than one file is a circle.
    let mut state = Tarjan::default();
    for file in graph.keys() {
        if !state.index.contains_key(file) {
            state.visit(file, &graph);
        }
    }
    let circles: Vec<String> = state
        .components
        .iter()
        .filter(|c| c.len() > 1)
        .map(|c| {
            let edges: Vec<String> = c
                .iter()
                .flat_map(|f| {
                    graph[f]
                        .iter()
                        .filter(|t| c.contains(t))
                        .map(move |t| format!("  {f} -> {t}"))
                })
                .collect();
            format!("{}\n{}", c.join(" <-> "), edges.join("\n"))
        })
        .collect();
    assert!(
        circles.is_empty(),
        "import circles among the files of src/:\n{}",
        circles.join("\n")
    );
}

#[derive(Default)]
struct Tarjan {
    next: usize,
    index: BTreeMap<String, usize>,
    low: BTreeMap<String, usize>,
    stack: Vec<String>,
    on_stack: BTreeSet<String>,
    components: Vec<Vec<String>>,
}

impl Tarjan {
    fn visit(&mut self, file: &str, graph: &BTreeMap<String, BTreeSet<String>>) {
        self.index.insert(file.to_string(), self.next);
        self.low.insert(file.to_string(), self.next);
        self.next += 1;
        self.stack.push(file.to_string());
        self.on_stack.insert(file.to_string());
        for target in graph.get(file).into_iter().flatten() {
            if !self.index.contains_key(target) {
                self.visit(target, graph);
                let low = self.low[file].min(self.low[target]);
                self.low.insert(file.to_string(), low);
            } else if self.on_stack.contains(target) {
                let low = self.low[file].min(self.index[target]);
                self.low.insert(file.to_string(), low);
            }
        }
        if self.low[file] == self.index[file] {
            let mut component = Vec::new();
            while let Some(top) = self.stack.pop() {
                self.on_stack.remove(&top);
                let done = top == file;
                component.push(top);
                if done {
                    break;
                }
            }
            self.components.push(component);
        }
    }
}

#[test]
fn the_reader_finds_imports_as_the_compiler_would() {
    let code = strip(
        "use crate::{api::X, kinds::shared::views::{Claim, InstanceView}};\n\
         use super::decide; // crate::fake::path\n\
         let s = \"crate::in::a::string\"; mod pass; pass::apply(x);",
    );
    let found = paths(&code);
    let has = |p: &[&str]| found.iter().any(|f| f == p);
    assert!(has(&["crate", "api", "X"]), "{found:?}");
    assert!(
        has(&["crate", "kinds", "shared", "views", "Claim"]),
        "{found:?}"
    );
    assert!(has(&["super", "decide"]), "{found:?}");
    assert!(has(&["pass", "apply"]), "{found:?}");
    assert!(
        !found.iter().any(|f| f.contains(&"fake".to_string())),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|f| f.contains(&"string".to_string())),
        "{found:?}"
    );
    assert_eq!(children(&code), BTreeSet::from(["pass".to_string()]));
    let facade = strip("pub use a::{B, c::D};\npub use e::*;\nuse f::G;\npub struct H;\nfn i() {}");
    assert_eq!(
        reexports(&facade),
        vec![
            ("B".to_string(), vec!["a".to_string(), "B".to_string()]),
            ("D".to_string(), vec!["a".into(), "c".into(), "D".into()]),
            ("*".to_string(), vec!["e".to_string()]),
        ]
    );
    assert_eq!(
        definitions(&facade),
        BTreeSet::from(["H".to_string(), "i".to_string()])
    );
    assert_eq!(kind_folder("kinds/instance/act.rs"), Some("instance"));
    assert_eq!(kind_folder("kinds/shared/views.rs"), None);
    assert_eq!(kind_folder("kinds/mod.rs"), None);
}

/// DESIGN 4.13 made structural: the ids the data-reading calls take
/// (`aura::Reachable`) are vouched for only where the claims are asked.
#[test]
fn only_the_access_check_vouches_for_an_instance() {
    let allowed = [
        "aura/model.rs",          // where it is defined
        "aura/client_tests.rs",   // the client's own tests, with no claims at all
        "kinds/shared/access.rs", // the check
    ];
    let vouching: Vec<String> = sources()
        .into_iter()
        .filter(|s| s.code.contains("Reachable::vouched") || s.code.contains("Reachable(\""))
        .map(|s| s.file)
        .filter(|f| !allowed.contains(&f.as_str()))
        .collect();
    assert!(
        vouching.is_empty(),
        "only kinds/shared/access.rs may vouch for an Aura instance id: {vouching:?}"
    );
}
