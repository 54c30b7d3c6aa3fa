//! The dependency rule, checked over `cargo metadata`: inner crates never name outer ones, and the
//! domain stays free of I/O crates (directly or through anything it pulls in).

use anyhow::Context;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Crates the domain must never reach.
const IO_CRATES: &[&str] = &[
    "tokio",
    "sqlx",
    "sqlx-core",
    "tonic",
    "prost",
    "reqwest",
    "axum",
    "hyper",
    "mockall",
];
/// Crates the application must never reach.
const ADAPTER_CRATES: &[&str] = &[
    "tokio",
    "sqlx",
    "sqlx-core",
    "tonic",
    "reqwest",
    "axum",
    "hyper",
];

/// Normal (non-dev, non-build) dependency names of each package, by package name.
fn normal_graph(metadata: &Value) -> Result<BTreeMap<String, BTreeSet<String>>, String> {
    let names: BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata output has no `packages`")?
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    let mut graph = BTreeMap::new();
    for node in metadata["resolve"]["nodes"]
        .as_array()
        .ok_or("cargo metadata output has no resolve graph (was it run with --no-deps?)")?
    {
        let Some(name) = node["id"].as_str().and_then(|id| names.get(id)) else {
            continue;
        };
        let deps: BTreeSet<String> = node["deps"]
            .as_array()
            .into_iter()
            .flatten()
            // `kind` is null for a normal dependency, "dev" or "build" otherwise; without
            // `dep_kinds` (very old cargo) count it as normal, so the check errs on the strict side.
            .filter(|dep| {
                dep["dep_kinds"]
                    .as_array()
                    .is_none_or(|kinds| kinds.iter().any(|k| k["kind"].is_null()))
            })
            .filter_map(|dep| {
                dep["pkg"]
                    .as_str()
                    .and_then(|id| names.get(id))
                    .map(|n| (*n).to_owned())
            })
            .collect();
        graph
            .entry((*name).to_owned())
            .or_insert_with(BTreeSet::new)
            .extend(deps);
    }
    Ok(graph)
}

/// Everything `root` reaches through normal dependencies, with the path to each.
fn reachable(graph: &BTreeMap<String, BTreeSet<String>>, root: &str) -> BTreeMap<String, String> {
    let mut seen = BTreeMap::new();
    let mut stack = vec![(root.to_owned(), root.to_owned())];
    while let Some((name, path)) = stack.pop() {
        for dep in graph.get(&name).into_iter().flatten() {
            if !seen.contains_key(dep) {
                let dep_path = format!("{path} -> {dep}");
                seen.insert(dep.clone(), dep_path.clone());
                stack.push((dep.clone(), dep_path));
            }
        }
    }
    seen
}

/// Every breach of the dependency rule in `metadata` (the JSON of `cargo metadata --format-version 1`).
/// Unreadable metadata is reported as a violation too, so the check never passes by accident.
pub(crate) fn violations(metadata: &Value) -> Vec<String> {
    let graph = match normal_graph(metadata) {
        Ok(graph) => graph,
        Err(problem) => return vec![problem],
    };
    let mut found = Vec::new();
    let forbid =
        |found: &mut Vec<String>, root: &str, forbidden: &dyn Fn(&str) -> bool, why: &str| {
            for (dep, path) in reachable(&graph, root) {
                if forbidden(&dep) {
                    found.push(format!("{root} must not depend on {dep} ({why}): {path}"));
                }
            }
        };
    forbid(
        &mut found,
        "absync-domain",
        &|d| IO_CRATES.contains(&d),
        "the domain is pure",
    );
    forbid(
        &mut found,
        "absync-domain",
        &|d| d.starts_with("absync-"),
        "the domain is innermost",
    );
    forbid(
        &mut found,
        "absync-application",
        &|d| ADAPTER_CRATES.contains(&d),
        "use cases know no adapter technology",
    );
    forbid(
        &mut found,
        "absync-application",
        &|d| d.starts_with("absync-") && d != "absync-domain",
        "the application depends only on the domain",
    );
    for adapter in graph.keys().filter(|n| n.starts_with("absync-adapter-")) {
        forbid(
            &mut found,
            adapter,
            &|d| (d.starts_with("absync-adapter-") && d != adapter) || d == "absync-bootstrap",
            "adapters meet only in bootstrap",
        );
    }
    found
}

