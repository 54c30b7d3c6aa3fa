//! Database URLs for tests: the server from `DATABASE_URL` with another database name.

/// `DATABASE_URL` with its database replaced by `database` (tests get theirs from `#[sqlx::test]`).
///
/// # Panics
/// When `DATABASE_URL` is unset or not a URL.
#[must_use]
pub fn url_for(database: &str) -> String {
    let base =
        std::env::var("DATABASE_URL").expect("DATABASE_URL is set (cargo xtask test sets it)");
    let mut url = url::Url::parse(&base).expect("DATABASE_URL is a URL");
    url.set_path(&format!("/{database}"));
    url.into()
}
