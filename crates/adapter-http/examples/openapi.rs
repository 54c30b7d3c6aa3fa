//! Prints the OpenAPI document of the HTTP API: what `cargo xtask openapi` writes to
//! `docs/openapi.json`.

use std::io::Write;

fn main() -> std::io::Result<()> {
    std::io::stdout().write_all(absync_adapter_http::openapi_json().as_bytes())
}
