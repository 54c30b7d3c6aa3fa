//! The bad-input table: every field of every request of the gRPC services (AbsenceIngest,
//! Subscriptions, Deliveries) and of the Protime REST API (webhooks, absences), spoiled in every
//! way that matters (empty, too long, out of range, unknown enum value, impossible date, not an id,
//! oversized message), gets the right code naming the field as the server names it: gRPC
//! `INVALID_ARGUMENT` with a `google.rpc.BadRequest` field violation for exactly that field, HTTP
//! 400 with an `application/problem+json` body whose `errors` name exactly that field. An oversized
//! message gets `RESOURCE_EXHAUSTED` (gRPC) or 413 (HTTP). Nothing is written: on top of seeded
//! data (a subscription, an absence, its delivered deliveries) the row count of every table is the
//! same after each row as before it. Each test runs its whole table, then lists every row answered
//! wrongly; it ends by showing that the valid requests the rows spoil are accepted, so each row
//! fails for its own field. `GetPendingTasks` has no fields and is not in the table.

use crate::app::{TestApp, spawn_app};
use absync_adapter_grpc::proto::{self, AbsenceStatus, EventFilter, HalfDay};
use absync_e2e::fixtures::monday_to_tuesday;
use absync_e2e::rows;
use absync_e2e::table::{
    Http, Row, assert_no_failures, batch_answer, counts, each, grpc, lift, row, run, send,
};
use absync_e2e::wait::{eventually, ready_when};
use prost_types::FieldMask;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tonic::Code;

const WEBHOOKS: &str = "/connector/protimeapi/api/v1/webhooks";
const ABSENCES: &str = "/connector/protimeapi/api/v1/absences";
const WAIT: Duration = Duration::from_secs(15);
/// Above the gRPC server's 4 MiB message limit.
const OVER_GRPC_LIMIT: usize = 5 * 1024 * 1024;
/// Above the HTTP body limit of 64 KiB.
const OVER_HTTP_LIMIT: usize = 70 * 1024;
/// A well-formed subscription id that no subscription has.
const UNKNOWN_UUID: &str = "00000000-0000-4000-8000-000000000000";

// -------------------------------------------------------------------------------------------------
// The bad values, shared by the fields that take them.

/// Dates a `YYYY-MM-DD` field refuses.
const BAD_DATES: [(&str, &str); 10] = [
    ("empty", ""),
    ("2024-02-30", "2024-02-30"),
    ("2024-13-01", "2024-13-01"),
    ("2024-03-00", "2024-03-00"),
    ("not zero-padded", "2024-3-4"),
    ("day first", "04-03-2024"),
    ("with a time", "2024-03-04T00:00:00"),
    ("before 1970", "1969-12-31"),
    ("after 2149", "2150-01-01"),
    ("a word", "monday"),
];

/// Local date-times (`2018-04-01T09:00:00.000`) refused.
const BAD_LOCAL_TIMES: [(&str, &str); 9] = [
    ("2024-02-30", "2024-02-30T09:00:00"),
    ("2024-13-01", "2024-13-01T09:00:00"),
    ("hour 24", "2024-03-04T24:00:00"),
    ("minute 60", "2024-03-04T09:60:00"),
    ("not zero-padded", "2024-3-4T9:00:00"),
    ("with an offset", "2024-03-04T09:00:00+01:00"),
    ("in UTC (Z)", "2024-03-04T09:00:00Z"),
    ("a date only", "2024-03-04"),
    ("a word", "yesterday"),
];

/// Values of a required enum refused (proto3 enums are open: any i32 arrives).
const BAD_ENUMS: [(&str, i32); 3] = [("unspecified", 0), ("99 (unknown)", 99), ("-1", -1)];

/// Values of an enum whose UNSPECIFIED means a default.
const UNKNOWN_ENUMS: [(&str, i32); 2] = [("99 (unknown)", 99), ("-1", -1)];

/// Ids that are not a subscription's.
const NOT_IDS: [(&str, &str); 4] = [
    ("empty", ""),
    ("not a UUID", "not-a-uuid"),
    (
        "a UUID and a digit",
        "00000000-0000-4000-8000-0000000000000",
    ),
    ("a UUID without dashes", "00000000000040008000000000000000"),
];

/// Rates (`max_per_second`) refused: a set limit is 1–10000 (unset is unlimited).
const BAD_RATES: [(&str, u32); 3] = [("0", 0), ("10001", 10_001), ("u32::MAX", u32::MAX)];

/// Destinations refused whatever the operator allows (the tests allow 127.0.0.0/8 and http).
const BAD_DESTINATIONS: [(&str, &str); 6] = [
    ("empty", ""),
    ("ftp", "ftp://example.com/hook"),
    ("relative", "/relative/hook"),
    (
        "with user and password",
        "https://user:secret@example.com/hook",
    ),
    ("a private address (SSRF guard)", "http://10.0.0.1/hook"),
    ("not a URL", "http://[::1/hook"),
];

