use super::*;
use absync_application::ports::TraceParent;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A sender allowed to reach the local test servers.
fn sender(timeout: Duration) -> HttpWebhookSender {
    HttpWebhookSender::new(SenderSettings {
        timeout,
        policy: DestinationPolicy::with_allowlist(&["127.0.0.0/8"]).unwrap(),
        ..SenderSettings::default()
    })
    .unwrap()
}

fn request(url: String) -> OutboundRequest {
    OutboundRequest {
        url,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            (
                "Authorization".into(),
                "Basic YWxhZGRpbjpvcGVuc2VzYW1l".into(),
            ),
            ("X-Version".into(), "1".into()),
            ("X-Resource-Type".into(), "leave".into()),
            ("X-Event".into(), "approved".into()),
        ],
        body: br#"{"id":"1-20240304-AM"}"#.to_vec(),
        traceparent: None,
    }
}

#[tokio::test]
async fn a_2xx_is_answered_and_the_receiver_sees_exactly_what_was_given() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = sender(Duration::from_secs(5))
        .send(request(format!("{}/hook", server.uri())))
        .await;
    assert_eq!(
        outcome,
        SendOutcome::Answered {
            status: 200,
            body_excerpt: b"ok".to_vec()
        }
    );
    assert!(outcome.is_success());
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let got = &received[0];
    assert_eq!(got.method.as_str(), "POST");
    assert_eq!(got.body, br#"{"id":"1-20240304-AM"}"#);
    for (name, value) in &request(String::new()).headers {
        assert_eq!(
            got.headers.get(name.as_str()).unwrap(),
            value.as_str(),
            "{name}"
        );
    }
    assert!(
        got.headers
            .get("user-agent")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("absync/")
    );
    assert!(got.headers.get("traceparent").is_none());
}

#[tokio::test]
async fn the_traceparent_given_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let traceparent =
        TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    let outcome = sender(Duration::from_secs(5))
        .send(OutboundRequest {
            traceparent: Some(traceparent.clone()),
            ..request(format!("{}/hook", server.uri()))
        })
        .await;
    assert!(outcome.is_success());
    let received = server.received_requests().await.unwrap();
    assert_eq!(
        received[0].headers.get("traceparent").unwrap(),
        traceparent.as_str()
    );
}

#[tokio::test]
async fn a_5xx_is_answered_with_its_body_excerpt() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("database down"))
        .mount(&server)
        .await;
    let outcome = sender(Duration::from_secs(5))
        .send(request(server.uri()))
        .await;
    assert_eq!(
        outcome,
        SendOutcome::Answered {
            status: 500,
            body_excerpt: b"database down".to_vec()
        }
    );
    assert!(!outcome.is_success());
}

#[tokio::test]
async fn redirects_are_answers_and_their_loopback_target_is_never_contacted() {
    let target = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&target)
        .await;
    for status in [301, 302, 303, 307, 308] {
        let server = MockServer::start().await;
        Mock::given(path("/old"))
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("Location", format!("{}/new", target.uri())),
            )
            .mount(&server)
            .await;
        let outcome = sender(Duration::from_secs(5))
            .send(request(format!("{}/old", server.uri())))
            .await;
        assert!(
            matches!(outcome, SendOutcome::Answered { status: got, .. } if got == status),
            "{status}: {outcome:?}"
        );
        assert!(!outcome.is_success());
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }
    assert!(target.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn only_the_first_4_kib_of_a_large_answer_are_kept() {
    let server = MockServer::start().await;
    let body: Vec<u8> = (0..100 * 1024).map(|i| (i % 251) as u8).collect();
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_bytes(body.clone()))
        .mount(&server)
        .await;
    let SendOutcome::Answered {
        status,
        body_excerpt,
    } = sender(Duration::from_secs(5))
        .send(request(server.uri()))
        .await
    else {
        panic!("expected an answer")
    };
    assert_eq!(status, 400);
    assert_eq!(body_excerpt, body[..EXCERPT_LIMIT]);
}

