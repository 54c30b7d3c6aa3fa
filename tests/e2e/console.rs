//! The `/admin` web console over plain HTTP: sign-in, the session cookie, CSRF and origin checks,
//! tenant scoping, read-only tokens, bad filters, and pages with no script or external reference.
//! The browser walk-through is in `browser.rs`.

use crate::app::{TestApp, spawn_app_retrying};
use absync_adapter_grpc::proto::{AbsenceStatus, EventFilter, HalfDay};
use absync_domain::Scope;
use absync_e2e::fixtures::half_days;
use absync_e2e::wait::{eventually, ready_when};
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::{Client, StatusCode, redirect};
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

fn client() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in with `token`; returns the `Cookie` header value of the session.
async fn sign_in(app: &TestApp, token: &str) -> String {
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

async fn get(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, String) {
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
fn csrf_of(html: &str) -> String {
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
