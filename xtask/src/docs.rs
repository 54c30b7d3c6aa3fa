//! The documentation's links to files of the repository must lead somewhere: a moved or renamed file
//! fails the test below instead of leaving a guide that names what no longer exists.

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

/// `cargo xtask docs`.
pub(crate) fn run() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let broken = broken_links(&root);
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
    fn every_link_of_the_documentation_leads_to_a_file_of_the_repository() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        assert!(root.join("docs").join("extending.md").is_file());
        let broken = broken_links(&root);
        assert!(broken.is_empty(), "broken links: {broken:#?}");
    }
}
