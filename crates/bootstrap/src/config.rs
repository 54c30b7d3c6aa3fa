//! Command line and environment configuration. Every flag can also be set by its `ABSYNC_*` variable.

use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::time::Duration;

/// absync: keeps external tools in sync with an HR absence system by webhook.
#[derive(Debug, Parser)]
#[command(name = "absync", version, about)]
pub struct Cli {
    /// Log format.
    #[arg(long, env = "ABSYNC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// absync's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: gRPC and HTTP APIs, web console and webhook dispatcher (applies pending
    /// migrations first).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Inspect and act on deliveries of a running service (over gRPC).
    Deliveries {
        /// Where and as whom.
        #[command(flatten)]
        remote: RemoteArgs,
        /// What to do.
        #[command(subcommand)]
        command: DeliveriesCommand,
    },
    /// Show the pending-tasks dashboard of a running service: failed deliveries by subscription.
    PendingTasks {
        /// Where and as whom.
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Inspect, pause and resume the subscriptions of a running service (over gRPC).
    Subscriptions {
        /// Where and as whom.
        #[command(flatten)]
        remote: RemoteArgs,
        /// What to do.
        #[command(subcommand)]
        command: SubscriptionsCommand,
    },
}

/// How operator commands reach a running service.
#[derive(Debug, Clone, Args)]
pub struct RemoteArgs {
    /// The service's gRPC address.
    #[arg(
        long,
        env = "ABSYNC_SERVER",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    pub server: String,
    /// A token with the scopes the command needs: deliveries:read (deliveries:write to act) for
    /// `deliveries` and `pending-tasks`, webhooks:read (webhooks:write to pause or resume) for
    /// `subscriptions`.
    #[arg(long, env = "ABSYNC_TOKEN", value_parser = parse_secret, global = true)]
    pub token: Option<SecretString>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table, global = true)]
    pub output: OutputFormat,
}

/// How operator commands print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// JSON for scripts.
    Json,
}

/// `absync deliveries …`.
#[derive(Debug, Subcommand)]
pub enum DeliveriesCommand {
    /// List deliveries, newest first.
    List {
        /// Only in this status: waiting, pending, succeeded, failed, processed, cancelled.
        #[arg(long)]
        status: Option<String>,
        /// Only this subscription's.
        #[arg(long)]
        subscription: Option<String>,
        /// Only of this leave.
        #[arg(long)]
        leave: Option<String>,
        /// How many at most.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show one delivery: the exact message (secrets redacted) and every attempt.
    Show {
        /// The delivery id.
        id: i64,
    },
    /// Send a delivery again now.
    Resync {
        /// The delivery id.
        id: i64,
        /// Even if a newer change of its leave was delivered since.
        #[arg(long)]
        force: bool,
    },
    /// Take a failed delivery off the dashboard, keeping it for audit.
    MarkProcessed {
        /// The delivery id.
        id: i64,
        /// Why.
        #[arg(long)]
        note: Option<String>,
    },
}

/// `absync subscriptions …`.
#[derive(Debug, Subcommand)]
pub enum SubscriptionsCommand {
    /// List the tenant's subscriptions, oldest first (every page; deleted ones excluded).
    List {
        /// Subscriptions asked for per call (1–1000); the list is complete whatever the size.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
        page_size: u32,
    },
    /// Show one subscription (its Authorization value redacted).
    Show {
        /// The subscription id (a UUID).
        id: String,
    },
    /// Pause a subscription: its deliveries queue up and are not sent until it is resumed.
    Pause {
        /// The subscription id (a UUID).
        id: String,
    },
    /// Resume a paused subscription, or re-enable a disabled one (a Protime subscription disabled
    /// by exhausted retries included): what queued up is sent, in change order per leave.
    Resume {
        /// The subscription id (a UUID).
        id: String,
    },
}

/// Where the database is.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Where absync keeps its data: `sqlite://path/to/file.db` (embedded, one instance; the file and
    /// its folder are created on first start) or `postgres://user@host:port/database` (several
    /// instances; the database is created if it does not exist).
    #[arg(
        long,
        env = "ABSYNC_DATABASE_URL",
        default_value = crate::store::DEFAULT_DATABASE_URL,
        value_parser = parse_secret,
        hide_default_value = false
    )]
    pub database_url: SecretString,
}

fn parse_secret(text: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(text.to_owned()))
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("{e} (examples: 250ms, 10s, 5m, 1h)"))
}

fn parse_allow_entry(text: &str) -> Result<String, String> {
    absync_domain::DestinationPolicy::with_allowlist(&[text]).map_err(|e| e.to_string())?;
    Ok(text.trim().to_owned())
}

fn parse_schedule(text: &str) -> Result<Vec<Duration>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|part| {
            let delay = parse_duration(part)?;
            if delay.is_zero() {
                return Err(format!("{part:?}: a retry delay must be greater than zero"));
            }
            Ok(delay)
        })
        .collect()
}