#[tokio::test]
async fn a_slow_receiver_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let started = Instant::now();
    let outcome = sender(Duration::from_millis(200))
        .send(request(server.uri()))
        .await;
    assert!(
        matches!(
            outcome,
            SendOutcome::NoAnswer {
                kind: SendErrorKind::Timeout,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let outcome = sender(Duration::from_secs(2))
        .send(request(format!("http://127.0.0.1:{port}/")))
        .await;
    assert!(
        matches!(
            outcome,
            SendOutcome::NoAnswer {
                kind: SendErrorKind::Connect,
                ..
            }
        ),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn https_to_a_plain_http_server_fails_without_an_answer() {
    let server = MockServer::start().await;
    let url = server.uri().replace("http://", "https://");
    let outcome = sender(Duration::from_secs(2)).send(request(url)).await;
    // rustls reads the plain HTTP server's answer as a corrupt TLS record: a handshake failure.
    assert!(
        matches!(
            outcome,
            SendOutcome::NoAnswer {
                kind: SendErrorKind::Tls,
                ..
            }
        ),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn invalid_headers_and_urls_are_refused_before_sending() {
    let server = MockServer::start().await;
    let mut bad = request(server.uri());
    bad.headers
        .push(("Authorization".into(), "Basic a\nInjected: yes".into()));
    let outcome = sender(Duration::from_secs(2)).send(bad).await;
    let SendOutcome::NoAnswer { kind, detail } = outcome else {
        panic!("expected a refusal")
    };
    assert_eq!(kind, SendErrorKind::Refused);
    assert!(
        !detail.contains("Injected"),
        "the value must not be echoed: {detail}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
    let outcome = sender(Duration::from_secs(2))
        .send(request("not a url".into()))
        .await;
    assert!(matches!(
        outcome,
        SendOutcome::NoAnswer {
            kind: SendErrorKind::Refused,
            ..
        }
    ));
}

#[tokio::test]
async fn internal_destinations_are_refused_at_connect_time() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let port = server.address().port();
    let strict = HttpWebhookSender::new(SenderSettings::default()).unwrap();
    // A name that resolves to loopback when the connection is made, and a loopback literal.
    for url in [
        format!("http://localhost:{port}/"),
        format!("http://127.0.0.1:{port}/"),
    ] {
        let outcome = strict.send(request(url.clone())).await;
        let SendOutcome::NoAnswer { kind, detail } = outcome else {
            panic!("{url} must be refused")
        };
        assert_eq!(kind, SendErrorKind::Refused, "{url}: {detail}");
        assert!(detail.contains("loopback"), "{detail}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// A sender whose resolver answers from `table`, under `policy`.
fn resolving_sender(
    policy: DestinationPolicy,
    table: crate::resolver::testing::TableResolver,
) -> HttpWebhookSender {
    HttpWebhookSender::new(SenderSettings {
        timeout: Duration::from_secs(5),
        policy,
        resolver: Arc::new(table),
        ..SenderSettings::default()
    })
    .unwrap()
}

#[tokio::test]
async fn a_name_resolving_to_a_6to4_loopback_address_is_refused_at_connect_time() {
    use crate::resolver::testing::TableResolver;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let url = format!("http://hooks.example:{}/", server.address().port());

    let strict = resolving_sender(
        DestinationPolicy::default(),
        TableResolver::default().resolving("hooks.example", &["2002:7f00:1::", "127.0.0.1"]),
    );
    let SendOutcome::NoAnswer { kind, detail } = strict.send(request(url.clone())).await else {
        panic!("{url} must be refused")
    };
    assert_eq!(kind, SendErrorKind::Refused, "{detail}");
    assert!(
        detail.contains("hooks.example resolves to 2002:7f00:1::, a 6to4 address of 127.0.0.1"),
        "{detail}"
    );

    // The same name through the same resolver reaches the receiver once its address is allowed:
    // the sender connects to what the injected resolver answers, and nothing else.
    let allowed = resolving_sender(
        DestinationPolicy::with_allowlist(&["127.0.0.0/8"]).unwrap(),
        TableResolver::default().resolving("hooks.example", &["127.0.0.1"]),
    );
    let outcome = allowed.send(request(url)).await;
    assert!(outcome.is_success(), "{outcome:?}");
}

#[tokio::test]
async fn a_failed_lookup_at_connect_time_is_a_connect_failure() {
    use crate::resolver::testing::{Answer, TableResolver};
    let sender = resolving_sender(
        DestinationPolicy::default(),
        TableResolver::default()
            .with("servfail.example", Answer::Unavailable)
            .with("gone.example", Answer::NoSuchName),
    );
    for (url, reason) in [
        ("http://servfail.example/", "does not answer now"),
        ("http://gone.example/", "no such name"),
    ] {
        let SendOutcome::NoAnswer { kind, detail } = sender.send(request(url.into())).await else {
            panic!("{url} has no answer")
        };
        assert_eq!(kind, SendErrorKind::Connect, "{url}: {detail}");
        assert!(detail.contains(reason), "{url}: {detail}");
    }
}
