//! The `/admin` web console over plain HTTP: sign-in, the session cookie, CSRF and origin checks,
//! tenant scoping, read-only tokens, bad filters, and pages with no script or external reference;
//! the subscriptions list and page with their health figures, and pause and resume.
//! The browser walk-through is in `browser.rs`.

use crate::app::{TestApp, spawn_app, spawn_app_retrying};
use absync_adapter_grpc::proto::{
    self, AbsenceStatus, Collection, EventFilter, HalfDay, SubscriptionStatus,
};
use absync_domain::Scope;
use absync_e2e::fixtures::{half_days, monday_to_tuesday, one_morning};
use absync_e2e::wait::{eventually, ready_when};
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::{Client, StatusCode, redirect};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// An app whose receiver answers 500, with `leaves` deliveries that used every retry (`failed`).
pub(crate) async fn app_with_failed_deliveries(leaves: usize) -> (TestApp, Vec<i64>) {
    let mut app = spawn_app_retrying("20ms,20ms,20ms,20ms").await;
    app.receiver.respond_with(500);
    app.subscribe(EventFilter::All).await;
    for n in 0..leaves {
        let day = format!("2024-03-{:02}", 4 + n);
        let absence = half_days(
            &format!("hr-{n}"),
            1,
            AbsenceStatus::Approved,
            (&day, HalfDay::Am),
            (&day, HalfDay::Am),
        );
        app.put(absence).await.unwrap();
    }
    let failed = eventually(
        &format!("{leaves} failed deliveries"),
        Duration::from_secs(15),
        async || {
            let failed: Vec<(i64,)> =
                sqlx::query_as("SELECT id FROM deliveries WHERE status = 'failed' ORDER BY id")
                    .fetch_all(&app.pool)
                    .await
                    .unwrap();
            ready_when(failed.len() == leaves, failed)
        },
    )
    .await;
    (app, failed.into_iter().map(|(id,)| id).collect())
}