/// `absync serve` settings.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Address of the gRPC API (port 0 picks a free port).
    #[arg(long, env = "ABSYNC_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: SocketAddr,
    /// Address of the HTTP API: the Protime-compatible REST API, /healthz and /readyz (port 0 picks a
    /// free port).
    #[arg(long, env = "ABSYNC_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// Delays between delivery attempts, comma-separated; after the last one a delivery has failed.
    #[arg(long, env = "ABSYNC_RETRY_SCHEDULE", default_value = "5m,15m,1h,24h", value_parser = parse_schedule)]
    pub retry_schedule: std::vec::Vec<Duration>,
    /// How long a subscriber has to answer a POST.
    #[arg(long, env = "ABSYNC_DELIVERY_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub delivery_timeout: Duration,
    /// Deliveries sent at once.
    #[arg(long, env = "ABSYNC_DISPATCH_CONCURRENCY", default_value_t = 128, value_parser = clap::value_parser!(u16).range(1..))]
    pub dispatch_concurrency: u16,
    /// Deliveries sent at once to one subscription (at most the concurrency): a slow or dead receiver
    /// holds only these slots.
    #[arg(long, env = "ABSYNC_DISPATCH_PER_SUBSCRIPTION", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..))]
    pub dispatch_per_subscription: u16,
    /// Most deliveries claimed at once.
    #[arg(long, env = "ABSYNC_DISPATCH_BATCH_SIZE", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub dispatch_batch_size: u32,
    /// How often the dispatcher looks for due retries and work queued by other instances.
    #[arg(long, env = "ABSYNC_DISPATCH_POLL_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub dispatch_poll_interval: Duration,
    /// How long a claimed delivery stays reserved; after a crash it is sent again once this expires.
    #[arg(long, env = "ABSYNC_DISPATCH_LEASE", default_value = "60s", value_parser = parse_duration)]
    pub dispatch_lease: Duration,
    /// How long succeeded deliveries (and their attempts) are kept; failed ones stay until processed.
    #[arg(long, env = "ABSYNC_RETENTION", default_value = "30days", value_parser = parse_duration)]
    pub retention: Duration,
    /// Permit plain http:// destinations (for tests and closed networks).
    #[arg(long, env = "ABSYNC_ALLOW_HTTP")]
    pub allow_http: bool,
    /// Destinations exempt from the SSRF guard, comma-separated: CIDRs (127.0.0.0/8), addresses or host
    /// names. Without them loopback, private, link-local, unique-local, multicast and unspecified
    /// addresses are refused, when subscribing and at every connection.
    #[arg(long, env = "ABSYNC_ALLOW_DESTINATIONS", value_delimiter = ',', value_parser = parse_allow_entry)]
    pub allow_destinations: Vec<String>,
    /// How long shutdown waits for in-flight calls and deliveries.
    #[arg(long, env = "ABSYNC_SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
    /// How long a call waits for a database connection before it answers UNAVAILABLE.
    #[arg(long, env = "ABSYNC_DATABASE_ACQUIRE_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub database_acquire_timeout: Duration,
    /// Database connections held at most [default: 16 on PostgreSQL; 4 readers on SQLite, whose
    /// writes all go through one writer].
    #[arg(long, env = "ABSYNC_DATABASE_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    pub database_max_connections: Option<u32>,
    /// Export traces over OTLP/gRPC to this collector (`http://collector:4317`); the standard
    /// OTEL_EXPORTER_OTLP_ENDPOINT does the same. Unset: no traces are exported.
    #[arg(long, env = "ABSYNC_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

/// `absync token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once (only its hash is stored).
    Create {
        /// Database.
        #[command(flatten)]
        database: DatabaseArgs,
        /// The tenant the token acts for (lower-case letters, digits, '-', '_').
        #[arg(long)]
        tenant: String,
        /// A scope (repeat or comma-separate): absences:write, absences:read, webhooks:write,
        /// webhooks:read, deliveries:read, deliveries:write.
        #[arg(long = "scope", required = true, value_delimiter = ',')]
        scopes: Vec<String>,
        /// A note for operators.
        #[arg(long)]
        label: Option<String>,
    },
    /// List tokens (never their text), revoked ones included.
    List {
        /// Database.
        #[command(flatten)]
        database: DatabaseArgs,
        /// Only this tenant's tokens.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a token by its id (from `token list`); it stops working at once.
    Revoke {
        /// Database.
        #[command(flatten)]
        database: DatabaseArgs,
        /// The token's id.
        id: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn schedules_parse_and_zero_delays_are_refused() {
        assert_eq!(
            parse_schedule("5m,15m,1h,24h").unwrap(),
            [300, 900, 3600, 86_400].map(Duration::from_secs)
        );
        assert_eq!(
            parse_schedule("20ms, 40ms").unwrap(),
            [20, 40].map(Duration::from_millis)
        );
        assert!(parse_schedule("5m,0s").is_err());
        assert!(parse_schedule("soon").is_err());
    }

    #[test]
    fn serve_defaults_match_the_documentation() {
        let cli = Cli::try_parse_from(["absync", "serve"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve expected")
        };
        assert_eq!(args.grpc_addr.to_string(), "127.0.0.1:50051");
        assert_eq!(args.delivery_timeout, Duration::from_secs(10));
        assert_eq!(args.retry_schedule.len(), 4);
    }
}
