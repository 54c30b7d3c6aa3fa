//! The web console in a real, headless Chromium with JavaScript switched off: an operator signs in,
//! finds two failed deliveries on the dashboard, re-syncs one against a receiver that now answers
//! 200 and sees it succeed, marks the other processed and sees the dashboard empty, then checks the
//! pages at a phone's width. Screenshots of each step land in `target/screenshots/`.

use crate::console::app_with_failed_deliveries;
use absync_e2e::browser::Browser;
use absync_e2e::wait::{eventually, ready_when};
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