pub(crate) fn client() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in with `token`; returns the `Cookie` header value of the session.
pub(crate) async fn sign_in(app: &TestApp, token: &str) -> String {
    let response = client()
        .post(app.http("/admin/login"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/admin");
    let set = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(set.contains(attribute), "{set} lacks {attribute}");
    }
    set.split(';').next().unwrap().to_owned()
}

pub(crate) async fn get(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, String) {
    let response = client()
        .get(app.http(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

/// The hidden CSRF field of a page.
pub(crate) fn csrf_of(html: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Every `src`, `href` and `action` of a page is a path on this origin, and there is no script.
fn assert_self_contained(html: &str) {
    assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
    for attribute in ["src=\"", "href=\"", "action=\""] {
        for (at, _) in html.match_indices(attribute) {
            let value = &html[at + attribute.len()..];
            assert!(
                value.starts_with('/') && !value.starts_with("//"),
                "external or relative reference: {}",
                &value[..value.find('"').unwrap_or(value.len())]
            );
        }
    }
}

#[tokio::test]
async fn signing_in_sets_a_strict_http_only_session() {
    let (app, failed) = app_with_failed_deliveries(1).await;

    let response = client().get(app.http("/admin")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/admin/login");

    let refused = client()
        .post(app.http("/admin/login"))
        .form(&[("token", "absync_not-a-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.text().await.unwrap().contains("token: unknown"));

    let cookie = sign_in(&app, &app.token).await;
    for path in [
        "/admin".to_owned(),
        "/admin/login".to_owned(),
        "/admin/deliveries".to_owned(),
        format!("/admin/deliveries/{}", failed[0]),
        format!("/admin/deliveries/{}/resync", failed[0]),
        format!("/admin/deliveries/{}/mark-processed", failed[0]),
    ] {
        let response = client()
            .get(app.http(&path))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.starts_with("default-src 'none'"), "{csp}");
        assert_self_contained(&response.text().await.unwrap());
    }
    let (_, detail) = get(&app, &cookie, &format!("/admin/deliveries/{}", failed[0])).await;
    assert!(
        detail.contains("Basic ****"),
        "the Authorization value is redacted"
    );
    assert!(!detail.contains("YWxhZGRpbjpvcGVuc2VzYW1l"));

    // Signing out ends the session in the browser.
    let csrf = csrf_of(&detail);
    let out = client()
        .post(app.http("/admin/logout"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(
        out.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
}

#[tokio::test]
async fn actions_need_the_csrf_token_the_same_origin_and_the_write_scope() {
    let (app, failed) = app_with_failed_deliveries(1).await;
    let cookie = sign_in(&app, &app.token).await;
    let path = format!("/admin/deliveries/{}/mark-processed", failed[0]);
    let (_, page) = get(&app, &cookie, &path).await;
    let csrf = csrf_of(&page);

    let post = |form: Vec<(&'static str, String)>, origin: Option<&'static str>| {
        let mut request = client()
            .post(app.http(&path))
            .header(COOKIE, &cookie)
            .form(&form);
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        request.send()
    };
    let no_csrf = post(vec![("note", "x".into())], None).await.unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    let wrong_csrf = post(vec![("csrf", "forged".into())], None).await.unwrap();
    assert_eq!(wrong_csrf.status(), StatusCode::FORBIDDEN);
    let cross_site = post(vec![("csrf", csrf.clone())], Some("http://evil.example"))
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    let status: (String,) = sqlx::query_as("SELECT status FROM deliveries WHERE id = $1")
        .bind(failed[0])
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status.0, "failed", "nothing was changed");

    // A token that may only read sees no action and may not act.
    let reader = app.token_with("acme", &[Scope::DeliveriesRead]).await;
    let reader_cookie = sign_in(&app, &reader).await;
    let (_, detail) = get(
        &app,
        &reader_cookie,
        &format!("/admin/deliveries/{}", failed[0]),
    )
    .await;
    assert!(!detail.contains("mark-processed"));
    let reader_csrf = csrf_of(&detail);
    let refused = client()
        .post(app.http(&path))
        .header(COOKIE, &reader_cookie)
        .form(&[("csrf", reader_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.text().await.unwrap().contains("deliveries:write"));

    // A token without deliveries:read cannot sign in.
    let writer = app.token_with("acme", &[Scope::AbsencesWrite]).await;
    let response = client()
        .post(app.http("/admin/login"))
        .form(&[("token", writer.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // The right form from the right origin works, and the note is kept.
    let response = client()
        .post(app.http(&path))
        .header(COOKIE, &cookie)
        .header(ORIGIN, format!("http://{}", app.http_addr))
        .form(&[("csrf", csrf.as_str()), ("note", "fixed by hand")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, detail) = get(&app, &cookie, &format!("/admin/deliveries/{}", failed[0])).await;
    assert!(detail.contains("fixed by hand"));
    assert!(detail.contains(">processed<"));
}

#[tokio::test]
async fn the_console_shows_only_the_tenants_deliveries_and_names_bad_filters() {
    let (app, failed) = app_with_failed_deliveries(1).await;
    let other = app
        .token_with("globex", &[Scope::DeliveriesRead, Scope::DeliveriesWrite])
        .await;
    let cookie = sign_in(&app, &other).await;
    let (status, page) = get(&app, &cookie, &format!("/admin/deliveries/{}", failed[0])).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
    let (_, list) = get(&app, &cookie, "/admin/deliveries").await;
    assert!(list.contains("No deliveries match."));
    let (_, dashboard) = get(&app, &cookie, "/admin").await;
    assert!(dashboard.contains("No failed deliveries"));

    let own = sign_in(&app, &app.token).await;
    for (query, field) in [
        ("status=lost", "status"),
        ("event=moved", "event"),
        ("since=yesterday", "since"),
        ("before=abc", "before"),
    ] {
        let (status, page) = get(&app, &own, &format!("/admin/deliveries?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(page.contains(&format!("{field}: ")), "{query}: {page}");
    }
    let (status, page) = get(
        &app,
        &own,
        "/admin/deliveries?status=failed&since=2020-01-01",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("/admin/deliveries/{}", failed[0])));
}

#[tokio::test]
async fn the_list_pages_backwards_and_a_subscriptions_failures_are_resynced_at_once() {
    let (mut app, failed) = app_with_failed_deliveries(2).await;
    // Five working weeks: 50 more leaves, 52 deliveries in all, more than one page of 50.
    let long = half_days(
        "hr-long",
        1,
        AbsenceStatus::Approved,
        ("2024-04-01", HalfDay::Am),
        ("2024-05-03", HalfDay::Pm),
    );
    app.receiver.respond_with(200);
    app.put(long).await.unwrap();
    let cookie = sign_in(&app, &app.token).await;

    let (_, first) = get(&app, &cookie, "/admin/deliveries").await;
    assert_eq!(first.matches("class=\"delivery-link\"").count(), 50);
    let older = first
        .split("href=\"")
        .find_map(|rest| rest.split_once("\" id=\"older\"").map(|(href, _)| href))
        .expect("an Older link")
        .replace("&amp;", "&");
    let (_, second) = get(&app, &cookie, &older).await;
    let rest = second.matches("class=\"delivery-link\"").count();
    let (total,): (i64,) = sqlx::query_as("SELECT count(*) FROM deliveries")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(50 + rest, usize::try_from(total).unwrap());
    assert!(second.contains("id=\"newest\""));
    assert!(!second.contains("id=\"older\""));

    // "Re-sync all" on the dashboard sends both failed deliveries again.
    let (_, dashboard) = get(&app, &cookie, "/admin").await;
    let subscription: (String,) =
        sqlx::query_as("SELECT CAST(subscription_id AS TEXT) FROM deliveries WHERE id = $1")
            .bind(failed[0])
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let path = format!("/admin/subscriptions/{}/resync-failed", subscription.0);
    assert!(dashboard.contains(&path));
    let (status, confirm) = get(&app, &cookie, &path).await;
    assert_eq!(status, StatusCode::OK);
    let response = client()
        .post(app.http(&path))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf_of(&confirm).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[LOCATION],
        "/admin?done=resynced-failed&n=2"
    );
    eventually(
        "the dashboard to show no failed deliveries",
        Duration::from_secs(15),
        async || {
            let (_, dashboard) = get(&app, &cookie, "/admin").await;
            if dashboard.contains("No failed deliveries") {
                Ok(())
            } else {
                Err(dashboard)
            }
        },
    )
    .await;
}

/// Subscribes the receiver's `path` to `leaves`, every event; returns the subscription's id.
async fn subscribe_path(app: &TestApp, path: &str) -> String {
    subscribe_with(
        app,
        proto::CreateSubscriptionRequest {
            destination_url: app.receiver.url(path),
            collection: Collection::Leaves.into(),
            event_filter: EventFilter::All.into(),
            ..Default::default()
        },
    )
    .await
}

async fn subscribe_with(app: &TestApp, request: proto::CreateSubscriptionRequest) -> String {
    app.clients
        .create_subscription(request)
        .await
        .unwrap()
        .subscription
        .unwrap()
        .id
}

/// The row of subscription `id` in the subscriptions list.
fn row_of<'a>(list: &'a str, id: &str) -> &'a str {
    let start = list
        .find(&format!("<tr data-subscription=\"{id}\">"))
        .unwrap_or_else(|| panic!("no row of {id} in {list}"));
    let rest = &list[start..];
    &rest[..rest.find("</tr>").unwrap()]
}

/// The text of the cell of class `class` in `row`, tags stripped.
fn cell(row: &str, class: &str) -> String {
    let marker = format!("class=\"{class}\">");
    let start = row
        .find(&marker)
        .unwrap_or_else(|| panic!("no {class} cell in {row}"))
        + marker.len();
    strip_tags(&row[start..start + row[start..].find("</td>").unwrap()])
}

fn strip_tags(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The subscription ids a list page shows, in order.
fn listed(list: &str) -> Vec<String> {
    list.split("<tr data-subscription=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
}

/// The `href` of the element with id `id`, unescaped.
fn href_of(html: &str, id: &str) -> Option<String> {
    html.split("href=\"").find_map(|rest| {
        rest.split_once(&format!("\" id=\"{id}\""))
            .map(|(href, _)| href.replace("&amp;", "&").replace("&#38;", "&"))
    })
}

/// Counts the deliveries of subscription `id` in `status`.
async fn deliveries_of(app: &TestApp, id: &str, status: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM deliveries WHERE CAST(subscription_id AS TEXT) = $1 AND status = $2",
    )
    .bind(id)
    .bind(status)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    n
}

/// Posts an action's form with `csrf` (none when empty) from this console's origin.
async fn post_action(app: &TestApp, cookie: &str, path: &str, csrf: &str) -> reqwest::Response {
    let form: Vec<(&str, &str)> = if csrf.is_empty() {
        Vec::new()
    } else {
        vec![("csrf", csrf)]
    };
    client()
        .post(app.http(path))
        .header(COOKIE, cookie)
        .header(ORIGIN, format!("http://{}", app.http_addr))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_subscriptions_list_shows_each_ones_health_and_filters_by_state() {
    let mut app = spawn_app_retrying("20ms,20ms,20ms,20ms").await;
    app.receiver.respond_by(Box::new(|request, _| {
        if request.uri.starts_with("/fail") {
            500
        } else {
            200
        }
    }));
    let healthy = subscribe_path(&app, "/hook").await;
    let failing = subscribe_path(&app, "/fail").await;
    let paused = subscribe_path(&app, "/paused").await;
    let disabled = subscribe_path(&app, "/disabled").await;
    let deleted = subscribe_path(&app, "/deleted").await;
    let expiring = subscribe_with(
        &app,
        proto::CreateSubscriptionRequest {
            destination_url: app.receiver.url("/expiring"),
            collection: Collection::Absences.into(),
            event_filter: EventFilter::ValidatedOnly.into(),
            valid_until: (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339(),
            max_per_second: Some(7),
            ..Default::default()
        },
    )
    .await;
    let mut subscriptions = app.clients.subscriptions.clone();
    subscriptions
        .pause_subscription(
            app.clients
                .request(proto::PauseSubscriptionRequest { id: paused.clone() }),
        )
        .await
        .unwrap();
    app.clients
        .set_status(&disabled, SubscriptionStatus::Disabled)
        .await
        .unwrap();
    app.clients.delete_subscription(&deleted).await.unwrap();

    // Two leaves: the healthy subscription receives them, the failing one exhausts its retries.
    app.put(half_days(
        "hr-1",
        1,
        AbsenceStatus::Approved,
        ("2024-03-04", HalfDay::Am),
        ("2024-03-04", HalfDay::Pm),
    ))
    .await
    .unwrap();
    let (sent, failed) = eventually(
        "the healthy deliveries sent and the failing ones failed",
        Duration::from_secs(15),
        async || {
            let sent = deliveries_of(&app, &healthy, "succeeded").await;
            let failed = deliveries_of(&app, &failing, "failed").await;
            let open = deliveries_of(&app, &healthy, "pending").await
                + deliveries_of(&app, &failing, "pending").await;
            ready_when(sent > 0 && failed > 0 && open == 0, (sent, failed))
        },
    )
    .await;
    assert_eq!(sent, 2, "one delivery per leave");
    let queued = deliveries_of(&app, &paused, "pending").await
        + deliveries_of(&app, &paused, "waiting").await;
    assert_eq!(queued, 2, "the paused subscription's deliveries wait");

    let cookie = sign_in(&app, &app.token).await;
    let (status, dashboard) = get(&app, &cookie, "/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(dashboard.contains("<a href=\"/admin/subscriptions\">Subscriptions</a>"));
    // The expiring subscription has expired by now (it was made 2 s ahead).
    let expired = eventually(
        "the expiring subscription to expire",
        Duration::from_secs(10),
        async || {
            let (_, list) = get(&app, &cookie, "/admin/subscriptions?state=expired").await;
            ready_when(listed(&list) == [expiring.clone()], list)
        },
    )
    .await;
    assert_self_contained(&expired);
    let expiring_row = row_of(&expired, &expiring);
    assert_eq!(cell(expiring_row, "format"), "absences validated_only");

    let (status, list) = get(&app, &cookie, "/admin/subscriptions").await;
    assert_eq!(status, StatusCode::OK);
    assert_self_contained(&list);
    let not_deleted = [&healthy, &failing, &paused, &disabled, &expiring].map(String::clone);
    assert_eq!(
        listed(&list),
        app.clients.in_listing_order(&not_deleted).await,
        "every subscription not deleted, oldest first"
    );

    let row = row_of(&list, &healthy);
    assert_eq!(cell(row, "state"), "active");
    assert!(row.contains(&app.receiver.url("/hook")));
    assert_eq!(cell(row, "format"), "leaves all");
    assert_eq!(cell(row, "num succeeded"), "2");
    assert_eq!(cell(row, "num failed"), "0");
    assert_eq!(cell(row, "num rate"), "100.0 %");
    for latency in ["num p50", "num p99"] {
        let shown = cell(row, latency);
        assert!(shown.ends_with(" ms"), "{latency}: {shown}");
    }
    assert!(cell(row, "last-success").ends_with(" UTC"));
    assert_eq!(cell(row, "last-error"), "—");
    assert_eq!(cell(row, "num unsent"), "0");

    // The failing one: five attempts per delivery, every one answered 500.
    let row = row_of(&list, &failing);
    assert_eq!(cell(row, "num succeeded"), "0");
    assert_eq!(cell(row, "num failed"), (failed * 5).to_string());
    assert_eq!(cell(row, "num rate"), "0.0 %");
    assert_eq!(cell(row, "last-success"), "never");
    let last_error = cell(row, "last-error");
    assert!(last_error.starts_with("HTTP 500 "), "{last_error}");
    assert!(last_error.ends_with(" UTC"), "{last_error}");
    let (last_failed,): (i64,) =
        sqlx::query_as("SELECT max(id) FROM deliveries WHERE CAST(subscription_id AS TEXT) = $1")
            .bind(&failing)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(row.contains(&format!("href=\"/admin/deliveries/{last_failed}\"")));

    let row = row_of(&list, &paused);
    assert_eq!(cell(row, "state"), "paused");
    assert_eq!(cell(row, "num succeeded"), "0");
    assert_eq!(cell(row, "num rate"), "—");
    assert_eq!(cell(row, "num p50"), "—");
    assert_eq!(cell(row, "num unsent"), "2");
    assert_eq!(cell(row_of(&list, &disabled), "state"), "disabled");
    assert_eq!(cell(row_of(&list, &expiring), "state"), "expired");

    // Filtered by state, each shows its own; a bad state is named.
    let active = app
        .clients
        .in_listing_order(&[healthy.clone(), failing.clone()])
        .await;
    for (state, ids) in [
        ("active", active.iter().collect()),
        ("paused", vec![&paused]),
        ("disabled", vec![&disabled]),
        ("deleted", vec![&deleted]),
    ] {
        let (status, list) = get(
            &app,
            &cookie,
            &format!("/admin/subscriptions?state={state}"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{state}");
        assert_eq!(
            listed(&list),
            ids.iter().map(|id| (*id).clone()).collect::<Vec<_>>(),
            "{state}"
        );
        assert!(list.contains(&format!("<option value=\"{state}\" selected>")));
        for id in ids {
            assert_eq!(cell(row_of(&list, id), "state"), state);
        }
    }
    for (query, field) in [
        ("state=lost", "state"),
        ("state=Enabled", "state"),
        ("after=abc", "after"),
        ("after=6f0a3b4e-0000-4000-8000-000000000000", "after"),
    ] {
        let (status, page) = get(&app, &cookie, &format!("/admin/subscriptions?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(page.contains(&format!("{field}: ")), "{query}: {page}");
    }
}

#[tokio::test]
async fn the_subscriptions_list_pages_forwards() {
    let app = spawn_app().await;
    let mut made = Vec::new();
    for n in 0..25 {
        made.push(subscribe_path(&app, &format!("/hook/{n}")).await);
    }
    let cookie = sign_in(&app, &app.token).await;
    let (_, first) = get(&app, &cookie, "/admin/subscriptions").await;
    let first_ids = listed(&first);
    assert_eq!(first_ids.len(), 20);
    assert!(!first.contains("id=\"first\""));
    let next = href_of(&first, "next").expect("a Next link");
    let (status, second) = get(&app, &cookie, &next).await;
    assert_eq!(status, StatusCode::OK);
    let second_ids = listed(&second);
    assert_eq!(second_ids.len(), 5);
    assert!(href_of(&second, "next").is_none());
    assert_eq!(
        href_of(&second, "first").as_deref(),
        Some("/admin/subscriptions")
    );
    let all: Vec<String> = first_ids.into_iter().chain(second_ids).collect();
    assert_eq!(
        all,
        app.clients.in_listing_order(&made).await,
        "each once, oldest first"
    );

    // Paging keeps the filter.
    let (_, active) = get(&app, &cookie, "/admin/subscriptions?state=active").await;
    let next = href_of(&active, "next").expect("a Next link");
    assert!(
        next.starts_with("/admin/subscriptions?state=active&after="),
        "{next}"
    );
}

#[tokio::test]
async fn a_subscriptions_page_shows_its_settings_charts_and_failures() {
    let mut app = spawn_app_retrying("20ms,20ms,20ms,20ms").await;
    app.receiver.respond_by(Box::new(|request, _| {
        if request.uri.starts_with("/hook") {
            500
        } else {
            200
        }
    }));
    let id = subscribe_with(
        &app,
        proto::CreateSubscriptionRequest {
            destination_url: app.receiver.url("/hook"),
            collection: Collection::Leaves.into(),
            event_filter: EventFilter::All.into(),
            max_per_second: Some(20),
            ..Default::default()
        },
    )
    .await;
    let unlimited = subscribe_path(&app, "/other").await;
    app.put(one_morning(
        "hr-1",
        "2024-03-04",
        1,
        AbsenceStatus::Approved,
    ))
    .await
    .unwrap();
    eventually(
        "the delivery to fail",
        Duration::from_secs(15),
        async || {
            let failed = deliveries_of(&app, &id, "failed").await;
            ready_when(failed == 1, failed)
        },
    )
    .await;
    let (delivery,): (i64,) =
        sqlx::query_as("SELECT id FROM deliveries WHERE CAST(subscription_id AS TEXT) = $1")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();

    let cookie = sign_in(&app, &app.token).await;
    let path = format!("/admin/subscriptions/{id}");
    let response = client()
        .get(app.http(&path))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.starts_with("default-src 'none'; style-src 'self';"),
        "{csp}"
    );
    let page = response.text().await.unwrap();
    assert_self_contained(&page);
    assert!(
        !page.contains("style="),
        "no inline style: the CSP would drop it"
    );
    assert!(page.contains("id=\"subscription-state\">active<"));
    assert!(page.contains("id=\"max-per-second\">20 deliveries per second<"));
    assert!(page.contains("id=\"secret-age\">under a minute old"));
    assert!(!page.contains("id=\"paused-since\""));
    // The charts: inline SVG with a title and a description, and their table, hour by hour.
    for chart in ["attempts-chart", "latency-chart"] {
        assert!(page.contains(&format!("<svg class=\"chart\" id=\"{chart}\"")));
        assert!(page.contains(&format!("<title id=\"{chart}-title\">")));
        assert!(page.contains(&format!("<desc id=\"{chart}-desc\">")));
    }
    assert!(page.contains("0 succeeded and 5 failed in all"));
    let hours = page.split("<th scope=\"row\">").count() - 1;
    assert_eq!(hours, 24);
    assert!(page.contains("<rect class=\"bad\""));
    assert!(!page.contains("<rect class=\"ok\""));
    // Every failed attempt links to its delivery; the last error too.
    let failures = &page[page.find("id=\"failures\"").expect("the failures")..];
    assert_eq!(
        failures
            .matches(&format!("href=\"/admin/deliveries/{delivery}\""))
            .count(),
        5
    );
    assert!(failures.matches("HTTP 500").count() >= 5);
    assert!(page.contains(&format!(
        "id=\"last-error\"><a href=\"/admin/deliveries/{delivery}\">HTTP 500</a>"
    )));
    // Pause is offered, resume is not.
    assert!(page.contains(&format!("href=\"/admin/subscriptions/{id}/pause\"")));
    assert!(!page.contains(&format!("href=\"/admin/subscriptions/{id}/resume\"")));

    let (_, other) = get(&app, &cookie, &format!("/admin/subscriptions/{unlimited}")).await;
    assert!(other.contains("id=\"max-per-second\">unlimited<"));
    assert!(other.contains("id=\"no-failures\""));

    // The week: 168 hours.
    let (status, week) = get(&app, &cookie, &format!("{path}?window=week")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(week.split("<th scope=\"row\">").count() - 1, 168);
    assert!(
        week.contains("id=\"window-week\">")
            && week.contains("aria-current=\"page\" id=\"window-week\"")
    );
    let (status, bad) = get(&app, &cookie, &format!("{path}?window=month")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad.contains("window: "), "{bad}");

    // Unknown and malformed ids are not found.
    for missing in [
        "/admin/subscriptions/6f0a3b4e-0000-4000-8000-000000000000",
        "/admin/subscriptions/not-an-id",
        "/admin/subscriptions/6f0a3b4e-0000-4000-8000-000000000000/pause",
        "/admin/subscriptions/not-an-id/resume",
    ] {
        let (status, page) = get(&app, &cookie, missing).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
        assert!(page.contains("No such subscription."), "{missing}");
    }
}

#[tokio::test]
async fn pausing_in_the_console_holds_deliveries_and_resuming_sends_them_in_order() {
    let mut app = spawn_app().await;
    let id = subscribe_path(&app, "/hook").await;
    let cookie = sign_in(&app, &app.token).await;
    let page_path = format!("/admin/subscriptions/{id}");
    let pause = format!("{page_path}/pause");

    // The confirmation page, then the form: without its CSRF token or from elsewhere, refused.
    let (status, confirm) = get(&app, &cookie, &pause).await;
    assert_eq!(status, StatusCode::OK);
    assert_self_contained(&confirm);
    assert!(confirm.contains(&format!("action=\"{pause}\"")));
    let csrf = csrf_of(&confirm);
    let refused = post_action(&app, &cookie, &pause, "").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let refused = post_action(&app, &cookie, &pause, "forged").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let cross_site = client()
        .post(app.http(&pause))
        .header(COOKIE, &cookie)
        .header(ORIGIN, "http://evil.example")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    let (_, page) = get(&app, &cookie, &page_path).await;
    assert!(
        page.contains("id=\"subscription-state\">active<"),
        "nothing changed"
    );

    let paused = post_action(&app, &cookie, &pause, &csrf).await;
    assert_eq!(paused.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        paused.headers()[LOCATION],
        format!("{page_path}?done=paused").as_str()
    );
    let (_, page) = get(&app, &cookie, &format!("{page_path}?done=paused")).await;
    assert!(page.contains("id=\"subscription-state\">paused<"));
    assert!(page.contains("id=\"notice\">Paused:"));
    assert!(page.contains("id=\"paused-since\""));
    assert!(page.contains(&format!("href=\"{page_path}/resume\"")));
    assert!(!page.contains(&format!("href=\"{pause}\"")));

    // Changes made while paused: two revisions of four leaves, and one more absence.
    app.put(monday_to_tuesday("hr-1", 1, AbsenceStatus::Pending))
        .await
        .unwrap();
    app.put(monday_to_tuesday("hr-1", 2, AbsenceStatus::Approved))
        .await
        .unwrap();
    app.put(one_morning(
        "hr-2",
        "2024-03-06",
        1,
        AbsenceStatus::Approved,
    ))
    .await
    .unwrap();
    assert_eq!(app.count("deliveries").await, 9);
    app.receiver
        .assert_stays_at(0, Duration::from_millis(1500))
        .await;
    let (_, page) = get(&app, &cookie, &page_path).await;
    assert!(page.contains(">9 deliveries</a>"), "they wait");

    // Resume: what queued up arrives, in change order per leave.
    let resume = format!("{page_path}/resume");
    let (status, confirm) = get(&app, &cookie, &resume).await;
    assert_eq!(status, StatusCode::OK);
    let refused = post_action(&app, &cookie, &resume, "").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    app.receiver
        .assert_stays_at(0, Duration::from_millis(300))
        .await;
    let resumed = post_action(&app, &cookie, &resume, &csrf_of(&confirm)).await;
    assert_eq!(resumed.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        resumed.headers()[LOCATION],
        format!("{page_path}?done=resumed").as_str()
    );
    let received = app.receiver.wait_for(9, Duration::from_secs(15)).await;
    assert_eq!(received.len(), 9);

    let mut tracking = app.deliveries().await;
    let deliveries = tracking
        .list_deliveries(app.clients.request(proto::ListDeliveriesRequest {
            page_size: 100,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    let version: HashMap<i64, (String, u64)> = deliveries
        .iter()
        .map(|d| (d.id, (d.leave_id.clone(), d.change_version)))
        .collect();
    let mut per_leave: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for request in &received {
        let id: i64 = request.header("webhook-id").unwrap().parse().unwrap();
        let (leave, change) = version[&id].clone();
        per_leave.entry(leave).or_default().push(change);
    }
    assert_eq!(per_leave.len(), 5);
    for (leave, changes) in &per_leave {
        assert!(
            changes.windows(2).all(|w| w[0] < w[1]),
            "{leave}: {changes:?} out of order"
        );
    }
    eventually(
        "every delivery succeeded",
        Duration::from_secs(10),
        async || {
            let sent = deliveries_of(&app, &id, "succeeded").await;
            ready_when(sent == 9, sent)
        },
    )
    .await;
    let (_, page) = get(&app, &cookie, &format!("{page_path}?done=resumed")).await;
    assert!(page.contains("id=\"subscription-state\">active<"));
    assert!(page.contains("id=\"notice\">Resumed:"));
}

#[tokio::test]
async fn resuming_in_the_console_re_enables_a_disabled_subscription() {
    let mut app = spawn_app().await;
    let id = subscribe_path(&app, "/hook").await;
    app.clients
        .set_status(&id, SubscriptionStatus::Disabled)
        .await
        .unwrap();
    let cookie = sign_in(&app, &app.token).await;
    let page_path = format!("/admin/subscriptions/{id}");
    let (_, page) = get(&app, &cookie, &page_path).await;
    assert!(page.contains("id=\"subscription-state\">disabled<"));
    assert!(!page.contains(&format!("href=\"{page_path}/pause\"")));
    let resume = format!("{page_path}/resume");
    let (_, confirm) = get(&app, &cookie, &resume).await;
    let resumed = post_action(&app, &cookie, &resume, &csrf_of(&confirm)).await;
    assert_eq!(resumed.status(), StatusCode::SEE_OTHER);
    let (_, page) = get(&app, &cookie, &page_path).await;
    assert!(page.contains("id=\"subscription-state\">active<"));
    app.put(one_morning(
        "hr-1",
        "2024-03-04",
        1,
        AbsenceStatus::Approved,
    ))
    .await
    .unwrap();
    app.receiver.wait_for(1, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn another_tenants_subscriptions_are_neither_listed_nor_reachable_in_the_console() {
    let app = spawn_app().await;
    let id = subscribe_path(&app, "/hook").await;
    let other = app.token_with("globex", &Scope::ALL).await;
    let cookie = sign_in(&app, &other).await;

    let (status, list) = get(&app, &cookie, "/admin/subscriptions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains("id=\"no-subscriptions\""), "{list}");
    assert!(!list.contains(&id));
    for state in ["active", "paused", "disabled", "expired", "deleted"] {
        let (_, list) = get(
            &app,
            &cookie,
            &format!("/admin/subscriptions?state={state}"),
        )
        .await;
        assert!(!list.contains(&id), "{state}");
    }
    let (status, _) = get(&app, &cookie, &format!("/admin/subscriptions?after={id}")).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "not even as a page position"
    );

    let page_path = format!("/admin/subscriptions/{id}");
    for path in [
        page_path.clone(),
        format!("{page_path}?window=week"),
        format!("{page_path}/pause"),
        format!("{page_path}/resume"),
    ] {
        let (status, page) = get(&app, &cookie, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.contains("No such subscription."), "{path}");
    }
    // Its own CSRF token does not reach another tenant's subscription either.
    let (_, own) = get(&app, &cookie, "/admin/subscriptions").await;
    let csrf = csrf_of(&own);
    for action in ["pause", "resume"] {
        let response = post_action(&app, &cookie, &format!("{page_path}/{action}"), &csrf).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{action}");
    }
    let acme = sign_in(&app, &app.token).await;
    let (_, page) = get(&app, &acme, &page_path).await;
    assert!(
        page.contains("id=\"subscription-state\">active<"),
        "still active"
    );
}

#[tokio::test]
async fn the_subscriptions_pages_need_the_webhooks_scopes() {
    let app = spawn_app().await;
    let id = subscribe_path(&app, "/hook").await;
    let page_path = format!("/admin/subscriptions/{id}");

    // deliveries:read only: no link, no page.
    let reader = app.token_with("acme", &[Scope::DeliveriesRead]).await;
    let cookie = sign_in(&app, &reader).await;
    let (_, dashboard) = get(&app, &cookie, "/admin").await;
    assert!(!dashboard.contains("href=\"/admin/subscriptions\""));
    for path in ["/admin/subscriptions", page_path.as_str()] {
        let (status, page) = get(&app, &cookie, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.contains("webhooks:read"), "{path}");
    }

    // webhooks:read: the pages, but no action.
    let viewer = app
        .token_with("acme", &[Scope::DeliveriesRead, Scope::WebhooksRead])
        .await;
    let cookie = sign_in(&app, &viewer).await;
    let (status, page) = get(&app, &cookie, &page_path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains(&format!("href=\"{page_path}/pause\"")));
    let (status, _) = get(&app, &cookie, &format!("{page_path}/pause")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let refused = post_action(
        &app,
        &cookie,
        &format!("{page_path}/pause"),
        &csrf_of(&page),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.text().await.unwrap().contains("webhooks:write"));
    let (_, page) = get(&app, &cookie, &page_path).await;
    assert!(page.contains("id=\"subscription-state\">active<"));
}
