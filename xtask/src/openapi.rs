//! `cargo xtask openapi`: writes the HTTP API's OpenAPI document, as the code generates it, to
//! `docs/openapi.json`. The test `docs_openapi_json_is_the_document_the_code_makes` (in
//! `absync-adapter-http`, run by `cargo xtask test`) fails while the committed copy differs.

use crate::{Failed, cargo};
use anyhow::Context;
use std::path::Path;
use std::process::Stdio;

pub(crate) fn run() -> anyhow::Result<()> {
    let what = "cargo run -p absync-adapter-http --example openapi";
    eprintln!("xtask: {what}");
    let mut command = cargo();
    command
        .args(["run", "--quiet", "--package", "absync-adapter-http"])
        .args(["--example", "openapi"])
        .stderr(Stdio::inherit());
    let output = command
        .output()
        .with_context(|| format!("cannot start {what}"))?;
    if !output.status.success() {
        return Err(Failed {
            what: what.to_owned(),
            status: output.status,
            code: output.status.code(),
        }
        .into());
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
    let unchanged = std::fs::read(&path).is_ok_and(|before| before == output.stdout);
    std::fs::write(&path, &output.stdout)
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "xtask: docs/openapi.json {}",
        if unchanged { "was current" } else { "written" }
    );
    Ok(())
}
