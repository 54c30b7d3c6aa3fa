//! The `absync` binary: parse configuration, install logging (and the trace export), run the command.

use absync_bootstrap::telemetry::{self, TraceExport};
use absync_bootstrap::{Application, Cli, Command, database_admin, remote_cli};
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Only the service exports traces; the operator commands log.
    let export = match &cli.command {
        Command::Serve(args) => TraceExport::configured(args.otlp_endpoint.as_deref()),
        _ => None,
    };
    let traces = telemetry::init(cli.log_format, export.as_ref())?;
    match cli.command {
        Command::Serve(args) => {
            let app = Application::build_traced(&args, traces).await?;
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Migrate(database) => database_admin::migrate(&database).await,
        Command::Token(command) => database_admin::token(command).await,
        Command::Deliveries { remote, command } => remote_cli::deliveries(&remote, command).await,
        Command::PendingTasks { remote } => remote_cli::pending_tasks(&remote).await,
        Command::Subscriptions { remote, command } => {
            remote_cli::subscriptions(&remote, command).await
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
