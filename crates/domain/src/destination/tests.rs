use super::*;
use proptest::prelude::*;
use std::net::Ipv6Addr;

fn check(policy: &DestinationPolicy, ip: &str) -> Result<(), ForbiddenAddress> {
    policy.check_ip(ip.parse().unwrap())
}

/// The class an address is refused as, with no allowlist.
fn class(ip: &str) -> Result<(), AddressClass> {
    check(&DestinationPolicy::default(), ip).map_err(|f| f.class)
}

/// The refusal of an IPv6 form, which must name the IPv4 address it carries.
fn embedded(ip: &str) -> (AddressClass, Ipv4Form, Ipv4Addr) {
    let refusal = check(&DestinationPolicy::default(), ip).unwrap_err();
    let inner = refusal
        .embedded
        .unwrap_or_else(|| panic!("{ip}: {refusal}"));
    (refusal.class, inner.form, inner.address)
}

fn v4(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

#[test]
fn internal_addresses_are_refused() {
    for (ip, expected) in [
        ("127.0.0.1", AddressClass::Loopback),
        ("::1", AddressClass::Loopback),
        ("10.0.0.1", AddressClass::Private),
        ("172.31.255.255", AddressClass::Private),
        ("192.168.1.1", AddressClass::Private),
        ("100.64.0.1", AddressClass::Private),
        ("169.254.169.254", AddressClass::LinkLocal),
        ("fe80::1", AddressClass::LinkLocal),
        ("fd12::1", AddressClass::UniqueLocal),
        ("224.0.0.1", AddressClass::Multicast),
        ("ff02::1", AddressClass::Multicast),
        ("255.255.255.255", AddressClass::Multicast),
        ("0.0.0.0", AddressClass::Unspecified),
        ("::", AddressClass::Unspecified),
    ] {
        assert_eq!(class(ip), Err(expected), "{ip}");
    }
}

#[test]
fn the_ipv4_special_purpose_blocks_that_are_not_globally_reachable_are_refused() {
    for (ip, expected) in [
        ("0.255.255.255", AddressClass::Unspecified),
        ("100.127.255.255", AddressClass::Private),
        ("192.0.0.8", AddressClass::Reserved),
        // PCP and TURN anycast: reachable per the registry, refused on purpose.
        ("192.0.0.9", AddressClass::Reserved),
        ("192.0.0.10", AddressClass::Reserved),
        ("192.0.0.170", AddressClass::Reserved),
        ("192.0.2.1", AddressClass::Documentation),
        ("192.88.99.1", AddressClass::Reserved),
        ("198.18.0.1", AddressClass::Benchmarking),
        ("198.19.255.254", AddressClass::Benchmarking),
        ("198.51.100.7", AddressClass::Documentation),
        ("203.0.113.9", AddressClass::Documentation),
        ("239.255.255.255", AddressClass::Multicast),
        ("240.0.0.1", AddressClass::Reserved),
        ("255.255.255.254", AddressClass::Reserved),
    ] {
        assert_eq!(class(ip), Err(expected), "{ip}");
    }
}

#[test]
fn the_ipv6_special_purpose_blocks_that_are_not_globally_reachable_are_refused() {
    for (ip, expected) in [
        ("100::1", AddressClass::Reserved),
        ("100:0:0:1::1", AddressClass::Reserved),
        ("2001:1::1", AddressClass::Reserved),
        ("2001:1::2", AddressClass::Reserved),
        ("2001:2::1", AddressClass::Benchmarking),
        ("2001:10::1", AddressClass::Reserved),
        ("2001:100::1", AddressClass::Reserved),
        ("2001:1ff::1", AddressClass::Reserved),
        ("2001:db8::1", AddressClass::Documentation),
        ("3fff::1", AddressClass::Documentation),
        ("3fff:fff::1", AddressClass::Documentation),
        ("5f00::1", AddressClass::Reserved),
        ("fc00::1", AddressClass::UniqueLocal),
        ("febf::1", AddressClass::LinkLocal),
        ("fec0::1", AddressClass::Reserved),
        ("ff0e::1", AddressClass::Multicast),
        // Outside global unicast (2000::/3), nothing is assigned for the Internet.
        ("4000::1", AddressClass::Reserved),
        ("1::1", AddressClass::Reserved),
        ("::1:0:0:1", AddressClass::Reserved),
        // SIIT's IPv4-translated form is no form this guard follows: outside 2000::/3.
        ("::ffff:0:808:808", AddressClass::Reserved),
    ] {
        assert_eq!(class(ip), Err(expected), "{ip}");
    }
}

#[test]
fn public_addresses_pass() {
    let p = DestinationPolicy::default();
    for ip in [
        "8.8.8.8",
        "1.1.1.1",
        "172.32.0.1",
        "100.128.0.1",
        "192.0.1.1",
        "192.31.196.1",
        "192.175.48.1",
        "198.20.0.1",
        "223.255.255.255",
        "2001:4860:4860::8888",
        "2606:4700::1111",
        "2001:200::1",
        "2001:3::1",
        "2001:4:112::1",
        "2001:20::1",
        "2001:30::1",
        "2620:4f:8000::1",
        "3fff:1000::1",
    ] {
        assert_eq!(check(&p, ip), Ok(()), "{ip}");
    }
}

#[test]
fn the_transition_forms_of_internal_ipv4_addresses_are_refused() {
    use Ipv4Form::{Compatible, LocalNat64, Mapped, Nat64, SixToFour, Teredo};
    for (ip, expected) in [
        (
            "::ffff:10.0.0.1",
            (AddressClass::Private, Mapped, "10.0.0.1"),
        ),
        (
            "::ffff:127.0.0.1",
            (AddressClass::Loopback, Mapped, "127.0.0.1"),
        ),
        (
            "::127.0.0.1",
            (AddressClass::Loopback, Compatible, "127.0.0.1"),
        ),
        (
            "::a9fe:a9fe",
            (AddressClass::LinkLocal, Compatible, "169.254.169.254"),
        ),
        (
            "64:ff9b::7f00:1",
            (AddressClass::Loopback, Nat64, "127.0.0.1"),
        ),
        (
            "64:ff9b::a9fe:a9fe",
            (AddressClass::LinkLocal, Nat64, "169.254.169.254"),
        ),
        (
            "64:ff9b:1::7f00:1",
            (AddressClass::Loopback, LocalNat64, "127.0.0.1"),
        ),
        (
            "64:ff9b:1:ffff::c0a8:1",
            (AddressClass::Private, LocalNat64, "192.168.0.1"),
        ),
        (
            "2002:7f00:1::",
            (AddressClass::Loopback, SixToFour, "127.0.0.1"),
        ),
        (
            "2002:a9fe:a9fe::",
            (AddressClass::LinkLocal, SixToFour, "169.254.169.254"),
        ),
        (
            "2002:a00:1:1::1",
            (AddressClass::Private, SixToFour, "10.0.0.1"),
        ),
        (
            "2002:c612:1::",
            (AddressClass::Benchmarking, SixToFour, "198.18.0.1"),
        ),
        (
            "2002:f000:1::",
            (AddressClass::Reserved, SixToFour, "240.0.0.1"),
        ),
        // Teredo: the client's address is the last 32 bits, inverted.
        (
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
            (AddressClass::Loopback, Teredo, "127.0.0.1"),
        ),
        (
            "2001:0:4136:e378:8000:63bf:5601:5601",
            (AddressClass::LinkLocal, Teredo, "169.254.169.254"),
        ),
    ] {
        let (class, form, address) = expected;
        assert_eq!(embedded(ip), (class, form, v4(address)), "{ip}");
    }
}

#[test]
fn the_transition_forms_of_public_ipv4_addresses_pass() {
    let p = DestinationPolicy::default();
    for ip in [
        "::ffff:8.8.8.8",
        "::8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::",
        "2002:808:808:1:2:3:4:5",
        // A Teredo client at 8.8.8.8 (inverted: f7f7:f7f7), with a public server.
        "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
    ] {
        assert_eq!(check(&p, ip), Ok(()), "{ip}");
    }
}

#[test]
fn the_local_use_nat64_prefix_is_refused_whatever_it_carries() {
    let p = DestinationPolicy::default();
    let refusal = check(&p, "64:ff9b:1::808:808").unwrap_err();
    assert_eq!(refusal, ForbiddenAddress::direct(AddressClass::Reserved));
    let allowed = DestinationPolicy::with_allowlist(&["64:ff9b:1::/48"]).unwrap();
    assert_eq!(check(&allowed, "64:ff9b:1::808:808"), Ok(()));
}

#[test]
fn a_refusal_names_the_form_and_the_ipv4_address() {
    let p = DestinationPolicy::default();
    assert_eq!(
        check(&p, "2002:7f00:1::").unwrap_err().to_string(),
        "a 6to4 address of 127.0.0.1, a loopback address"
    );
    assert_eq!(
        check(&p, "2001:0:4136:e378:8000:63bf:80ff:fffe")
            .unwrap_err()
            .to_string(),
        "a Teredo address of 127.0.0.1, a loopback address"
    );
    assert_eq!(
        check(&p, "240.0.0.1").unwrap_err().to_string(),
        "a special-purpose address that is not globally reachable"
    );
}

#[test]
fn the_allowlist_exempts_networks_and_hosts() {
    let p = DestinationPolicy::with_allowlist(&[
        "127.0.0.0/8",
        " fd00::/8 ",
        "hooks.internal",
        "10.1.2.3",
    ])
    .unwrap();
    assert_eq!(check(&p, "127.9.9.9"), Ok(()));
    // The allowlist matches the address as resolved, not the IPv4 address a form carries.
    assert_eq!(
        check(&p, "::ffff:127.0.0.1").map_err(|f| f.class),
        Err(AddressClass::Loopback)
    );
    assert_eq!(
        check(&p, "2002:7f00:1::").map_err(|f| f.class),
        Err(AddressClass::Loopback)
    );
    assert_eq!(check(&p, "fd12::1"), Ok(()));
    assert_eq!(check(&p, "10.1.2.3"), Ok(()));
    assert_eq!(
        check(&p, "10.1.2.4").map_err(|f| f.class),
        Err(AddressClass::Private)
    );
    assert!(p.allows_host("HOOKS.internal."));
    assert!(!p.allows_host("other.internal"));
    for bad in [
        "10.0.0.0/33",
        "::/129",
        "10.0.0.0/",
        "/8",
        "10.0.0/8",
        "not a host!",
    ] {
        assert!(DestinationPolicy::with_allowlist(&[bad]).is_err(), "{bad}");
    }
    assert!(
        DestinationPolicy::with_allowlist(&["0.0.0.0/0"])
            .unwrap()
            .check_ip("10.0.0.1".parse().unwrap())
            .is_ok()
    );
    // Host bits in a CIDR are ignored, as before.
    let loose = DestinationPolicy::with_allowlist(&["10.9.9.9/8"]).unwrap();
    assert_eq!(check(&loose, "10.0.0.1"), Ok(()));
}

/// Every form of every IPv4 address is judged as that address.
fn forms(ip: Ipv4Addr) -> [(Ipv4Form, Ipv6Addr); 5] {
    let bits = u128::from(u32::from(ip));
    [
        (Ipv4Form::Mapped, ip.to_ipv6_mapped()),
        (
            Ipv4Form::Nat64,
            Ipv6Addr::from((0x64_ff9b_u128 << 96) | bits),
        ),
        (
            Ipv4Form::SixToFour,
            Ipv6Addr::from((0x2002_u128 << 112) | (bits << 80)),
        ),
        (
            Ipv4Form::Teredo,
            Ipv6Addr::from(
                (0x2001_0000_4136_e378_8000_63bf_u128 << 32) | u128::from(!u32::from(ip)),
            ),
        ),
        (
            Ipv4Form::LocalNat64,
            Ipv6Addr::from((0x64_ff9b_0001_u128 << 80) | bits),
        ),
    ]
}

/// Any IPv4 address, half of them drawn inside the refused blocks.
fn any_v4() -> impl Strategy<Value = Ipv4Addr> {
    let refused = (0..special::V4_REFUSED.len(), any::<u32>()).prop_map(|(i, low)| {
        let (net, _) = special::V4_REFUSED[i];
        Ipv4Addr::from(u32::from(net.network()) | (low & u32::from(net.hostmask())))
    });
    prop_oneof![any::<u32>().prop_map(Ipv4Addr::from), refused]
}

proptest! {
    #[test]
    fn a_transition_form_is_judged_by_the_ipv4_address_it_carries(ip in any_v4()) {
        let p = DestinationPolicy::default();
        let direct = p.check_ip(IpAddr::V4(ip)).map_err(|f| f.class);
        for (form, v6) in forms(ip) {
            let got = p.check_ip(IpAddr::V6(v6));
            match (direct, got) {
                (Ok(()), Ok(())) => prop_assert_ne!(form, Ipv4Form::LocalNat64),
                (Ok(()), Err(refusal)) => {
                    prop_assert_eq!(form, Ipv4Form::LocalNat64);
                    prop_assert_eq!(refusal, ForbiddenAddress::direct(AddressClass::Reserved));
                }
                (Err(class), Err(refusal)) => prop_assert_eq!(
                    refusal,
                    ForbiddenAddress { class, embedded: Some(EmbeddedIpv4 { form, address: ip }) }
                ),
                (Err(class), Ok(())) => prop_assert!(false, "{v6} ({form} of {ip}, {class}) passed"),
            }
        }
    }
}
