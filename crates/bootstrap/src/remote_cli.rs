//! The operator CLI over gRPC: commands that call a running service's `Deliveries` API
//! (`deliveries list|show|resync|mark-processed`, `pending-tasks`) and its `Subscriptions` API
//! (`subscriptions list|show|pause|resume`), and print tables or JSON. The commands that work on the
//! database directly are in [`crate::database_admin`].

use crate::config::{DeliveriesCommand, OutputFormat, RemoteArgs, SubscriptionsCommand};
use absync_adapter_grpc::proto::deliveries_client::DeliveriesClient;
use absync_adapter_grpc::proto::subscriptions_client::SubscriptionsClient;
use absync_adapter_grpc::proto::{self, DeliveryStatus};
use absync_application::ports::DeliveryStatus as Status;
use anyhow::{Context, anyhow};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tonic::Code;
use tonic::transport::Channel;

async fn connect(remote: &RemoteArgs) -> anyhow::Result<Channel> {
    Channel::from_shared(remote.server.clone())
        .with_context(|| format!("--server {:?} is not a URL", remote.server))?
        .connect()
        .await
        .with_context(|| format!("cannot reach absync at {} (ABSYNC_SERVER)", remote.server))
}

/// The scopes the `deliveries` and `pending-tasks` commands need, for the missing-token message.
const DELIVERY_SCOPES: &str = "scope deliveries:read, deliveries:write to act";
/// The scopes the `subscriptions` commands need.
const SUBSCRIPTION_SCOPES: &str = "scope webhooks:read, webhooks:write to pause or resume";

fn request<T>(remote: &RemoteArgs, scopes: &str, message: T) -> anyhow::Result<tonic::Request<T>> {
    let mut request = tonic::Request::new(message);
    let token = remote
        .token
        .as_ref()
        .with_context(|| format!("a token is needed: --token or ABSYNC_TOKEN ({scopes})"))?;
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
    let mut client = DeliveriesClient::new(connect(remote).await?);
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
                .list_deliveries(request(remote, DELIVERY_SCOPES, message)?)
                .await?
                .into_inner();
            print_deliveries(remote.output, &listed.deliveries);
        }
        DeliveriesCommand::Show { id } => {
            let detail = client
                .get_delivery(request(
                    remote,
                    DELIVERY_SCOPES,
                    proto::GetDeliveryRequest { id },
                )?)
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
                .resync_delivery(request(
                    remote,
                    DELIVERY_SCOPES,
                    proto::ResyncDeliveryRequest { id, force },
                )?)
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
                .mark_processed(request(remote, DELIVERY_SCOPES, message)?)
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
    let mut client = DeliveriesClient::new(connect(remote).await?);
    let tasks = client
        .get_pending_tasks(request(
            remote,
            DELIVERY_SCOPES,
            proto::GetPendingTasksRequest {},
        )?)
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

/// What the service said when it refused a call about the subscription `id`, in an operator's words.
fn refused(status: &tonic::Status, id: &str) -> anyhow::Error {
    match status.code() {
        Code::NotFound => anyhow!(
            "subscription {id} not found: no subscription of the token's tenant has this id \
             (or it was deleted)"
        ),
        // The message names the field: `id: must be a subscription id (a UUID)`.
        Code::InvalidArgument => anyhow!("subscription id {id:?} refused: {}", status.message()),
        _ => call_failed(status),
    }
}

fn call_failed(status: &tonic::Status) -> anyhow::Error {
    anyhow!("absync answered {:?}: {}", status.code(), status.message())
}

/// A subscription's status as the CLI spells it: `enabled`, `paused` or `disabled`.
fn subscription_status(s: &proto::Subscription) -> &'static str {
    match s.status() {
        proto::SubscriptionStatus::Enabled => "enabled",
        proto::SubscriptionStatus::Paused => "paused",
        proto::SubscriptionStatus::Disabled => "disabled",
        proto::SubscriptionStatus::Unspecified => "unknown",
    }
}

/// Its format, as the APIs' collections are named: `leaves` or `absences`.
fn collection(s: &proto::Subscription) -> &'static str {
    match s.collection() {
        proto::Collection::Leaves => "leaves",
        proto::Collection::Absences => "absences",
        proto::Collection::Unspecified => "unknown",
    }
}

/// Its event filter: `all` or `validated_only`.
fn event_filter(s: &proto::Subscription) -> &'static str {
    match s.event_filter() {
        proto::EventFilter::All => "all",
        proto::EventFilter::ValidatedOnly => "validated_only",
        proto::EventFilter::Unspecified => "unknown",
    }
}