/// Authorization values refused.
fn bad_authorizations() -> [(&'static str, String); 4] {
    [
        ("blank", "   ".into()),
        ("of 4097 characters", format!("Basic {}", "x".repeat(4091))),
        ("not ASCII", "Basic é".into()),
        ("with a newline", "Basic a\nb".into()),
    ]
}

/// `valid_until` values refused (RFC 3339, in the future).
const BAD_VALID_UNTIL: [(&str, &str); 7] = [
    ("a word", "tomorrow"),
    ("2030-02-30", "2030-02-30T00:00:00Z"),
    ("2030-13-01", "2030-13-01T00:00:00Z"),
    ("hour 25", "2030-01-01T25:00:00Z"),
    ("without an offset", "2030-01-01T00:00:00"),
    ("a date only", "2030-01-01"),
    ("in the past", "2020-01-01T00:00:00Z"),
];

/// Leave ids (`{number}-{YYYYMMDD}-{AM|PM}`) refused.
const BAD_LEAVE_IDS: [(&str, &str); 6] = [
    ("empty", ""),
    ("a word", "garbage"),
    ("with 2024-02-30", "1-20240230-AM"),
    ("with a bad half", "1-20240304-XM"),
    ("with absence number 0", "0-20240304-AM"),
    ("with a dashed date", "1-2024-03-04-AM"),
];

/// A subscription of the receiver and an approved two-day absence, delivered: a row in every table.
struct Seed {
    /// The absence, as it was put.
    absence: proto::Absence,
    subscription_id: String,
    delivery_id: i64,
}

async fn seed(app: &mut TestApp) -> Seed {
    let subscription = app.subscribe(EventFilter::All).await;
    let absence = monday_to_tuesday("hr-seed", 1, AbsenceStatus::Approved);
    app.put(absence.clone()).await.unwrap();
    app.receiver.wait_for(4, WAIT).await;
    // Attempts are recorded after the answers: wait until all four are, and the queue is quiet.
    eventually("four attempts recorded", WAIT, async || {
        let recorded = app.count("delivery_attempts").await;
        ready_when(recorded >= 4, recorded)
    })
    .await;
    let request = app.clients.request(proto::ListDeliveriesRequest::default());
    let listed = app
        .deliveries()
        .await
        .list_deliveries(request)
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert_eq!(listed.len(), 4, "{listed:?}");
    let counts = counts(&app.pool).await;
    assert!(
        counts.iter().all(|(_, n)| *n > 0),
        "a row in every table: {counts:?}"
    );
    Seed {
        absence,
        subscription_id: subscription.id,
        delivery_id: listed[0].id,
    }
}

// -------------------------------------------------------------------------------------------------
// AbsenceIngest

fn half_days(absence: &mut proto::Absence) -> &mut proto::HalfDayPeriod {
    match absence.period.as_mut() {
        Some(proto::absence::Period::HalfDays(period)) => period,
        other => panic!("the valid absence has half-days, not {other:?}"),
    }
}

/// Makes the absence an hours absence (09:00–11:00 on Monday 2024-03-04), for the rows to spoil.
fn hours(absence: &mut proto::Absence) -> &mut proto::HourPeriod {
    if !matches!(absence.period, Some(proto::absence::Period::Hours(_))) {
        absence.period = Some(proto::absence::Period::Hours(proto::HourPeriod {
            date: "2024-03-04".into(),
            start_minute: 540,
            duration_minutes: 120,
        }));
    }
    match absence.period.as_mut() {
        Some(proto::absence::Period::Hours(period)) => period,
        _ => unreachable!(),
    }
}

fn owner(absence: &mut proto::Absence) -> &mut proto::Owner {
    absence.owner.as_mut().unwrap()
}

fn account(absence: &mut proto::Absence) -> &mut proto::LeaveAccount {
    absence.leave_account.as_mut().unwrap()
}

/// A definition whose code is one character over the 64 allowed.
fn long_code() -> Option<proto::Definition> {
    Some(proto::Definition {
        id: 11,
        code: Some("c".repeat(65)),
    })
}

/// An otherwise valid destination of `length` characters: the receiver's URL with a query.
fn destination_of(app: &TestApp, length: usize) -> String {
    let base = app.receiver.url("/fresh?pad=");
    format!("{base}{}", "x".repeat(length - base.len()))
}

/// Every way an absence can be bad, with the field the server names.
fn absence_rows() -> Vec<Row<proto::Absence, Code>> {
    const BAD: Code = Code::InvalidArgument;
    let mut rows = rows![proto::Absence, BAD;
        "absence_id empty" => "absence.absence_id", |a| a.absence_id.clear();
        "absence_id of 129 characters" => "absence.absence_id", |a| a.absence_id = "x".repeat(129);
        "absence_id of 129 two-byte characters" => "absence.absence_id",
            |a| a.absence_id = "é".repeat(129);
        "absence_id of 3 MiB" => "absence.absence_id", |a| a.absence_id = "x".repeat(3 << 20);
        "absence_id with a newline" => "absence.absence_id", |a| a.absence_id = "hr\n1".into();
        "absence_id with a NUL" => "absence.absence_id", |a| a.absence_id = "hr\u{0}1".into();
        "revision above i64::MAX" => "absence.revision", |a| a.revision = u64::MAX / 2 + 1;
        "revision u64::MAX" => "absence.revision", |a| a.revision = u64::MAX;
        "owner missing" => "absence.owner", |a| a.owner = None;
        "owner.id 0" => "absence.owner.id", |a| owner(a).id = 0;
        "owner.id negative" => "absence.owner.id", |a| owner(a).id = -134;
        "owner.id i64::MIN" => "absence.owner.id", |a| owner(a).id = i64::MIN;
        "owner.name of 201 characters" => "absence.owner.name", |a| owner(a).name = "x".repeat(201);
        "owner.name of 201 two-byte characters" => "absence.owner.name",
            |a| owner(a).name = "é".repeat(201);
        "owner.email of 255 characters" => "absence.owner.email",
            |a| owner(a).email = format!("{}@example.com", "x".repeat(243));
        "owner.employee_number of 65 characters" => "absence.owner.employee_number",
            |a| owner(a).employee_number = "1".repeat(65);
        "owner.badge_number of 65 characters" => "absence.owner.badge_number",
            |a| owner(a).badge_number = Some("1".repeat(65));
        "leave_account missing" => "absence.leave_account", |a| a.leave_account = None;
        "leave_account.name of 201 characters" => "absence.leave_account.name",
            |a| account(a).name = "x".repeat(201);
        "leave_account.category_name of 201 characters" => "absence.leave_account.category_name",
            |a| account(a).category_name = "x".repeat(201);
        "requested_absence_definition.code of 65 characters" =>
            "absence.requested_absence_definition.code",
            |a| a.requested_absence_definition = long_code();
        "resulting_absence_definition.code of 65 characters" =>
            "absence.resulting_absence_definition.code",
            |a| a.resulting_absence_definition = long_code();
        "shift_definition.code of 65 characters" => "absence.shift_definition.code",
            |a| a.shift_definition = long_code();
        "period missing" => "absence.period", |a| a.period = None;
        "half_days end date before the start date" => "absence.half_days.end_date",
            |a| half_days(a).end_date = "2024-03-01".into();
        "half_days spanning 367 days" => "absence.half_days.end_date", |a| {
            half_days(a).start_date = "2024-01-01".into();
            half_days(a).end_date = "2025-01-02".into();
        };
        "half_days afternoon to morning of one date" => "absence.half_days.end_half", |a| {
            half_days(a).end_date = "2024-03-04".into();
            half_days(a).start_half = HalfDay::Pm.into();
            half_days(a).end_half = HalfDay::Am.into();
        };
        "hours.start_minute 1440" => "absence.hours.start_minute", |a| hours(a).start_minute = 1440;
        "hours.start_minute u32::MAX" => "absence.hours.start_minute",
            |a| hours(a).start_minute = u32::MAX;
        "hours.duration_minutes 0" => "absence.hours.duration_minutes",
            |a| hours(a).duration_minutes = 0;
        "hours.duration_minutes 1441" => "absence.hours.duration_minutes", |a| {
            hours(a).start_minute = 0;
            hours(a).duration_minutes = 1441;
        };
        "hours running past midnight" => "absence.hours.duration_minutes", |a| {
            hours(a).start_minute = 1380;
            hours(a).duration_minutes = 61;
        };
        "hours.duration_minutes u32::MAX" => "absence.hours.duration_minutes",
            |a| hours(a).duration_minutes = u32::MAX;
        "non_working_dates[1] bad after a good one" => "absence.non_working_dates[1]",
            |a| a.non_working_dates = vec!["2024-03-04".into(), "2024-02-30".into()];
    ];
    type A = proto::Absence;
    rows.extend(each(
        BAD,
        "status",
        "absence.status",
        &BAD_ENUMS,
        |a: &mut A, v| a.status = v,
    ));
    rows.extend(each(
        BAD,
        "half_days.start_date",
        "absence.half_days.start_date",
        &BAD_DATES,
        |a: &mut A, v: &str| half_days(a).start_date = v.into(),
    ));
    rows.extend(each(
        BAD,
        "half_days.end_date",
        "absence.half_days.end_date",
        &BAD_DATES,
        |a: &mut A, v: &str| half_days(a).end_date = v.into(),
    ));
    rows.extend(each(
        BAD,
        "half_days.start_half",
        "absence.half_days.start_half",
        &BAD_ENUMS,
        |a: &mut A, v| half_days(a).start_half = v,
    ));
    rows.extend(each(
        BAD,
        "half_days.end_half",
        "absence.half_days.end_half",
        &BAD_ENUMS,
        |a: &mut A, v| half_days(a).end_half = v,
    ));
    rows.extend(each(
        BAD,
        "hours.date",
        "absence.hours.date",
        &BAD_DATES,
        |a: &mut A, v: &str| hours(a).date = v.into(),
    ));
    rows.extend(each(
        BAD,
        "created_at",
        "absence.created_at",
        &BAD_LOCAL_TIMES,
        |a: &mut A, v: &str| a.created_at = v.into(),
    ));
    rows.extend(each(
        BAD,
        "approved_at",
        "absence.approved_at",
        &BAD_LOCAL_TIMES,
        |a: &mut A, v: &str| a.approved_at = v.into(),
    ));
    rows.extend(each(
        BAD,
        "cancelled_at",
        "absence.cancelled_at",
        &BAD_LOCAL_TIMES,
        |a: &mut A, v: &str| a.cancelled_at = v.into(),
    ));
    rows.extend(each(
        BAD,
        "working_weekdays[1]",
        "absence.working_weekdays[1]",
        &BAD_ENUMS,
        |a: &mut A, v| a.working_weekdays = vec![proto::Weekday::Monday.into(), v],
    ));
    rows.extend(each(
        BAD,
        "non_working_dates[0]",
        "absence.non_working_dates[0]",
        &BAD_DATES,
        |a: &mut A, v: &str| a.non_working_dates = vec![v.into()],
    ));
    rows.push(row(
        "a message over the 4 MiB limit",
        Code::ResourceExhausted,
        None,
        |a: &mut A| owner(a).name = "x".repeat(OVER_GRPC_LIMIT),
    ));
    rows
}

/// A new absence whose every limited text is at its limit, in two-byte characters where they are
/// free text: accepted, as limits count characters.
fn at_every_limit() -> proto::Absence {
    let mut a = monday_to_tuesday("é".repeat(128).as_str(), 1, AbsenceStatus::Approved);
    let code = Some(proto::Definition {
        id: 11,
        code: Some("é".repeat(64)),
    });
    *owner(&mut a) = proto::Owner {
        id: 135,
        name: "é".repeat(200),
        email: format!("{}@example.com", "x".repeat(242)),
        employee_number: "é".repeat(64),
        badge_number: Some("é".repeat(64)),
    };
    account(&mut a).name = "é".repeat(200);
    account(&mut a).category_name = "é".repeat(200);
    a.requested_absence_definition.clone_from(&code);
    a.resulting_absence_definition.clone_from(&code);
    a.shift_definition = code;
    a
}

#[tokio::test]
async fn every_invalid_absence_request_field_is_refused_by_name() {
    let mut app = spawn_app().await;
    let seed = seed(&mut app).await;
    let app = &app;
    let ingest = app.clients.ingest.clone();
    // A new absence: accepted, it would write.
    let fresh = monday_to_tuesday("hr-fresh", 1, AbsenceStatus::Approved);
    let mut failures = Vec::new();

    type Put = proto::PutAbsenceRequest;
    let mut rows =
        rows![Put, Code::InvalidArgument; "absence missing" => "absence", |r| r.absence = None;];
    rows.extend(lift(absence_rows(), |r: &mut Put| {
        r.absence.as_mut().unwrap()
    }));
    let put = |request: Put| {
        let mut client = ingest.clone();
        let request = app.clients.request(request);
        async move { grpc(client.put_absence(request).await) }
    };
    let valid = Put {
        absence: Some(fresh.clone()),
    };
    failures.extend(run(&app.pool, "PutAbsence", &valid, rows, put).await);

    type PutMany = proto::PutAbsencesRequest;
    let mut rows = lift(absence_rows(), |r: &mut PutMany| &mut r.absences[1]);
    let batch = vec![seed.absence.clone(); 1001];
    rows.extend(rows![PutMany, Code::InvalidArgument;
        "1001 absences" => "absences", |r| r.absences.clone_from(&batch);
    ]);
    let put_many = |request: PutMany| {
        let mut client = ingest.clone();
        let request = app.clients.request(request);
        async move {
            match client.put_absences(request).await {
                Ok(response) => batch_answer(&response.into_inner().results),
                Err(status) => grpc::<()>(Err(status)),
            }
        }
    };
    let valid = PutMany {
        absences: vec![seed.absence.clone(), fresh.clone()],
    };
    failures.extend(run(&app.pool, "PutAbsences", &valid, rows, put_many).await);

    type Delete = proto::DeleteAbsenceRequest;
    let mut rows = rows![Delete, Code::InvalidArgument;
        "absence_id empty" => "absence_id", |r| r.absence_id.clear();
        "absence_id of 129 characters" => "absence_id", |r| r.absence_id = "x".repeat(129);
        "absence_id with a newline" => "absence_id", |r| r.absence_id = "hr\nseed".into();
        "revision above i64::MAX" => "revision", |r| r.revision = u64::MAX / 2 + 1;
        "revision u64::MAX" => "revision", |r| r.revision = u64::MAX;
    ];
    rows.push(row(
        "a message over the 4 MiB limit",
        Code::ResourceExhausted,
        None,
        |r: &mut Delete| r.absence_id = "x".repeat(OVER_GRPC_LIMIT),
    ));
    let delete = |request: Delete| {
        let mut client = ingest.clone();
        let request = app.clients.request(request);
        async move { grpc(client.delete_absence(request).await) }
    };
    // Deleting the seeded absence would write its leaves' `deleted` events.
    let valid = Delete {
        absence_id: seed.absence.absence_id.clone(),
        revision: 2,
    };
    failures.extend(run(&app.pool, "DeleteAbsence", &valid, rows, delete).await);

    type Get = proto::GetAbsenceRequest;
    let rows = rows![Get, Code::InvalidArgument;
        "absence_id empty" => "absence_id", |r| r.absence_id.clear();
        "absence_id of 129 characters" => "absence_id", |r| r.absence_id = "x".repeat(129);
        "absence_id with a tab" => "absence_id", |r| r.absence_id = "hr\tseed".into();
    ];
    let get = |request: Get| {
        let mut client = ingest.clone();
        let request = app.clients.request(request);
        async move { grpc(client.get_absence(request).await) }
    };
    let valid = Get {
        absence_id: seed.absence.absence_id.clone(),
    };
    failures.extend(run(&app.pool, "GetAbsence", &valid, rows, get).await);

    assert_no_failures(&failures);
    // The valid requests are accepted.
    let accepted = put(Put {
        absence: Some(fresh),
    })
    .await;
    assert_eq!(accepted.code, Code::Ok, "{accepted:?}");
    let accepted = put(Put {
        absence: Some(at_every_limit()),
    })
    .await;
    assert_eq!(accepted.code, Code::Ok, "{accepted:?}");
    assert_eq!(get(valid).await.code, Code::Ok);
}

// -------------------------------------------------------------------------------------------------
// Subscriptions

fn subscription(r: &mut proto::UpdateSubscriptionRequest) -> &mut proto::Subscription {
    r.subscription.as_mut().unwrap()
}

/// Names only `path` in the update mask, and gives the subscription to spoil its field.
fn masked<'a>(
    r: &'a mut proto::UpdateSubscriptionRequest,
    path: &str,
) -> &'a mut proto::Subscription {
    r.update_mask = Some(FieldMask {
        paths: vec![path.to_owned()],
    });
    subscription(r)
}

