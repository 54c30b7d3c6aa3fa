//! A subscription's rate limit holds summed over every instance: two `absync` processes on one
//! PostgreSQL database send 200 deliveries at `max_per_second = 20` in no less than 9 seconds, never
//! more than 120 in 5 seconds (five seconds of budget and one of burst), while a subscription without
//! a limit, served beside it, is not slowed.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

mod common;

use absync_adapter_grpc::proto::{self, AbsenceStatus, HalfDay};
use absync_e2e::client::Clients;
use absync_e2e::database::{StoreKind, TestDatabase};
use absync_e2e::fixtures::half_days;
use absync_e2e::process::AbsyncProcess;
use absync_e2e::receiver::{Received, Receiver};
use common::token;
use std::collections::HashSet;
use std::time::{Duration, Instant};

const ABSYNC: &str = env!("CARGO_BIN_EXE_absync");
const LIMIT: u32 = 20;
/// Deliveries each subscription gets: 20 new approved one-week absences, one delivery for each of
/// their 10 leaves.
const DELIVERIES: usize = 200;

async fn subscribe(
    clients: &Clients,
    receiver: &Receiver,
    path: &str,
    limit: Option<u32>,
) -> String {
    let created = clients
        .create_subscription(proto::CreateSubscriptionRequest {
            destination_url: receiver.url(path),
            collection: proto::Collection::Leaves.into(),
            event_filter: proto::EventFilter::All.into(),
            max_per_second: limit,
            ..Default::default()
        })
        .await
        .unwrap();
    created.subscription.unwrap().id
}

async fn pause(clients: &mut Clients, id: &str) {
    let request = clients.request(proto::PauseSubscriptionRequest { id: id.to_owned() });
    clients
        .subscriptions
        .pause_subscription(request)
        .await
        .unwrap();
}

async fn resume(clients: &mut Clients, id: &str) {
    let request = clients.request(proto::ResumeSubscriptionRequest { id: id.to_owned() });
    clients
        .subscriptions
        .resume_subscription(request)
        .await
        .unwrap();
}

/// The arrival times of the distinct deliveries to `path`, in order.
fn arrivals(received: &[Received], path: &str) -> Vec<Instant> {
    let mut seen = HashSet::new();
    received
        .iter()
        .filter(|r| r.uri == path && r.status == 200)
        .filter(|r| seen.insert(r.header("webhook-id").unwrap().to_owned()))
        .map(|r| r.at)
        .collect()
}

/// The most arrivals within any `window`.
fn busiest(times: &[Instant], window: Duration) -> usize {
    times
        .iter()
        .map(|start| {
            times
                .iter()
                .filter(|t| **t >= *start && **t < *start + window)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn two_instances_keep_a_subscription_within_its_rate_together() {
    let database = TestDatabase::create_on(StoreKind::Postgres).await;
    let url = database.url();
    let first = AbsyncProcess::start(ABSYNC, url, &[]);
    let second = AbsyncProcess::start(ABSYNC, url, &[]);
    let receiver = Receiver::start().await;
    let token = token(url).await;
    let mut a = Clients::connect(first.grpc_addr, Some(token.clone())).await;
    let mut b = Clients::connect(second.grpc_addr, Some(token)).await;
    let limited = subscribe(&a, &receiver, "/limited", Some(LIMIT)).await;
    let open = subscribe(&a, &receiver, "/open", None).await;
    // Both paused while the work queues up, so that all of it is due at once.
    pause(&mut a, &limited).await;
    pause(&mut b, &open).await;
    let absences: Vec<proto::Absence> = (0..DELIVERIES / 10)
        .map(|n| {
            half_days(
                &format!("hr-{n}"),
                1,
                AbsenceStatus::Approved,
                ("2024-03-04", HalfDay::Am),
                ("2024-03-08", HalfDay::Pm),
            )
        })
        .collect();
    let request = a.request(proto::PutAbsencesRequest { absences });
    a.ingest.put_absences(request).await.unwrap();
    receiver
        .assert_stays_at(0, Duration::from_millis(300))
        .await;

    let due = Instant::now();
    resume(&mut a, &limited).await;
    resume(&mut b, &open).await;
    receiver
        .wait_for(2 * DELIVERIES, Duration::from_secs(60))
        .await;
    let received = receiver.received();
    let (limited_at, open_at) = (
        arrivals(&received, "/limited"),
        arrivals(&received, "/open"),
    );
    assert_eq!((limited_at.len(), open_at.len()), (DELIVERIES, DELIVERIES));

    let took = *limited_at.last().unwrap() - due;
    assert!(
        took >= Duration::from_secs(9),
        "200 deliveries at 20/s after a second's burst take 9 s at least, not {took:?}"
    );
    let most = busiest(&limited_at, Duration::from_secs(5));
    assert!(most <= 120, "{most} deliveries arrived within 5 s");
    let open_took = *open_at.last().unwrap() - due;
    assert!(
        open_took < Duration::from_secs(4),
        "the unlimited subscription took {open_took:?} beside the limited one"
    );
    eprintln!(
        "limited: {DELIVERIES} in {took:?}, at most {most} in 5 s; unlimited: {DELIVERIES} in {open_took:?}"
    );
    drop((first, second));
}
