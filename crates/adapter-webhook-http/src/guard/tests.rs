use super::*;
use crate::resolver::testing::{Answer, TableResolver};

fn url(text: &str) -> DestinationUrl {
    DestinationUrl::parse(text, true).unwrap()
}

/// A guard with no allowlist whose resolver answers from `table`.
fn strict(table: TableResolver) -> DnsGuard {
    DnsGuard::with_resolver(DestinationPolicy::default(), Arc::new(table))
}

fn refusal(result: Result<(), DestinationCheckError>) -> String {
    match result {
        Err(DestinationCheckError::Refused(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn internal_literals_are_refused_unless_allowlisted() {
    // No name here: a resolver that knows none proves no lookup is made.
    let guard = strict(TableResolver::default());
    for target in [
        "http://127.0.0.1/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:10.0.0.1]/",
        "https://[2002:7f00:1::]/",
        "https://[2002:a9fe:a9fe::]/",
        "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
        "https://[::127.0.0.1]/",
        "https://[64:ff9b:1::7f00:1]/",
        "https://[64:ff9b::a9fe:a9fe]/",
        "https://198.18.0.1/",
        "https://240.0.0.1/",
    ] {
        let why = refusal(guard.check(&url(target)).await);
        assert!(why.contains(" is a"), "{target}: {why}");
    }
    for public in ["https://8.8.8.8/", "https://[2002:808:808::]/"] {
        assert_eq!(guard.check(&url(public)).await, Ok(()), "{public}");
    }
    let lenient = DnsGuard::with_resolver(
        DestinationPolicy::with_allowlist(&["127.0.0.0/8", "::1/128"]).unwrap(),
        Arc::new(TableResolver::default()),
    );
    assert_eq!(lenient.check(&url("http://127.0.0.1:9/")).await, Ok(()));
    refusal(lenient.check(&url("http://[::ffff:10.0.0.1]/")).await);
}

#[tokio::test]
async fn every_address_a_name_resolves_to_is_checked() {
    let table = TableResolver::default()
        .resolving("six-to-four.example", &["2002:7f00:1::"])
        .resolving("teredo.example", &["2001:0:4136:e378:8000:63bf:80ff:fffe"])
        .resolving("mixed.example", &["8.8.8.8", "2001:4860::1", "10.0.0.1"])
        .resolving("public.example", &["8.8.8.8", "2002:808:808::"])
        .resolving("hooks.internal", &["10.1.2.3"]);
    let guard = strict(table);
    let why = refusal(guard.check(&url("https://six-to-four.example/")).await);
    assert_eq!(
        why,
        "six-to-four.example resolves to 2002:7f00:1::, a 6to4 address of 127.0.0.1, a loopback address"
    );
    let why = refusal(guard.check(&url("https://teredo.example/")).await);
    assert!(why.contains("a Teredo address of 127.0.0.1"), "{why}");
    let why = refusal(guard.check(&url("https://mixed.example/")).await);
    assert!(why.contains("10.0.0.1, a private address"), "{why}");
    assert_eq!(guard.check(&url("https://public.example/")).await, Ok(()));
    refusal(guard.check(&url("https://hooks.internal/")).await);

    // An allowlisted name is not checked.
    let table = TableResolver::default().resolving("hooks.internal", &["10.1.2.3"]);
    let lenient = DnsGuard::with_resolver(
        DestinationPolicy::with_allowlist(&["hooks.internal"]).unwrap(),
        Arc::new(table),
    );
    assert_eq!(lenient.check(&url("https://hooks.internal/")).await, Ok(()));
}

#[tokio::test]
async fn a_name_that_does_not_exist_is_refused() {
    let table = TableResolver::default()
        .with("gone.example", Answer::NoSuchName)
        .with("empty.example", Answer::Addresses(Vec::new()));
    let guard = strict(table);
    let why = refusal(guard.check(&url("https://gone.example/hook")).await);
    assert!(
        why.starts_with("gone.example cannot be resolved: no such name"),
        "{why}"
    );
    let why = refusal(guard.check(&url("https://empty.example/hook")).await);
    assert!(why.contains("no such name (no address)"), "{why}");
}

#[tokio::test]
async fn a_resolver_that_cannot_answer_leaves_the_destination_unchecked() {
    let table = TableResolver::default()
        .with("servfail.example", Answer::Unavailable)
        .with("slow.example", Answer::Hang);
    let mut guard = strict(table);
    guard.lookup_timeout = Duration::from_millis(50);
    for (target, expected) in [
        (
            "https://servfail.example/",
            "servfail.example cannot be resolved: the resolver does not answer now (Temporary failure in name resolution)",
        ),
        (
            "https://slow.example/",
            "slow.example cannot be resolved: the resolver does not answer now (no answer within 0.05s)",
        ),
    ] {
        assert_eq!(
            guard.check(&url(target)).await,
            Err(DestinationCheckError::Unavailable(expected.into())),
            "{target}"
        );
    }
}

#[tokio::test]
async fn the_connect_time_resolver_refuses_forbidden_answers_and_reports_failed_lookups() {
    let table = TableResolver::default()
        .resolving("six-to-four.example", &["2002:7f00:1::"])
        .resolving("public.example", &["2002:808:808::"])
        .with("servfail.example", Answer::Unavailable);
    let resolver = GuardedResolver::new(Arc::new(DestinationPolicy::default()), Arc::new(table));
    let name = |n: &str| n.parse::<Name>().unwrap();

    let err = resolver
        .resolve(name("six-to-four.example"))
        .await
        .err()
        .unwrap();
    let forbidden = err.downcast_ref::<ForbiddenDestination>().unwrap();
    assert!(
        forbidden.0.contains("6to4 address of 127.0.0.1"),
        "{forbidden}"
    );

    let addrs: Vec<SocketAddr> = resolver
        .resolve(name("public.example"))
        .await
        .unwrap()
        .collect();
    assert_eq!(addrs, vec!["[2002:808:808::]:0".parse().unwrap()]);

    // A failed lookup is no refusal: the sender reports a connect failure and retries later.
    let err = resolver
        .resolve(name("servfail.example"))
        .await
        .err()
        .unwrap();
    assert!(!err.is::<ForbiddenDestination>());
    assert!(err.to_string().contains("does not answer now"), "{err}");
}