/// Rows for a request that is only a subscription id, in the field `field`.
fn id_rows(field: &'static str) -> Vec<Row<String, Code>> {
    each(
        Code::InvalidArgument,
        field,
        field,
        &NOT_IDS,
        |r: &mut String, v: &str| *r = v.into(),
    )
}

#[tokio::test]
async fn every_invalid_subscription_request_field_is_refused_by_name() {
    let mut app = spawn_app().await;
    let seed = seed(&mut app).await;
    let app = &app;
    let subscriptions = app.clients.subscriptions.clone();
    const BAD: Code = Code::InvalidArgument;
    let mut failures = Vec::new();

    type Create = proto::CreateSubscriptionRequest;
    let mut rows = rows![Create, BAD;
        "authorization empty" => "authorization", |r| r.authorization = Some(String::new());
    ];
    rows.extend(each(
        BAD,
        "destination_url",
        "destination_url",
        &BAD_DESTINATIONS,
        |r: &mut Create, v: &str| r.destination_url = v.into(),
    ));
    rows.extend(each(
        BAD,
        "collection",
        "collection",
        &BAD_ENUMS,
        |r: &mut Create, v| r.collection = v,
    ));
    rows.extend(each(
        BAD,
        "event_filter",
        "event_filter",
        &UNKNOWN_ENUMS,
        |r: &mut Create, v| r.event_filter = v,
    ));
    rows.extend(each(
        BAD,
        "authorization",
        "authorization",
        &bad_authorizations(),
        |r: &mut Create, v| r.authorization = Some(v),
    ));
    rows.extend(each(
        BAD,
        "valid_until",
        "valid_until",
        &BAD_VALID_UNTIL,
        |r: &mut Create, v: &str| r.valid_until = v.into(),
    ));
    rows.extend(each(
        BAD,
        "max_per_second",
        "max_per_second",
        &BAD_RATES,
        |r: &mut Create, v| r.max_per_second = Some(v),
    ));
    let too_long = destination_of(app, 2049);
    rows.extend(rows![Create, BAD;
        "destination_url of 2049 characters" => "destination_url",
            |r| r.destination_url.clone_from(&too_long);
    ]);
    rows.push(row(
        "a message over the 4 MiB limit",
        Code::ResourceExhausted,
        None,
        |r: &mut Create| {
            r.destination_url = format!("https://example.com/{}", "x".repeat(OVER_GRPC_LIMIT));
        },
    ));
    let create = |request: Create| {
        let mut client = subscriptions.clone();
        let request = app.clients.request(request);
        async move { grpc(client.create_subscription(request).await) }
    };
    // A new subscription: accepted, it would write.
    let valid = Create {
        destination_url: app.receiver.url("/fresh"),
        collection: proto::Collection::Leaves.into(),
        authorization: Some("Basic YWxhZGRpbjpvcGVuc2VzYW1l".into()),
        event_filter: EventFilter::ValidatedOnly.into(),
        valid_until: String::new(),
        max_per_second: None,
    };
    failures.extend(run(&app.pool, "CreateSubscription", &valid, rows, create).await);

    let get = |id: String| {
        let mut client = subscriptions.clone();
        let request = app.clients.request(proto::GetSubscriptionRequest { id });
        async move { grpc(client.get_subscription(request).await) }
    };
    failures.extend(
        run(
            &app.pool,
            "GetSubscription",
            &seed.subscription_id,
            id_rows("id"),
            get,
        )
        .await,
    );
    let rotate = |id: String| {
        let mut client = subscriptions.clone();
        let request = app
            .clients
            .request(proto::RotateSigningSecretRequest { id });
        async move { grpc(client.rotate_signing_secret(request).await) }
    };
    let valid = &seed.subscription_id;
    failures.extend(
        run(
            &app.pool,
            "RotateSigningSecret",
            valid,
            id_rows("id"),
            rotate,
        )
        .await,
    );
    let delete = |id: String| {
        let mut client = subscriptions.clone();
        let request = app.clients.request(proto::DeleteSubscriptionRequest { id });
        async move { grpc(client.delete_subscription(request).await) }
    };
    failures.extend(
        run(
            &app.pool,
            "DeleteSubscription",
            valid,
            id_rows("id"),
            delete,
        )
        .await,
    );

    let pause = |id: String| {
        let mut client = subscriptions.clone();
        let request = app.clients.request(proto::PauseSubscriptionRequest { id });
        async move { grpc(client.pause_subscription(request).await) }
    };
    failures.extend(run(&app.pool, "PauseSubscription", valid, id_rows("id"), pause).await);
    let resume = |id: String| {
        let mut client = subscriptions.clone();
        let request = app.clients.request(proto::ResumeSubscriptionRequest { id });
        async move { grpc(client.resume_subscription(request).await) }
    };
    failures.extend(
        run(
            &app.pool,
            "ResumeSubscription",
            valid,
            id_rows("id"),
            resume,
        )
        .await,
    );

    type List = proto::ListSubscriptionsRequest;
    let rows = rows![List, BAD;
        "page_size 1001" => "page_size", |r| r.page_size = 1001;
        "page_size u32::MAX" => "page_size", |r| r.page_size = u32::MAX;
        "page_token a word" => "page_token", |r| r.page_token = "garbage".into();
        "page_token with a bad time" => "page_token",
            |r| r.page_token = format!("yesterday|{UNKNOWN_UUID}");
        "page_token with a bad id" => "page_token",
            |r| r.page_token = "2024-03-04T09:00:00Z|not-a-uuid".into();
    ];
    let list = |request: List| {
        let mut client = subscriptions.clone();
        let request = app.clients.request(request);
        async move { grpc(client.list_subscriptions(request).await) }
    };
    let valid = List {
        page_size: 10,
        page_token: String::new(),
    };
    failures.extend(run(&app.pool, "ListSubscriptions", &valid, rows, list).await);

    type Update = proto::UpdateSubscriptionRequest;
    let mut rows = rows![Update, BAD;
        "subscription missing" => "subscription", |r| r.subscription = None;
        "update_mask missing" => "update_mask", |r| r.update_mask = None;
        "update_mask empty" => "update_mask", |r| r.update_mask = Some(FieldMask::default());
    ];
    let unknown_paths = [
        "colour",
        "id",
        "collection",
        "created_at",
        "subscription.status",
        "",
    ]
    .map(|path| (path, path));
    rows.extend(each(
        BAD,
        "update_mask naming",
        "update_mask",
        &unknown_paths,
        |r: &mut Update, path: &str| {
            masked(r, path);
        },
    ));
    rows.extend(each(
        BAD,
        "subscription.id",
        "subscription.id",
        &NOT_IDS,
        |r: &mut Update, v: &str| subscription(r).id = v.into(),
    ));
    rows.extend(each(
        BAD,
        "subscription.destination_url",
        "subscription.destination_url",
        &BAD_DESTINATIONS,
        |r: &mut Update, v: &str| {
            masked(r, "destination_url").destination_url = v.into();
        },
    ));
    rows.extend(each(
        BAD,
        "subscription.authorization",
        "subscription.authorization",
        &bad_authorizations(),
        |r: &mut Update, v| masked(r, "authorization").authorization = v,
    ));
    rows.extend(each(
        BAD,
        "subscription.event_filter",
        "subscription.event_filter",
        &BAD_ENUMS,
        |r: &mut Update, v| masked(r, "event_filter").event_filter = v,
    ));
    rows.extend(each(
        BAD,
        "subscription.status",
        "subscription.status",
        &BAD_ENUMS,
        |r: &mut Update, v| masked(r, "status").status = v,
    ));
    rows.extend(each(
        BAD,
        "subscription.valid_until",
        "subscription.valid_until",
        &BAD_VALID_UNTIL,
        |r: &mut Update, v: &str| masked(r, "valid_until").valid_until = v.into(),
    ));
    rows.extend(each(
        BAD,
        "subscription.max_per_second",
        "subscription.max_per_second",
        &BAD_RATES,
        |r: &mut Update, v| masked(r, "max_per_second").max_per_second = Some(v),
    ));
    let too_long = destination_of(app, 2049);
    rows.extend(rows![Update, BAD;
        "subscription.destination_url of 2049 characters" => "subscription.destination_url",
            |r| masked(r, "destination_url").destination_url.clone_from(&too_long);
    ]);
    rows.push(row(
        "a message over the 4 MiB limit",
        Code::ResourceExhausted,
        None,
        |r: &mut Update| {
            masked(r, "destination_url").destination_url =
                format!("https://example.com/{}", "x".repeat(OVER_GRPC_LIMIT));
        },
    ));
    let update = |request: Update| {
        let mut client = subscriptions.clone();
        let request = app.clients.request(request);
        async move { grpc(client.update_subscription(request).await) }
    };
    let valid = Update {
        subscription: Some(proto::Subscription {
            id: seed.subscription_id.clone(),
            event_filter: EventFilter::ValidatedOnly.into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["event_filter".into()],
        }),
    };
    failures.extend(run(&app.pool, "UpdateSubscription", &valid, rows, update).await);

    assert_no_failures(&failures);
    // Nor was the seeded subscription changed in place: not paused, no limit.
    let seeded = app
        .clients
        .get_subscription(&seed.subscription_id)
        .await
        .unwrap();
    assert_eq!(seeded.status(), proto::SubscriptionStatus::Enabled);
    assert_eq!(
        (seeded.max_per_second, seeded.paused_since),
        (None, String::new())
    );
    // The valid requests are accepted, a destination of exactly 2048 characters and the rates at
    // either end of their range too.
    assert_eq!(get(seed.subscription_id.clone()).await.code, Code::Ok);
    assert_eq!(pause(seed.subscription_id.clone()).await.code, Code::Ok);
    assert_eq!(resume(seed.subscription_id.clone()).await.code, Code::Ok);
    for rate in [1, 10_000] {
        let mut limited = valid.clone();
        masked(&mut limited, "max_per_second").max_per_second = Some(rate);
        assert_eq!(update(limited).await.code, Code::Ok);
    }
    assert_eq!(update(valid).await.code, Code::Ok);
    let created = create(Create {
        destination_url: destination_of(app, 2048),
        collection: proto::Collection::Leaves.into(),
        authorization: Some("Basic YWxhZGRpbjpvcGVuc2VzYW1l".into()),
        event_filter: EventFilter::ValidatedOnly.into(),
        valid_until: String::new(),
        max_per_second: Some(10_000),
    })
    .await;
    assert_eq!(created.code, Code::Ok, "{created:?}");
}