/// An empty wire text (no date) as JSON `null`.
fn text_or_null(text: &str) -> Value {
    if text.is_empty() {
        Value::Null
    } else {
        Value::from(text)
    }
}

fn subscription_json(s: &proto::Subscription) -> Value {
    json!({
        "id": s.id, "status": subscription_status(s), "paused_since": text_or_null(&s.paused_since),
        "collection": collection(s), "destination_url": s.destination_url,
        "authorization": text_or_null(&s.authorization), "event_filter": event_filter(s),
        "max_per_second": s.max_per_second, "valid_until": text_or_null(&s.valid_until),
        "created_at": s.created_at,
    })
}

fn rate(s: &proto::Subscription) -> String {
    s.max_per_second
        .map_or_else(|| "-".to_owned(), |n| n.to_string())
}

fn print_subscriptions(output: OutputFormat, subscriptions: &[proto::Subscription]) {
    match output {
        OutputFormat::Json => {
            let all = subscriptions.iter().map(subscription_json).collect();
            println!("{}", Value::Array(all));
        }
        OutputFormat::Table => {
            println!(
                "{:<36}  {:<8}  {:<8}  {:<14}  {:>5}  destination",
                "id", "status", "format", "events", "max/s"
            );
            for s in subscriptions {
                println!(
                    "{:<36}  {:<8}  {:<8}  {:<14}  {:>5}  {}",
                    s.id,
                    subscription_status(s),
                    collection(s),
                    event_filter(s),
                    rate(s),
                    s.destination_url
                );
            }
        }
    }
}

fn print_subscription(output: OutputFormat, s: &proto::Subscription) {
    match output {
        OutputFormat::Json => println!("{}", subscription_json(s)),
        OutputFormat::Table => {
            let or = |text: &str, none: &str| {
                if text.is_empty() {
                    none.to_owned()
                } else {
                    text.to_owned()
                }
            };
            let status = if s.paused_since.is_empty() {
                subscription_status(s).to_owned()
            } else {
                format!("{} since {}", subscription_status(s), s.paused_since)
            };
            let max = s
                .max_per_second
                .map_or_else(|| "unlimited".to_owned(), |n| n.to_string());
            for (name, value) in [
                ("id", s.id.clone()),
                ("status", status),
                ("format", collection(s).to_owned()),
                ("events", event_filter(s).to_owned()),
                ("max per second", max),
                ("destination", s.destination_url.clone()),
                ("authorization", or(&s.authorization, "none")),
                ("valid until", or(&s.valid_until, "never")),
                ("created", s.created_at.clone()),
            ] {
                println!("{name:<15} {value}");
            }
        }
    }
}

/// `absync subscriptions …`.
///
/// # Errors
/// When the service cannot be reached or refuses the call: an unknown id is named, a malformed one
/// with the field the service names.
pub async fn subscriptions(
    remote: &RemoteArgs,
    command: SubscriptionsCommand,
) -> anyhow::Result<()> {
    let mut client = SubscriptionsClient::new(connect(remote).await?);
    match command {
        SubscriptionsCommand::List { page_size } => {
            let mut all = Vec::new();
            let mut page_token = String::new();
            loop {
                let message = proto::ListSubscriptionsRequest {
                    page_size,
                    page_token,
                };
                let page = client
                    .list_subscriptions(request(remote, SUBSCRIPTION_SCOPES, message)?)
                    .await
                    .map_err(|status| call_failed(&status))?
                    .into_inner();
                all.extend(page.subscriptions);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            print_subscriptions(remote.output, &all);
        }
        SubscriptionsCommand::Show { id } => {
            let message = proto::GetSubscriptionRequest { id: id.clone() };
            let found = client
                .get_subscription(request(remote, SUBSCRIPTION_SCOPES, message)?)
                .await
                .map_err(|status| refused(&status, &id))?
                .into_inner();
            print_subscription(remote.output, &found);
        }
        SubscriptionsCommand::Pause { id } => {
            let message = proto::PauseSubscriptionRequest { id: id.clone() };
            let paused = client
                .pause_subscription(request(remote, SUBSCRIPTION_SCOPES, message)?)
                .await
                .map_err(|status| refused(&status, &id))?
                .into_inner();
            print_subscription(remote.output, &paused);
        }
        SubscriptionsCommand::Resume { id } => {
            let message = proto::ResumeSubscriptionRequest { id: id.clone() };
            let resumed = client
                .resume_subscription(request(remote, SUBSCRIPTION_SCOPES, message)?)
                .await
                .map_err(|status| refused(&status, &id))?
                .into_inner();
            print_subscription(remote.output, &resumed);
        }
    }
    Ok(())
}
