//! The operator CLI over gRPC: commands that call a running service's `Deliveries` API
//! (`deliveries list|show|resync|mark-processed`, `pending-tasks`) and print tables or JSON. The
//! commands that work on the database directly are in [`crate::database_admin`].

use crate::config::{DeliveriesCommand, OutputFormat, RemoteArgs};
use absync_adapter_grpc::proto::deliveries_client::DeliveriesClient;
use absync_adapter_grpc::proto::{self, DeliveryStatus};
use absync_application::ports::DeliveryStatus as Status;
use anyhow::Context;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tonic::transport::Channel;

async fn connect(remote: &RemoteArgs) -> anyhow::Result<DeliveriesClient<Channel>> {
    let channel = Channel::from_shared(remote.server.clone())
        .with_context(|| format!("--server {:?} is not a URL", remote.server))?
        .connect()
        .await
        .with_context(|| format!("cannot reach absync at {} (ABSYNC_SERVER)", remote.server))?;
    Ok(DeliveriesClient::new(channel))
}

fn request<T>(remote: &RemoteArgs, message: T) -> anyhow::Result<tonic::Request<T>> {
    let mut request = tonic::Request::new(message);
    let token = remote
        .token
        .as_ref()
        .context("a token is needed: --token or ABSYNC_TOKEN (scope deliveries:read, deliveries:write to act)")?;
    let value = format!("Bearer {}", token.expose_secret())
        .parse()
        .context("the token is not valid header text")?;
    request.metadata_mut().insert("authorization", value);
    Ok(request)
}

/// The name of a wire status, as the store and the console spell it.
fn status_name(status: i32) -> &'static str {
    DeliveryStatus::try_from(status)
        .ok()
        .and_then(|status| Status::try_from(status).ok())
        .map_or("unknown", Status::as_str)
}

fn parse_status(text: &str) -> anyhow::Result<DeliveryStatus> {
    Status::parse(text)
        .map(DeliveryStatus::from)
        .with_context(|| {
            let names: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
            format!("--status {text:?}: use one of {}", names.join(", "))
        })
}

fn delivery_json(d: &proto::Delivery) -> Value {
    json!({
        "id": d.id, "subscription_id": d.subscription_id, "leave_id": d.leave_id, "event": d.event,
        "change_version": d.change_version, "status": status_name(d.status), "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at, "last_http_status": d.last_http_status,
        "last_error": d.last_error, "created_at": d.created_at, "updated_at": d.updated_at,
        "processed_note": d.processed_note, "cancel_reason": d.cancel_reason,
    })
}

fn print_deliveries(output: OutputFormat, deliveries: &[proto::Delivery]) {
    match output {
        OutputFormat::Json => {
            println!(
                "{}",
                Value::Array(deliveries.iter().map(delivery_json).collect())
            );
        }
        OutputFormat::Table => {
            println!(
                "{:>10}  {:<10}  {:<24}  {:<9}  {:>8}  {:<6}  subscription",
                "id", "status", "leave", "event", "attempts", "last"
            );
            for d in deliveries {
                let last = if d.last_http_status > 0 {
                    d.last_http_status.to_string()
                } else {
                    d.last_error.clone()
                };
                println!(
                    "{:>10}  {:<10}  {:<24}  {:<9}  {:>8}  {:<6}  {}",
                    d.id,
                    status_name(d.status),
                    d.leave_id,
                    d.event,
                    d.attempts,
                    last,
                    d.subscription_id
                );
            }
        }
    }
}

