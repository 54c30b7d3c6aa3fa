//! The dependency rule, checked over `cargo metadata`: inner crates never name outer ones, the
//! domain stays free of I/O crates (directly or through anything it pulls in), and the store contract
//! (test code) depends on the ports only and is a dev-dependency of adapters only, and the store core
//! (what the store adapters share) names only the ports and the domain, and no transport.

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
/// Crates the application must never reach: the adapters' technologies, and the tracing system
/// (its `TraceContext` port speaks `traceparent` values; bootstrap implements it on OpenTelemetry).
const ADAPTER_CRATES: &[&str] = &[
    "tokio",
    "sqlx",
    "sqlx-core",
    "tonic",
    "reqwest",
    "axum",
    "hyper",
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry-otlp",
    "tracing-opentelemetry",
];

/// Transports the store core must never reach: it serves the store adapters only.
const TRANSPORT_CRATES: &[&str] = &["tonic", "axum", "reqwest", "hyper"];

/// What the store adapters share (row shapes and their decoding).
const STORE_CORE: &str = "absync-store-core";

/// The binary's package (bootstrap): the outermost crate.
const BOOTSTRAP: &str = "absync";

/// A crate of this workspace (`absync` or `absync-…`).
fn internal(name: &str) -> bool {
    name == BOOTSTRAP || name.starts_with("absync-")
}

/// The test-support crate holding the store contract: beside the adapters, a dev-dependency of them only.
const STORE_CONTRACT: &str = "absync-store-contract";

/// Every package of the resolve graph, by name, with its dependencies and the kinds of each (`None`:
/// normal, `Some("dev")`, `Some("build")`). Without `dep_kinds` (very old cargo) a dependency counts as
/// normal, so the checks err on the strict side.
type Dependencies = BTreeMap<String, BTreeMap<String, Vec<Option<String>>>>;

fn dependencies(metadata: &Value) -> Result<Dependencies, String> {
    let names: BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata output has no `packages`")?
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    let mut all = Dependencies::new();
    for node in metadata["resolve"]["nodes"]
        .as_array()
        .ok_or("cargo metadata output has no resolve graph (was it run with --no-deps?)")?
    {
        let Some(name) = node["id"].as_str().and_then(|id| names.get(id)) else {
            continue;
        };
        let deps = all.entry((*name).to_owned()).or_default();
        for dep in node["deps"].as_array().into_iter().flatten() {
            let Some(dep_name) = dep["pkg"].as_str().and_then(|id| names.get(id)) else {
                continue;
            };
            let kinds = dep["dep_kinds"].as_array().map_or_else(
                || vec![None],
                |kinds| {
                    kinds
                        .iter()
                        .map(|k| k["kind"].as_str().map(str::to_owned))
                        .collect()
                },
            );
            deps.entry((*dep_name).to_owned())
                .or_default()
                .extend(kinds);
        }
    }
    Ok(all)
}

