//! The documentation's links to files of the repository must lead somewhere, and every test that
//! `docs/guarantees.md` names as a proof must exist: a moved file or a renamed test fails the check
//! instead of leaving a page that names what no longer exists.

use std::path::{Path, PathBuf};

/// The Markdown pages whose relative links are checked.
fn pages(root: &Path) -> Vec<PathBuf> {
    let mut pages = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    if let Ok(entries) = std::fs::read_dir(root.join("docs")) {
        pages.extend(
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "md")),
        );
    }
    pages
}

/// The targets of `[text](target)` links in `markdown` that point into the repository (not
/// `http(s):`, `mailto:` or `#anchor`), without their `#fragment`.
fn relative_links(markdown: &str) -> Vec<String> {
    let mut links = Vec::new();
    let mut rest = markdown;
    while let Some(start) = rest.find("](") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find(')') else { break };
        let target = rest[..end].split('#').next().unwrap_or_default().trim();
        let external = target.is_empty() || target.contains("://") || target.starts_with("mailto:");
        if !external {
            links.push(target.to_owned());
        }
        rest = &rest[end..];
    }
    links
}

/// Every relative link of the documentation that leads to no file or folder, as `page: target`.
pub(crate) fn broken_links(root: &Path) -> Vec<String> {
    let mut broken = Vec::new();
    for page in pages(root) {
        let Ok(text) = std::fs::read_to_string(&page) else {
            broken.push(format!("{}: cannot be read", page.display()));
            continue;
        };
        let folder = page.parent().unwrap_or(root);
        for target in relative_links(&text) {
            if !folder.join(&target).exists() {
                broken.push(format!("{}: {target}", page.display()));
            }
        }
    }
    broken
}

/// The test names in `markdown`: backticked snake_case words with at least three underscores.
fn test_names(markdown: &str) -> Vec<&str> {
    markdown
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|word| {
            word.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                && word.matches('_').count() >= 3
        })
        .collect()
}

/// Every Rust file under `folder`, recursively (skipping `target`).
fn rust_files(folder: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() && path.file_name().is_some_and(|n| n != "target") {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The tests `docs/guarantees.md` names that no Rust file defines (`fn name(` or, for the store
/// contract's generic bodies, `fn name<`).
pub(crate) fn missing_proofs(root: &Path) -> Vec<String> {
    let Ok(page) = std::fs::read_to_string(root.join("docs").join("guarantees.md")) else {
        return vec!["docs/guarantees.md cannot be read".to_owned()];
    };
    let mut files = Vec::new();
    for folder in ["crates", "tests", "xtask", "bench", "fuzz"] {
        rust_files(&root.join(folder), &mut files);
    }
    let sources: Vec<String> = files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect();
    test_names(&page)
        .into_iter()
        .filter(|name| {
            let (plain, generic) = (format!("fn {name}("), format!("fn {name}<"));
            !sources
                .iter()
                .any(|source| source.contains(&plain) || source.contains(&generic))
        })
        .map(|name| format!("docs/guarantees.md: no test {name}"))
        .collect()
}

/// `cargo xtask docs`.
pub(crate) fn run() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut broken = broken_links(&root);
    broken.extend(missing_proofs(&root));
    for link in &broken {
        eprintln!("  {link}");
    }
    anyhow::ensure!(
        broken.is_empty(),
        "{} broken documentation link(s)",
        broken.len()
    );
    eprintln!("xtask: every documentation link leads to a file");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_found_and_external_ones_skipped() {
        let text = "[a](../crates/x.rs) [b](https://e.com/y) [c](#top) [d](docs/z.md#part)";
        assert_eq!(relative_links(text), ["../crates/x.rs", "docs/z.md"]);
    }

    #[test]
    fn test_names_are_the_long_snake_case_words() {
        let text =
            "| a | `a_write_queues_one_delivery` (store) `ABSYNC_E2E_STORE` `fuzz/` `two_words` |";
        assert_eq!(test_names(text), ["a_write_queues_one_delivery"]);
    }

    #[test]
    fn every_test_named_as_a_proof_exists() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let missing = missing_proofs(&root);
        assert!(missing.is_empty(), "{missing:#?}");
    }

    #[test]
    fn every_link_of_the_documentation_leads_to_a_file_of_the_repository() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        assert!(root.join("docs").join("extending.md").is_file());
        let broken = broken_links(&root);
        assert!(broken.is_empty(), "broken links: {broken:#?}");
    }
}