/// `absync deliveries …`.
///
/// # Errors
/// When the service cannot be reached or refuses the call (its message is shown).
pub async fn deliveries(remote: &RemoteArgs, command: DeliveriesCommand) -> anyhow::Result<()> {
    let mut client = connect(remote).await?;
    match command {
        DeliveriesCommand::List {
            status,
            subscription,
            leave,
            limit,
        } => {
            let message = proto::ListDeliveriesRequest {
                subscription_id: subscription.unwrap_or_default(),
                status: status
                    .as_deref()
                    .map(parse_status)
                    .transpose()?
                    .map_or(0, Into::into),
                leave_id: leave.unwrap_or_default(),
                page_size: limit,
                ..Default::default()
            };
            let listed = client
                .list_deliveries(request(remote, message)?)
                .await?
                .into_inner();
            print_deliveries(remote.output, &listed.deliveries);
        }
        DeliveriesCommand::Show { id } => {
            let detail = client
                .get_delivery(request(remote, proto::GetDeliveryRequest { id })?)
                .await?
                .into_inner();
            let delivery = detail.delivery.unwrap_or_default();
            match remote.output {
                OutputFormat::Json => {
                    let value = json!({
                        "delivery": delivery_json(&delivery),
                        "destination_url": detail.destination_url,
                        "headers": detail.headers.iter().map(|h| json!({"name": h.name, "value": h.value})).collect::<Vec<_>>(),
                        "body": detail.body,
                        "attempts": detail.attempts.iter().map(|a| json!({
                            "started_at": a.started_at, "duration_ms": a.duration_ms, "http_status": a.http_status,
                            "error_kind": a.error_kind, "error_detail": a.error_detail,
                            "response_excerpt": String::from_utf8_lossy(&a.response_excerpt),
                        })).collect::<Vec<_>>(),
                    });
                    println!("{value}");
                }
                OutputFormat::Table => {
                    print_deliveries(OutputFormat::Table, std::slice::from_ref(&delivery));
                    println!("\nPOST {}", detail.destination_url);
                    for h in &detail.headers {
                        println!("{}: {}", h.name, h.value);
                    }
                    let pretty = serde_json::from_str::<Value>(&detail.body)
                        .and_then(|v| serde_json::to_string_pretty(&v))
                        .unwrap_or(detail.body);
                    println!("\n{pretty}\n\nattempts:");
                    for a in &detail.attempts {
                        let outcome = if a.http_status > 0 {
                            a.http_status.to_string()
                        } else {
                            a.error_kind.clone()
                        };
                        println!(
                            "  {}  {:>5} ms  {}  {}",
                            a.started_at,
                            a.duration_ms,
                            outcome,
                            String::from_utf8_lossy(&a.response_excerpt)
                        );
                    }
                }
            }
        }
        DeliveriesCommand::Resync { id, force } => {
            let done = client
                .resync_delivery(request(remote, proto::ResyncDeliveryRequest { id, force })?)
                .await?
                .into_inner();
            print_deliveries(remote.output, &[done]);
        }
        DeliveriesCommand::MarkProcessed { id, note } => {
            let message = proto::MarkProcessedRequest {
                id,
                note: note.unwrap_or_default(),
            };
            let done = client
                .mark_processed(request(remote, message)?)
                .await?
                .into_inner();
            print_deliveries(remote.output, &[done]);
        }
    }
    Ok(())
}

/// `absync pending-tasks`.
///
/// # Errors
/// When the service cannot be reached or refuses the call.
pub async fn pending_tasks(remote: &RemoteArgs) -> anyhow::Result<()> {
    let mut client = connect(remote).await?;
    let tasks = client
        .get_pending_tasks(request(remote, proto::GetPendingTasksRequest {})?)
        .await?
        .into_inner()
        .tasks;
    match remote.output {
        OutputFormat::Json => {
            let value: Vec<Value> = tasks
                .iter()
                .map(|t| json!({"subscription_id": t.subscription_id, "destination_url": t.destination_url,
                               "failed": t.failed, "oldest": t.oldest, "latest_error": t.latest_error}))
                .collect();
            println!("{}", Value::Array(value));
        }
        OutputFormat::Table => {
            println!(
                "{:<36}  {:>6}  {:<25}  {:<6}  destination",
                "subscription", "failed", "oldest", "latest"
            );
            for t in &tasks {
                println!(
                    "{:<36}  {:>6}  {:<25}  {:<6}  {}",
                    t.subscription_id, t.failed, t.oldest, t.latest_error, t.destination_url
                );
            }
        }
    }
    Ok(())
}
