//! The web console in a real, headless Chromium with JavaScript switched off: an operator signs in,
//! finds two failed deliveries on the dashboard, re-syncs one against a receiver that now answers
//! 200 and sees it succeed, marks the other processed and sees the dashboard empty, then checks the
//! pages at a phone's width. Another operator reads a subscription's health, its chart and the
//! chart's table, and pauses and resumes it. Screenshots of each step land in
//! `target/screenshots/`.

use crate::app::spawn_app;
use crate::console::app_with_failed_deliveries;
use absync_adapter_grpc::proto::{AbsenceStatus, EventFilter, HalfDay};
use absync_e2e::browser::Browser;
use absync_e2e::fixtures::half_days;
use absync_e2e::wait::{eventually, ready_when};
use chrono::{DateTime, DurationRound, Utc};
use fantoccini::Locator;
use std::time::Duration;

const PHONE: (u32, u32) = (390, 844);

/// Reloads the page until the element `css` shows `text`.
async fn reload_until(browser: &Browser, css: &str, text: &str) {
    let mut first = true;
    eventually(
        &format!("{css} to show {text:?}"),
        Duration::from_secs(15),
        async || {
            if !std::mem::take(&mut first) {
                browser.client.refresh().await.unwrap();
            }
            let shown = browser.text(css).await;
            ready_when(shown == text, shown)
        },
    )
    .await;
}

/// Every element matching `css` lies within `width` pixels: nothing needs a sideways scroll.
async fn assert_fits(browser: &Browser, css: &str, width: u32) {
    let elements = browser.client.find_all(Locator::Css(css)).await.unwrap();
    assert!(!elements.is_empty(), "no {css}");
    for element in elements {
        let (x, _, w, _) = element.rectangle().await.unwrap();
        assert!(
            x >= 0.0 && x + w <= f64::from(width) + 0.5,
            "{css} spans {x}..{} at a width of {width}",
            x + w
        );
    }
}

