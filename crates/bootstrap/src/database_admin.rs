//! The admin commands run directly on the database, with no service needed: `migrate` and
//! `token create|list|revoke`. The commands that call a running service are in [`crate::remote_cli`].

use crate::config::{DatabaseArgs, TokenCommand};
use crate::store::{Store, StoreSettings};
use absync_application::TokenService;
use absync_domain::{Scope, TenantId};
use anyhow::Context;
use secrecy::ExposeSecret;

/// The store of `database`, migrated. It does not take SQLite's single-instance lock, so these short
/// commands also work beside a running `absync serve`.
async fn store(database: &DatabaseArgs) -> anyhow::Result<Store> {
    Store::open(
        database.database_url.expose_secret(),
        StoreSettings {
            max_connections: 2,
            acquire_timeout: std::time::Duration::from_secs(5),
            exclusive: false,
        },
    )
    .await
}

/// `absync migrate`.
///
/// # Errors
/// When the database cannot be reached or migrated.
pub async fn migrate(database: &DatabaseArgs) -> anyhow::Result<()> {
    store(database).await?;
    tracing::info!("migrations applied");
    Ok(())
}

fn tenant(text: &str) -> anyhow::Result<TenantId> {
    TenantId::parse(text).with_context(|| format!("--tenant {text:?}"))
}

/// `absync token …`. `create` prints the token on stdout (once) and what it is on stderr.
///
/// # Errors
/// On bad arguments or when the database fails.
pub async fn token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            database,
            tenant: name,
            scopes,
            label,
        } => {
            let tenant = tenant(&name)?;
            let scopes = scopes
                .iter()
                .map(|s| Scope::parse(s.trim()))
                .collect::<Result<Vec<_>, _>>()
                .context("--scope")?;
            let issued = TokenService::new(store(&database).await?.ports().tokens)
                .issue(&tenant, &scopes, label)
                .await
                .context("storing the token")?;
            eprintln!(
                "token {} for tenant {} with scopes {}; it is shown only once:",
                issued.record.id,
                issued.record.tenant,
                scope_list(&issued.record.scopes)
            );
            println!("{}", issued.token);
        }
        TokenCommand::List {
            database,
            tenant: name,
        } => {
            let tenant = name.as_deref().map(tenant).transpose()?;
            let tokens = TokenService::new(store(&database).await?.ports().tokens)
                .list(tenant)
                .await
                .context("listing tokens")?;
            println!(
                "{:<36}  {:<16}  {:<25}  {:<8}  {:<40}  label",
                "id", "tenant", "created", "state", "scopes"
            );
            for t in tokens {
                println!(
                    "{:<36}  {:<16}  {:<25}  {:<8}  {:<40}  {}",
                    t.id,
                    t.tenant,
                    t.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
                    if t.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    },
                    scope_list(&t.scopes),
                    t.label.unwrap_or_default()
                );
            }
        }
        TokenCommand::Revoke { database, id } => {
            TokenService::new(store(&database).await?.ports().tokens)
                .revoke(&id)
                .await
                .with_context(|| format!("revoking token {id}"))?;
            eprintln!("token {id} revoked");
        }
    }
    Ok(())
}

fn scope_list(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}