// -------------------------------------------------------------------------------------------------
// Deliveries

#[tokio::test]
async fn every_invalid_delivery_request_field_is_refused_by_name() {
    let mut app = spawn_app().await;
    let seed = seed(&mut app).await;
    let app = &app;
    let deliveries = app.deliveries().await;
    const BAD: Code = Code::InvalidArgument;
    let mut failures = Vec::new();

    type List = proto::ListDeliveriesRequest;
    let mut rows = rows![List, BAD;
        "page_size 1001" => "page_size", |r| r.page_size = 1001;
        "page_size u32::MAX" => "page_size", |r| r.page_size = u32::MAX;
    ];
    // An empty subscription_id or leave_id is no filter.
    rows.extend(each(
        BAD,
        "subscription_id",
        "subscription_id",
        &NOT_IDS[1..],
        |r: &mut List, v: &str| r.subscription_id = v.into(),
    ));
    rows.extend(each(
        BAD,
        "status",
        "status",
        &UNKNOWN_ENUMS,
        |r: &mut List, v| r.status = v,
    ));
    rows.extend(each(
        BAD,
        "leave_id",
        "leave_id",
        &BAD_LEAVE_IDS[1..],
        |r: &mut List, v: &str| r.leave_id = v.into(),
    ));
    rows.extend(each(
        BAD,
        "event",
        "event",
        &[("unknown", "updated"), ("capitalised", "Created")],
        |r: &mut List, v: &str| r.event = v.into(),
    ));
    let bad_since = [
        ("a word", "yesterday"),
        ("a date only", "2024-03-04"),
        ("2024-02-30", "2024-02-30T00:00:00Z"),
        ("without an offset", "2024-03-04T09:00:00"),
        ("hour 24", "2024-03-04T24:00:00Z"),
    ];
    rows.extend(each(
        BAD,
        "since",
        "since",
        &bad_since,
        |r: &mut List, v: &str| r.since = v.into(),
    ));
    let bad_tokens = [
        ("a word", "abc"),
        ("negative", "-1"),
        ("zero", "0"),
        ("beyond i64", "99999999999999999999"),
    ];
    rows.extend(each(
        BAD,
        "page_token",
        "page_token",
        &bad_tokens,
        |r: &mut List, v: &str| r.page_token = v.into(),
    ));
    let list = |request: List| {
        let mut client = deliveries.clone();
        let request = app.clients.request(request);
        async move { grpc(client.list_deliveries(request).await) }
    };
    let valid = List {
        subscription_id: seed.subscription_id.clone(),
        page_size: 10,
        ..Default::default()
    };
    failures.extend(run(&app.pool, "ListDeliveries", &valid, rows, list).await);

    let not_delivery_ids = || {
        let ids = [("0", 0), ("negative", -1), ("i64::MIN", i64::MIN)];
        each(BAD, "id", "id", &ids, |r: &mut i64, v| *r = v)
    };
    let get = |id: i64| {
        let mut client = deliveries.clone();
        let request = app.clients.request(proto::GetDeliveryRequest { id });
        async move { grpc(client.get_delivery(request).await) }
    };
    let valid = &seed.delivery_id;
    failures.extend(run(&app.pool, "GetDelivery", valid, not_delivery_ids(), get).await);
    let resync = |id: i64| {
        let mut client = deliveries.clone();
        let request = app
            .clients
            .request(proto::ResyncDeliveryRequest { id, force: true });
        async move { grpc(client.resync_delivery(request).await) }
    };
    failures.extend(
        run(
            &app.pool,
            "ResyncDelivery",
            valid,
            not_delivery_ids(),
            resync,
        )
        .await,
    );
    let mark = |id: i64| {
        let mut client = deliveries.clone();
        let note = "entered by hand".into();
        let request = app
            .clients
            .request(proto::MarkProcessedRequest { id, note });
        async move { grpc(client.mark_processed(request).await) }
    };
    failures.extend(run(&app.pool, "MarkProcessed", valid, not_delivery_ids(), mark).await);
    type Mark = proto::MarkProcessedRequest;
    let rows = rows![Mark, BAD;
        "note of 1001 characters" => "note", |r| r.note = "x".repeat(1001);
        "note of 1001 two-byte characters" => "note", |r| r.note = "é".repeat(1001);
    ];
    let mark_noted = |request: Mark| {
        let mut client = deliveries.clone();
        let request = app.clients.request(request);
        async move { grpc(client.mark_processed(request).await) }
    };
    // A note of exactly 1000 characters, on a delivery that exists.
    let noted = Mark {
        id: seed.delivery_id,
        note: "é".repeat(1000),
    };
    failures.extend(run(&app.pool, "MarkProcessed", &noted, rows, mark_noted).await);

    // An empty subscription_id is every subscription.
    let subscription_rows = || {
        each(
            BAD,
            "subscription_id",
            "subscription_id",
            &NOT_IDS[1..],
            |r: &mut String, v: &str| *r = v.into(),
        )
    };
    let resync_failed = |subscription_id: String| {
        let mut client = deliveries.clone();
        let request = app
            .clients
            .request(proto::ResyncFailedRequest { subscription_id });
        async move { grpc(client.resync_failed(request).await) }
    };
    let valid = &seed.subscription_id;
    failures.extend(
        run(
            &app.pool,
            "ResyncFailed",
            valid,
            subscription_rows(),
            resync_failed,
        )
        .await,
    );
    let watch = |subscription_id: String| {
        let mut client = deliveries.clone();
        let request = app
            .clients
            .request(proto::WatchDeliveriesRequest { subscription_id });
        async move { grpc(client.watch_deliveries(request).await) }
    };
    failures.extend(
        run(
            &app.pool,
            "WatchDeliveries",
            valid,
            subscription_rows(),
            watch,
        )
        .await,
    );

    assert_no_failures(&failures);
    // The valid requests are accepted.
    let listed = list(List {
        subscription_id: seed.subscription_id.clone(),
        page_size: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(listed.code, Code::Ok, "{listed:?}");
    assert_eq!(get(seed.delivery_id).await.code, Code::Ok);
    assert_eq!(
        resync_failed(seed.subscription_id.clone()).await.code,
        Code::Ok
    );
    // Only failed deliveries can be marked processed, and the seeded ones succeeded: the valid
    // request gets past every field check to NOT_FOUND.
    assert_eq!(mark_noted(noted).await.code, Code::NotFound);
}

// -------------------------------------------------------------------------------------------------
// REST

#[tokio::test]
async fn every_invalid_rest_webhook_request_is_refused_by_name() {
    let mut app = spawn_app().await;
    let seed = seed(&mut app).await;
    let app = &app;
    let base = app.http("");
    let call = |request: Http| send(&base, &app.token, request);
    const BAD: StatusCode = StatusCode::BAD_REQUEST;
    let mut failures = Vec::new();

    let mut rows = rows![Http, BAD;
        "destinationUrl missing" => "destinationUrl", |r| r.set("destinationUrl", None);
        "destinationUrl null" => "destinationUrl", |r| r.set("destinationUrl", Some(Value::Null));
        "destinationUrl a number" => "destinationUrl", |r| r.set("destinationUrl", Some(json!(42)));
        "destinationUrl an object" => "destinationUrl",
            |r| r.set("destinationUrl", Some(json!({"url": "https://example.com/"})));
        "collectionName missing" => "collectionName", |r| r.set("collectionName", None);
        "collectionName a number" => "collectionName", |r| r.set("collectionName", Some(json!(1)));
        "collectionName empty" => "collectionName", |r| r.set("collectionName", Some(json!("")));
        "collectionName unknown" => "collectionName",
            |r| r.set("collectionName", Some(json!("people")));
        "collectionName capitalised" => "collectionName",
            |r| r.set("collectionName", Some(json!("Absences")));
    ];
    rows.extend(each(
        BAD,
        "destinationUrl",
        "destinationUrl",
        &BAD_DESTINATIONS,
        |r: &mut Http, v: &str| r.set("destinationUrl", Some(json!(v))),
    ));
    let too_long = destination_of(app, 2049);
    rows.extend(rows![Http, BAD;
        "destinationUrl of 2049 characters" => "destinationUrl",
            |r| r.set("destinationUrl", Some(json!(too_long)));
    ]);
    // Bodies that are no JSON object name no field.
    for (what, code, body) in [
        ("body not JSON", BAD, b"{not json".to_vec()),
        ("body empty", BAD, Vec::new()),
        ("body a JSON array", BAD, b"[]".to_vec()),
        (
            "body not UTF-8",
            BAD,
            b"{\"destinationUrl\": \"\xff\"}".to_vec(),
        ),
        (
            "body over the 64 KiB limit",
            StatusCode::PAYLOAD_TOO_LARGE,
            {
                let url = format!("https://example.com/{}", "x".repeat(OVER_HTTP_LIMIT));
                json!({"destinationUrl": url, "collectionName": "leaves"})
                    .to_string()
                    .into_bytes()
            },
        ),
    ] {
        rows.push(row(what, code, None, move |r: &mut Http| {
            r.body = Some(body.clone());
        }));
    }
    for (what, content_type) in [("text/plain", "text/plain"), ("missing", "")] {
        rows.push(row(
            format!("Content-Type {what}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            move |r: &mut Http| r.content_type = content_type,
        ));
    }
    // A new webhook: accepted, it would write.
    let valid = valid_post(app);
    failures.extend(run(&app.pool, "POST webhooks", &valid, rows, call).await);

    let bad_filters = [
        ("empty", ""),
        ("with an unknown status", "status eq 'Paused'"),
        ("with a lower-case status", "status eq 'enabled'"),
        ("unquoted", "status eq Disabled"),
        ("with another operator", "status ne 'Enabled'"),
        ("on another property", "name eq 'x'"),
        (
            "with two clauses",
            "status eq 'Enabled' and status eq 'Disabled'",
        ),
    ];
    let mut rows = each(
        BAD,
        "filter",
        "filter",
        &bad_filters,
        |r: &mut Http, v: &str| r.param("filter", v),
    );
    rows.extend(rows![Http, BAD;
        "filter given twice" => "filter",
            |r| r.query.push(("filter".into(), "status eq 'Disabled'".into()));
    ]);
    let valid = Http::get(WEBHOOKS, &[("filter", "status eq 'Enabled'")]);
    failures.extend(run(&app.pool, "GET webhooks", &valid, rows, call).await);

    // A path that names no webhook is no resource: 404, with a problem document.
    for method in [Method::GET, Method::DELETE] {
        let at = |id: &str| Http {
            method: method.clone(),
            ..Http::get(&format!("{WEBHOOKS}/{id}"), &[])
        };
        let mut rows = Vec::new();
        for (what, id) in [
            ("not a UUID", "not-a-uuid"),
            ("a UUID of no webhook", UNKNOWN_UUID),
        ] {
            let to = at(id);
            rows.push(row(
                format!("id {what}"),
                StatusCode::NOT_FOUND,
                None,
                move |r: &mut Http| r.clone_from(&to),
            ));
        }
        let surface = format!("{method} webhooks/{{id}}");
        failures.extend(run(&app.pool, &surface, &at(&seed.subscription_id), rows, call).await);
    }

    assert_no_failures(&failures);
    // The valid requests are accepted.
    let listed = call(Http::get(WEBHOOKS, &[("filter", "status eq 'Enabled'")])).await;
    assert_eq!(listed.code, StatusCode::OK, "{listed:?}");
    let created = call(valid_post(app)).await;
    assert_eq!(created.code, StatusCode::CREATED, "{created:?}");
    let mut at_limit = valid_post(app);
    at_limit.set("destinationUrl", Some(json!(destination_of(app, 2048))));
    let created = call(at_limit).await;
    assert_eq!(created.code, StatusCode::CREATED, "{created:?}");
}

/// A new webhook of the receiver.
fn valid_post(app: &TestApp) -> Http {
    Http::post_json(
        WEBHOOKS,
        &json!({"destinationUrl": app.receiver.url("/fresh"), "collectionName": "leaves"}),
    )
}

#[tokio::test]
async fn every_invalid_rest_absences_query_is_refused_by_name() {
    let mut app = spawn_app().await;
    seed(&mut app).await;
    let app = &app;
    let base = app.http("");
    let call = |request: Http| send(&base, &app.token, request);
    const BAD: StatusCode = StatusCode::BAD_REQUEST;

    let bad_filters = [
        ("empty", ""),
        ("with 2024-02-30", "date ge '2024-02-30'"),
        ("with 2024-13-01", "date ge '2024-13-01'"),
        ("with a date not zero-padded", "date ge '2024-3-1'"),
        ("with an empty date", "date ge ''"),
        ("with a date-time", "date ge '2024-03-01T00:00:00'"),
        ("unquoted", "date ge 2024-03-01"),
        ("with another operator", "date gt '2024-03-01'"),
        ("on another property", "status eq 'Enabled'"),
        (
            "with two clauses",
            "date ge '2024-03-01' and date ge '2024-03-02'",
        ),
    ];
    let mut rows = each(
        BAD,
        "filter",
        "filter",
        &bad_filters,
        |r: &mut Http, v: &str| r.param("filter", v),
    );
    let bad_sizes = [
        ("empty", ""),
        ("0", "0"),
        ("1001", "1001"),
        ("negative", "-1"),
        ("a fraction", "1.5"),
        ("a word", "ten"),
        ("beyond u32", "4294967297"),
    ];
    rows.extend(each(
        BAD,
        "pageSize",
        "pageSize",
        &bad_sizes,
        |r: &mut Http, v: &str| r.param("pageSize", v),
    ));
    rows.extend(each(
        BAD,
        "pageToken",
        "pageToken",
        &BAD_LEAVE_IDS,
        |r: &mut Http, v: &str| r.param("pageToken", v),
    ));
    rows.extend(rows![Http, BAD;
        "filter given twice" => "filter",
            |r| r.query.push(("filter".into(), "date ge '2024-03-02'".into()));
        "pageSize given twice" => "pageSize", |r| r.query.push(("pageSize".into(), "3".into()));
        "pageToken given twice" => "pageToken", |r| {
            r.param("pageToken", "1-20240304-AM");
            r.query.push(("pageToken".into(), "1-20240304-PM".into()));
        };
    ]);
    let valid = Http::get(
        ABSENCES,
        &[("filter", "date ge '2024-03-01'"), ("pageSize", "2")],
    );
    let failures = run(&app.pool, "GET absences", &valid, rows, call).await;

    assert_no_failures(&failures);
    // The valid request is accepted.
    let listed = call(valid).await;
    assert_eq!(listed.code, StatusCode::OK, "{listed:?}");
}