fn workspace_metadata() -> anyhow::Result<Value> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = crate::cargo()
        .args(["metadata", "--format-version", "1"])
        .current_dir(root)
        .output()
        .context("running cargo metadata")?;
    anyhow::ensure!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).context("parsing cargo metadata")
}

/// `cargo xtask deps`.
pub(crate) fn run() -> anyhow::Result<()> {
    let found = violations(&workspace_metadata()?);
    if found.is_empty() {
        eprintln!("xtask: the dependency rule holds");
        return Ok(());
    }
    for v in &found {
        eprintln!("  {v}");
    }
    anyhow::bail!("{} dependency rule violation(s)", found.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_dependency_rule_holds() {
        let found = violations(&workspace_metadata().unwrap());
        assert!(found.is_empty(), "{found:#?}");
    }

    fn node(id: &str, deps: &[(&str, Option<&str>)]) -> Value {
        json!({
            "id": id,
            "deps": deps.iter().map(|(pkg, kind)| json!({"pkg": pkg, "dep_kinds": [{"kind": kind}]})).collect::<Vec<_>>()
        })
    }

    #[test]
    fn a_transitive_io_dependency_of_the_domain_is_reported() {
        let metadata = json!({
            "packages": [
                {"id": "d", "name": "absync-domain"},
                {"id": "h", "name": "helper"},
                {"id": "t", "name": "tokio"},
                {"id": "m", "name": "mockall"},
                {"id": "a", "name": "absync-application"},
                {"id": "p", "name": "absync-adapter-postgres"},
                {"id": "g", "name": "absync-adapter-grpc"}
            ],
            "resolve": {"nodes": [
                node("d", &[("h", None), ("m", Some("dev"))]),
                node("h", &[("t", None)]),
                node("t", &[]),
                node("m", &[]),
                node("a", &[("d", None)]),
                node("p", &[("a", None), ("g", None)]),
                node("g", &[("a", None)])
            ]}
        });
        let found = violations(&metadata);
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(
            found[0].contains("absync-domain -> helper -> tokio"),
            "{found:#?}"
        );
        assert!(
            found
                .iter()
                .any(|f| f.contains("absync-application -> absync-domain -> helper -> tokio"))
        );
        assert!(
            found
                .iter()
                .any(|f| f
                    .contains("absync-adapter-postgres must not depend on absync-adapter-grpc"))
        );
        // A dev-dependency (mockall) does not count.
        assert!(!found.iter().any(|f| f.contains("mockall")));
    }

    #[test]
    fn a_clean_graph_passes_and_unreadable_metadata_fails() {
        let clean = json!({
            "packages": [
                {"id": "d", "name": "absync-domain"},
                {"id": "a", "name": "absync-application"},
                {"id": "p", "name": "absync-adapter-postgres"},
                {"id": "s", "name": "sqlx"},
                {"id": "b", "name": "absync-bootstrap"}
            ],
            "resolve": {"nodes": [
                node("d", &[]),
                node("a", &[("d", None)]),
                node("p", &[("a", None), ("s", None)]),
                node("s", &[]),
                node("b", &[("p", None), ("a", None)])
            ]}
        });
        assert_eq!(violations(&clean), Vec::<String>::new());
        // `cargo metadata --no-deps` has no resolve graph: that must not pass silently.
        let no_resolve = json!({"packages": [], "resolve": null});
        assert_eq!(violations(&no_resolve).len(), 1);
    }
}
