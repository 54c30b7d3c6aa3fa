use super::*;
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
