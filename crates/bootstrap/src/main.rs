//! The `absync` binary: parse configuration, install logging, run the command.

use absync_adapter_postgres::{PgStore, PoolSettings};
use absync_application::TokenService;
use absync_bootstrap::{Application, Cli, Command, TokenCommand, telemetry};
use absync_domain::{Scope, TenantId};
use anyhow::Context;
use clap::Parser;
use secrecy::ExposeSecret;
use std::sync::Arc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    match cli.command {
        Command::Serve(args) => {
            let app = Application::build(&args).await?;
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Migrate(db) => {
            let store =
                PgStore::connect(db.database_url.expose_secret(), &PoolSettings::default()).await?;
            store.migrate().await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Token(TokenCommand::Create {
            database,
            tenant,
            scopes,
            label,
        }) => {
            let tenant =
                TenantId::parse(&tenant).with_context(|| format!("--tenant {tenant:?}"))?;
            let scopes = scopes
                .iter()
                .map(|s| Scope::parse(s.trim()))
                .collect::<Result<Vec<_>, _>>()
                .context("--scope")?;
            let store = PgStore::connect(
                database.database_url.expose_secret(),
                &PoolSettings::default(),
            )
            .await?;
            store.migrate().await?;
            let issued = TokenService::new(Arc::new(store))
                .issue(&tenant, &scopes, label)
                .await
                .context("storing the token")?;
            eprintln!(
                "token {} for tenant {} with scopes {}; it is shown only once:",
                issued.record.id,
                issued.record.tenant,
                issued
                    .record
                    .scopes
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            );
            println!("{}", issued.token);
            Ok(())
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
