//! Isolation between subscribers: a receiver that accepts connections and never answers costs each of
//! its deliveries the delivery timeout, and only its own. Deliveries to a healthy receiver of the same
//! tenant arrive about as soon as they do alone (within half a delivery timeout; the promise is one
//! timeout), while the stuck receiver's
//! deliveries are recorded as failed attempts of kind `timeout`. The stuck receiver has more
//! deliveries due than there are send slots: it may hold only its own share of them
//! (`--dispatch-per-subscription`).

use crate::app::{TestApp, spawn_app_with};
use absync_adapter_grpc::proto::{self, AbsenceStatus, DeliveryStatus, EventFilter, HalfDay};
use absync_e2e::fixtures::half_days;
use absync_e2e::wait::{eventually, ready_when};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// The delivery timeout under test.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(2);
/// Absences put in each phase; each is one half-day, so one delivery per subscription. More than the
/// send slots, so a dispatcher that let the stuck receiver take every slot would hold healthy
/// deliveries back for two timeouts or more.
const ABSENCES: usize = 20;
/// What a loaded machine may add to a healthy delivery's lag beyond its lag alone. The promise is
/// "no more than one delivery timeout"; the dispatcher does better (it never waits on a stuck send for
/// another subscription's deliveries), and half a timeout tells the two apart while leaving a loaded
/// machine room.
const SLACK: Duration = Duration::from_millis(1000);
/// Upper bound for any wait-for-condition below.
const WAIT: Duration = Duration::from_secs(60);

/// A receiver that accepts every connection, reads the request and never answers, holding the socket
/// until the sender hangs up. Records how long each request was held.
struct StuckReceiver {
    addr: SocketAddr,
    held: Arc<Mutex<Vec<Duration>>>,
    acceptor: tokio::task::JoinHandle<()>,
}

impl StuckReceiver {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let held = Arc::new(Mutex::new(Vec::new()));
        let record = held.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let record = record.clone();
                tokio::spawn(async move {
                    let mut buffer = [0_u8; 4096];
                    let mut got_request = false;
                    let mut since = Instant::now();
                    while stream.readable().await.is_ok() {
                        match stream.try_read(&mut buffer) {
                            Ok(0) => break,
                            Ok(_) if !got_request => {
                                got_request = true;
                                since = Instant::now();
                            }
                            Ok(_) => {}
                            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
                            Err(_) => break,
                        }
                    }
                    if got_request {
                        record.lock().unwrap().push(since.elapsed());
                    }
                });
            }
        });
        Self {
            addr,
            held,
            acceptor,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// How long each request was held before the sender hung up, once `count` were.
    async fn wait_held(&self, count: usize) -> Vec<Duration> {
        eventually(&format!("{count} requests held"), WAIT, async || {
            let held = self.held.lock().unwrap().clone();
            ready_when(held.len() >= count, held)
        })
        .await
    }
}