/// Normal (non-dev, non-build) dependency names of each package, by package name.
fn normal_graph(all: &Dependencies) -> BTreeMap<String, BTreeSet<String>> {
    all.iter()
        .map(|(name, deps)| {
            let normal = deps
                .iter()
                .filter(|(_, kinds)| kinds.iter().any(Option::is_none))
                .map(|(dep, _)| dep.clone())
                .collect();
            (name.clone(), normal)
        })
        .collect()
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
    let all = match dependencies(metadata) {
        Ok(all) => all,
        Err(problem) => return vec![problem],
    };
    let graph = normal_graph(&all);
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
        &|d| internal(d),
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
        &|d| internal(d) && d != "absync-domain",
        "the application depends only on the domain",
    );
    for adapter in graph.keys().filter(|n| n.starts_with("absync-adapter-")) {
        forbid(
            &mut found,
            adapter,
            &|d| (d.starts_with("absync-adapter-") && d != adapter) || d == BOOTSTRAP,
            "adapters meet only in bootstrap",
        );
    }
    forbid(
        &mut found,
        STORE_CONTRACT,
        &|d| internal(d) && d != "absync-application" && d != "absync-domain",
        "the store contract sees a store only through the application's ports",
    );
    forbid(
        &mut found,
        STORE_CORE,
        &|d| internal(d) && d != "absync-application" && d != "absync-domain",
        "the store core sits between the ports and the store adapters",
    );
    forbid(
        &mut found,
        STORE_CORE,
        &|d| TRANSPORT_CRATES.contains(&d),
        "the store core knows no transport",
    );
    for (dependent, deps) in &all {
        let Some(kinds) = deps.get(STORE_CONTRACT) else {
            continue;
        };
        if !dependent.starts_with("absync-adapter-") {
            found.push(format!(
                "{dependent} must not depend on {STORE_CONTRACT} (only adapters run the store contract)"
            ));
        } else if kinds.iter().any(|k| k.as_deref() != Some("dev")) {
            found.push(format!(
                "{dependent} must depend on {STORE_CONTRACT} as a dev-dependency only (it is test code)"
            ));
        }
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
    fn the_store_contract_is_a_dev_dependency_of_adapters_only() {
        let metadata = json!({
            "packages": [
                {"id": "d", "name": "absync-domain"},
                {"id": "a", "name": "absync-application"},
                {"id": "c", "name": "absync-store-contract"},
                {"id": "p", "name": "absync-adapter-postgres"},
                {"id": "g", "name": "absync-adapter-grpc"},
                {"id": "h", "name": "absync-adapter-http"},
                {"id": "b", "name": "absync"}
            ],
            "resolve": {"nodes": [
                node("d", &[]),
                node("a", &[("d", None)]),
                node("c", &[("a", None), ("d", None), ("h", None)]),
                node("p", &[("a", None), ("c", Some("dev"))]),
                node("g", &[("a", None), ("c", None)]),
                node("h", &[("a", None)]),
                node("b", &[("p", None), ("c", Some("dev"))])
            ]}
        });
        let found = violations(&metadata);
        let expected = [
            "absync-store-contract must not depend on absync-adapter-http",
            "absync-adapter-grpc must depend on absync-store-contract as a dev-dependency only",
            "absync must not depend on absync-store-contract",
            // Through the contract's own bad dependency.
            "absync-adapter-grpc must not depend on absync-adapter-http",
        ];
        for violation in expected {
            assert!(
                found.iter().any(|f| f.starts_with(violation)),
                "{violation}: {found:#?}"
            );
        }
        assert_eq!(found.len(), expected.len(), "{found:#?}");
        assert!(
            !found
                .iter()
                .any(|f| f.starts_with("absync-adapter-postgres"))
        );
    }

    #[test]
    fn the_store_core_names_only_the_ports_and_no_transport() {
        let metadata = json!({
            "packages": [
                {"id": "d", "name": "absync-domain"},
                {"id": "a", "name": "absync-application"},
                {"id": "k", "name": "absync-store-core"},
                {"id": "h", "name": "absync-adapter-http"},
                {"id": "x", "name": "sqlx"},
                {"id": "r", "name": "reqwest"},
                {"id": "t", "name": "tonic"}
            ],
            "resolve": {"nodes": [
                node("d", &[]),
                node("a", &[("d", None)]),
                node("k", &[("a", None), ("x", None), ("h", None), ("r", None), ("t", Some("dev"))]),
                node("h", &[("a", None)]),
                node("x", &[]),
                node("r", &[]),
                node("t", &[])
            ]}
        });
        let found = violations(&metadata);
        let expected = [
            "absync-store-core must not depend on absync-adapter-http",
            "absync-store-core must not depend on reqwest",
        ];
        for violation in expected {
            assert!(
                found.iter().any(|f| f.starts_with(violation)),
                "{violation}: {found:#?}"
            );
        }
        // sqlx is the store core's own; a dev-dependency (tonic) does not count.
        assert_eq!(found.len(), expected.len(), "{found:#?}");
    }

    #[test]
    fn the_application_names_no_tracing_system() {
        let metadata = json!({
            "packages": [
                {"id": "d", "name": "absync-domain"},
                {"id": "a", "name": "absync-application"},
                {"id": "t", "name": "tracing-opentelemetry"},
                {"id": "o", "name": "opentelemetry"},
                {"id": "b", "name": "absync"}
            ],
            "resolve": {"nodes": [
                node("d", &[]),
                node("a", &[("d", None), ("t", None)]),
                node("t", &[("o", None)]),
                node("o", &[]),
                node("b", &[("a", None), ("t", None), ("o", None)])
            ]}
        });
        let found = violations(&metadata);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found
                .iter()
                .all(|f| f.starts_with("absync-application must not depend on")),
            "{found:#?}"
        );
    }

    #[test]
    fn a_clean_graph_passes_and_unreadable_metadata_fails() {
        let clean = json!({
            "packages": [
                {"id": "d", "name": "absync-domain"},
                {"id": "a", "name": "absync-application"},
                {"id": "p", "name": "absync-adapter-postgres"},
                {"id": "s", "name": "sqlx"},
                {"id": "c", "name": "absync-store-contract"},
                {"id": "b", "name": "absync"}
            ],
            "resolve": {"nodes": [
                node("d", &[]),
                node("a", &[("d", None)]),
                node("c", &[("a", None), ("d", None)]),
                node("p", &[("a", None), ("s", None), ("c", Some("dev"))]),
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