#[tokio::test]
async fn an_operator_resyncs_and_marks_processed_in_a_browser_without_javascript() {
    let (app, failed) = app_with_failed_deliveries(2).await;
    let browser = Browser::start().await;
    let c = &browser.client;
    c.set_window_size(1280, 900).await.unwrap();

    // Signed out, the console sends us to the sign-in page.
    c.goto(&app.http("/admin")).await.unwrap();
    assert_eq!(browser.path().await, "/admin/login");
    browser.screenshot("01-sign-in").await;
    browser.type_into("#token", &app.token).await;
    browser.click("#sign-in").await;

    // The dashboard lists the subscription with its two failed deliveries.
    browser.wait_for_path("/admin").await;
    assert!(browser.text("#pending-total").await.starts_with("2 failed"));
    assert_eq!(browser.text("#pending-tasks td.num").await, "2");
    browser.screenshot("02-dashboard").await;

    // Its failed deliveries, then the first one.
    browser.click("#pending-tasks td.actions a").await;
    browser.wait_for_path("/admin/deliveries").await;
    assert_eq!(
        c.find_all(Locator::Css("#deliveries tbody tr"))
            .await
            .unwrap()
            .len(),
        2
    );
    browser.screenshot("03-failed-deliveries").await;
    browser
        .click(&format!("a[href='/admin/deliveries/{}']", failed[0]))
        .await;
    assert_eq!(browser.text("#delivery-status").await, "failed");
    let headers = browser.text("#request-headers").await;
    assert!(headers.contains("Authorization Basic ****"), "{headers}");
    assert!(!headers.contains("YWxhZGRpbjpvcGVuc2VzYW1l"));
    let body = browser.text("#request-body").await;
    assert!(body.contains("\"isAm\": true"), "pretty JSON: {body}");
    assert_eq!(
        c.find_all(Locator::Css("#attempts li"))
            .await
            .unwrap()
            .len(),
        5,
        "every attempt is on the timeline"
    );
    browser.screenshot("04-delivery-failed").await;

    // The receiver is fixed; re-sync, confirm, and watch it succeed.
    app.receiver.respond_with(200);
    browser.click("#resync").await;
    browser.screenshot("05-confirm-resync").await;
    browser.click("#confirm").await;
    browser
        .wait_for_path(&format!("/admin/deliveries/{}", failed[0]))
        .await;
    assert!(browser.text("#notice").await.starts_with("Re-sync queued"));
    reload_until(&browser, "#delivery-status", "succeeded").await;
    let delivered = app.receiver.received();
    let last = delivered.last().unwrap();
    assert_eq!(
        last.header("webhook-id"),
        Some(failed[0].to_string().as_str())
    );
    browser.screenshot("06-delivery-succeeded").await;

    // The other one is marked processed with a note.
    c.goto(&app.http(&format!("/admin/deliveries/{}", failed[1])))
        .await
        .unwrap();
    browser.click("#mark-processed").await;
    browser
        .type_into("#note", "Entered by hand in the payroll tool")
        .await;
    browser.screenshot("07-confirm-mark-processed").await;
    browser.click("#confirm").await;
    assert_eq!(browser.text("#delivery-status").await, "processed");
    assert_eq!(
        browser.text("#processed-note").await,
        "Entered by hand in the payroll tool"
    );

    // The filter form finds it among the processed ones.
    browser
        .click("header nav a[href='/admin/deliveries']")
        .await;
    browser
        .click("select[name=status] option[value=processed]")
        .await;
    browser.click("form.filters button").await;
    eventually(
        "the filter to be submitted",
        Duration::from_secs(10),
        async || {
            let url = c.current_url().await.unwrap();
            let query = url.query().map(str::to_owned);
            let submitted =
                query.as_deref() == Some("subscription=&status=processed&leave=&event=&since=");
            ready_when(submitted, query)
        },
    )
    .await;
    let rows = c
        .find_all(Locator::Css("#deliveries tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);

    // Nothing is left on the dashboard.
    browser.click("header nav a[href='/admin']").await;
    assert!(
        browser
            .text("#no-pending-tasks")
            .await
            .starts_with("No failed deliveries")
    );
    browser.screenshot("08-dashboard-empty").await;

    // At a phone's width the list and a delivery fit the screen.
    c.set_window_size(PHONE.0, PHONE.1).await.unwrap();
    c.goto(&app.http("/admin/deliveries")).await.unwrap();
    assert_fits(&browser, "#deliveries tbody tr", PHONE.0).await;
    assert_fits(&browser, "form.filters", PHONE.0).await;
    browser.screenshot("09-phone-deliveries").await;
    c.goto(&app.http(&format!("/admin/deliveries/{}", failed[0])))
        .await
        .unwrap();
    assert_fits(&browser, "dl.facts", PHONE.0).await;
    assert_fits(&browser, "#resync", PHONE.0).await;
    assert_fits(&browser, "#request-headers", PHONE.0).await;
    browser.screenshot("10-phone-delivery").await;

    // Signing out ends the session.
    browser.click("header form.signout button").await;
    browser.wait_for_path("/admin/login").await;
    c.goto(&app.http("/admin")).await.unwrap();
    assert_eq!(browser.path().await, "/admin/login");
    browser.close().await;
}

/// The start of the hour of `at`.
fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(chrono::Duration::hours(1)).unwrap()
}

/// The cells of the first row of table `css` whose heading is `heading`.
async fn row_cells(browser: &Browser, css: &str, heading: &str) -> Option<Vec<String>> {
    let rows = browser
        .client
        .find_all(Locator::Css(&format!("{css} tbody tr")))
        .await
        .unwrap();
    for row in rows {
        let th = row.find(Locator::Css("th")).await.unwrap();
        if th.text().await.unwrap() == heading {
            let mut cells = Vec::new();
            for td in row.find_all(Locator::Css("td")).await.unwrap() {
                cells.push(td.text().await.unwrap());
            }
            return Some(cells);
        }
    }
    None
}

#[tokio::test]
async fn an_operator_reads_a_subscriptions_health_and_pauses_it_in_a_browser_without_javascript() {
    let mut app = spawn_app().await;
    // The first three requests are answered 500; they are retried only minutes later.
    app.receiver.respond_by(Box::new(
        |_, before| {
            if before.len() < 3 { 500 } else { 200 }
        },
    ));
    let subscription = app.subscribe(EventFilter::All).await;

    // The 15 attempts must fall within one hour: close to its end, wait for the next.
    let now = Utc::now();
    let left = hour_of(now) + chrono::Duration::hours(1) - now;
    if left < chrono::Duration::seconds(30) {
        tokio::time::sleep(left.to_std().unwrap() + Duration::from_secs(1)).await;
    }
    let hour = hour_of(Utc::now());
    // Three working weeks less a half-day: 15 leaves, 15 deliveries.
    app.put(half_days(
        "hr-1",
        1,
        AbsenceStatus::Approved,
        ("2024-03-04", HalfDay::Am),
        ("2024-03-13", HalfDay::Am),
    ))
    .await
    .unwrap();
    assert_eq!(app.count("deliveries").await, 15);
    eventually(
        "15 attempts recorded",
        Duration::from_secs(15),
        async || {
            let n = app.count("delivery_attempts").await;
            ready_when(n == 15, n)
        },
    )
    .await;
    assert_eq!(hour, hour_of(Utc::now()), "the attempts took under 30 s");
    let answers: Vec<u16> = app.receiver.received().iter().map(|r| r.status).collect();
    assert_eq!(answers.iter().filter(|s| **s == 500).count(), 3);
    assert_eq!(answers.iter().filter(|s| **s == 200).count(), 12);

    let browser = Browser::start().await;
    let c = &browser.client;
    c.set_window_size(1280, 900).await.unwrap();
    c.goto(&app.http("/admin/login")).await.unwrap();
    browser.type_into("#token", &app.token).await;
    browser.click("#sign-in").await;
    browser.wait_for_path("/admin").await;

    // The list: one row, with the day's figures.
    browser
        .click("header nav a[href='/admin/subscriptions']")
        .await;
    browser.wait_for_path("/admin/subscriptions").await;
    let row = format!("#subscriptions tr[data-subscription='{}']", subscription.id);
    assert_eq!(browser.text(&format!("{row} td.state")).await, "active");
    assert_eq!(browser.text(&format!("{row} td.succeeded")).await, "12");
    assert_eq!(browser.text(&format!("{row} td.failed")).await, "3");
    assert_eq!(browser.text(&format!("{row} td.rate")).await, "80.0 %");
    assert!(
        browser
            .text(&format!("{row} td.last-error"))
            .await
            .starts_with("HTTP 500")
    );
    assert_eq!(
        browser.text(&format!("{row} td.unsent")).await,
        "3",
        "the failed ones wait for their retry"
    );
    browser.screenshot("11-subscriptions").await;

    // The subscription's page: its chart and the chart's text equivalents.
    browser.click(&format!("{row} a.subscription-link")).await;
    browser
        .wait_for_path(&format!("/admin/subscriptions/{}", subscription.id))
        .await;
    assert_eq!(browser.text("#day-succeeded").await, "12");
    assert_eq!(browser.text("#day-failed").await, "3");
    c.set_window_size(1280, 1700).await.unwrap();
    browser.screenshot("12-subscription").await;
    let chart = browser.element("#attempts-chart").await;
    let (_, _, width, height) = chart.rectangle().await.unwrap();
    assert!(
        width > 600.0 && height > 100.0,
        "the chart is drawn: {width}×{height}"
    );
    // The table, opened without script, says 12 and 3 in the hour of the attempts; the page's own
    // last row is its current hour.
    browser.click("#hours-summary").await;
    let label = hour.format("%Y-%m-%d %H:00").to_string();
    let cells = row_cells(&browser, "#hours", &label)
        .await
        .unwrap_or_else(|| panic!("no row for {label}"));
    assert_eq!(cells[..2], ["12", "3"], "{label}: {cells:?}");
    let rows = c
        .find_all(Locator::Css("#hours tbody tr th"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 24);
    let current = rows.last().unwrap().text().await.unwrap();
    let desc = browser
        .element("#attempts-chart-desc")
        .await
        .prop("textContent")
        .await
        .unwrap()
        .unwrap_or_default();
    if current == label {
        assert!(
            desc.ends_with(&format!(
                "Current hour ({} UTC): 12 succeeded, 3 failed.",
                hour.format("%H:00")
            )),
            "{desc}"
        );
    } else {
        // The page was taken in the next hour: the attempts' hour is the one before it.
        assert!(desc.contains("12 succeeded and 3 failed in all"), "{desc}");
    }
    browser.screenshot("13-subscription-table").await;
    // The 7-day view.
    browser.click("#window-week").await;
    browser
        .wait_for_path(&format!("/admin/subscriptions/{}", subscription.id))
        .await;
    assert!(browser.text("#hours-summary").await.contains("168 hours"));
    browser.screenshot("13-subscription-week").await;

    // At a phone's width the list and the page fit the screen.
    c.set_window_size(PHONE.0, PHONE.1).await.unwrap();
    c.goto(&app.http("/admin/subscriptions")).await.unwrap();
    assert_fits(&browser, "#subscriptions tbody tr", PHONE.0).await;
    assert_fits(&browser, "form.filters", PHONE.0).await;
    browser.screenshot("14-phone-subscriptions").await;
    c.goto(&app.http(&format!("/admin/subscriptions/{}", subscription.id)))
        .await
        .unwrap();
    assert_fits(&browser, "dl.facts", PHONE.0).await;
    assert_fits(&browser, "svg.chart", PHONE.0).await;
    assert_fits(&browser, "#failures tbody tr", PHONE.0).await;
    browser.screenshot("15-phone-subscription").await;
    // The charts, scrolled to by the page's own anchor.
    c.goto(&app.http(&format!(
        "/admin/subscriptions/{}#attempts",
        subscription.id
    )))
    .await
    .unwrap();
    browser.screenshot("16-phone-subscription-charts").await;

    // Pause, then resume, each confirmed.
    c.set_window_size(1280, 900).await.unwrap();
    browser.click("#pause").await;
    browser.screenshot("17-confirm-pause").await;
    browser.click("#confirm").await;
    assert_eq!(browser.text("#subscription-state").await, "paused");
    assert!(browser.text("#notice").await.starts_with("Paused"));
    browser.click("#resume").await;
    browser.click("#confirm").await;
    assert_eq!(browser.text("#subscription-state").await, "active");
    assert!(browser.text("#notice").await.starts_with("Resumed"));
    browser.close().await;
}