impl Drop for StuckReceiver {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

/// Puts `ABSENCES` one-half-day absences named `{prefix}-{n}`; returns when each one's leave was
/// queued (the put answered), by leave id.
async fn put_absences(app: &mut TestApp, prefix: &str) -> HashMap<String, Instant> {
    let mut queued = HashMap::new();
    for n in 0..ABSENCES {
        let answer = app
            .put(half_days(
                &format!("{prefix}-{n}"),
                1,
                AbsenceStatus::Approved,
                ("2024-03-04", HalfDay::Am),
                ("2024-03-04", HalfDay::Am),
            ))
            .await
            .unwrap();
        let at = Instant::now();
        for event in answer.events {
            queued.insert(event.leave_id, at);
        }
    }
    assert_eq!(queued.len(), ABSENCES);
    queued
}

/// Waits for the healthy receiver to have `total` requests; returns the longest lag between a leave
/// of `queued` being queued and its arrival.
async fn longest_lag(app: &TestApp, queued: &HashMap<String, Instant>, total: usize) -> Duration {
    let received = app.receiver.wait_for(total, WAIT).await;
    let lags: Vec<Duration> = received
        .iter()
        .filter_map(|request| {
            let leave = request.json()["id"].as_str().unwrap().to_owned();
            queued
                .get(&leave)
                .map(|at| request.at.saturating_duration_since(*at))
        })
        .collect();
    assert_eq!(lags.len(), queued.len(), "every leave arrives once");
    lags.into_iter().max().unwrap()
}

/// Waits until every delivery of `subscription_id` is failed; returns them.
async fn wait_all_failed(app: &TestApp, subscription_id: &str) -> Vec<proto::Delivery> {
    let mut tracking = app.deliveries().await;
    eventually(
        "every delivery to the stuck receiver failed",
        WAIT,
        async || {
            let request = app.clients.request(proto::ListDeliveriesRequest {
                subscription_id: subscription_id.to_owned(),
                page_size: 1000,
                ..Default::default()
            });
            let listed = tracking
                .list_deliveries(request)
                .await
                .unwrap()
                .into_inner()
                .deliveries;
            let failed = listed.len() == ABSENCES
                && listed.iter().all(|d| d.status() == DeliveryStatus::Failed);
            ready_when(failed, listed)
        },
    )
    .await
}

#[tokio::test]
async fn a_receiver_that_never_answers_does_not_hold_back_a_healthy_one() {
    let stuck = StuckReceiver::start().await;
    let timeout = format!("{}ms", DELIVERY_TIMEOUT.as_millis());
    // One retry, soon: the stuck receiver's retries come back while healthy deliveries are due.
    let mut app = spawn_app_with(&[
        "--allow-destinations",
        "127.0.0.0/8",
        "--delivery-timeout",
        &timeout,
        "--retry-schedule",
        "500ms",
        "--dispatch-concurrency",
        "16",
        "--dispatch-per-subscription",
        "8",
    ])
    .await;

    // Alone: how late deliveries to the healthy receiver arrive on this machine, now.
    app.subscribe(EventFilter::All).await;
    let queued = put_absences(&mut app, "alone").await;
    let alone = longest_lag(&app, &queued, ABSENCES).await;

    // Beside a receiver that never answers.
    let request = app.clients.request(proto::CreateSubscriptionRequest {
        destination_url: stuck.url(),
        collection: proto::Collection::Leaves.into(),
        authorization: None,
        event_filter: EventFilter::All.into(),
        valid_until: String::new(),
        max_per_second: None,
    });
    let stuck_subscription = app
        .clients
        .subscriptions
        .create_subscription(request)
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap();
    let queued = put_absences(&mut app, "beside").await;
    let beside = longest_lag(&app, &queued, 2 * ABSENCES).await;

    // The stuck receiver's deliveries: each attempt (two per delivery) waited out the timeout and was
    // recorded as such.
    let failed = wait_all_failed(&app, &stuck_subscription.id).await;
    assert!(
        failed
            .iter()
            .all(|d| d.attempts == 2 && d.last_error == "timeout" && d.last_http_status == 0),
        "{failed:?}"
    );
    let held = stuck.wait_held(2 * ABSENCES).await;
    let shortest_hold = held.iter().min().copied().unwrap();
    assert!(
        shortest_hold >= DELIVERY_TIMEOUT / 2,
        "the stuck receiver held each request until the sender gave up: {shortest_hold:?}"
    );

    println!(
        "isolation: longest lag of a healthy delivery alone {alone:?}, beside a stuck receiver \
         {beside:?} (delivery timeout {DELIVERY_TIMEOUT:?}, {} requests held, shortest {shortest_hold:?})",
        held.len()
    );
    assert!(
        beside < alone + SLACK,
        "a stuck receiver held back healthy deliveries: {beside:?} beside it, {alone:?} alone"
    );
}
