use super::*;

fn valid() -> proto::Absence {
    proto::Absence {
        absence_id: "hr-1".into(),
        revision: 1,
        owner: Some(proto::Owner {
            id: 134,
            name: "Luca Pacioli".into(),
            email: "luca@example.com".into(),
            employee_number: "00001".into(),
            badge_number: None,
        }),
        leave_account: Some(proto::LeaveAccount {
            id: 1718,
            name: "Paid leave 2018".into(),
            category_id: 1,
            category_name: "Paid leave".into(),
        }),
        period: Some(proto::absence::Period::HalfDays(proto::HalfDayPeriod {
            start_date: "2024-03-04".into(),
            start_half: proto::HalfDay::Am.into(),
            end_date: "2024-03-05".into(),
            end_half: proto::HalfDay::Pm.into(),
        })),
        status: proto::AbsenceStatus::Approved.into(),
        created_at: "2024-03-01T09:00:00.000".into(),
        non_working_dates: vec!["2024-05-01".into()],
        ..Default::default()
    }
}

fn fields(absence: proto::Absence) -> Vec<String> {
    absence_from_proto(Some(absence))
        .unwrap_err()
        .into_iter()
        .map(|v| v.field)
        .collect()
}

#[test]
fn a_valid_absence_converts_and_round_trips() {
    let absence = absence_from_proto(Some(valid())).unwrap();
    assert_eq!(absence.owner.id(), 134);
    let back = absence_to_proto(&absence);
    assert_eq!(absence_from_proto(Some(back)).unwrap(), absence);
}

#[test]
fn a_missing_absence_is_named() {
    let err = absence_from_proto(None).unwrap_err();
    assert_eq!(err[0].field, "absence");
}

#[test]
fn every_bad_field_is_named() {
    let mut a = valid();
    a.owner = None;
    assert_eq!(fields(a), ["absence.owner"]);

    let mut a = valid();
    a.owner.as_mut().unwrap().id = 0;
    assert_eq!(fields(a), ["absence.owner.id"]);

    let mut a = valid();
    a.absence_id = String::new();
    a.status = 0;
    a.created_at = "yesterday".into();
    assert_eq!(
        fields(a),
        ["absence.absence_id", "absence.status", "absence.created_at"]
    );

    let mut a = valid();
    a.period = Some(proto::absence::Period::HalfDays(proto::HalfDayPeriod {
        start_date: "2024-03-05".into(),
        start_half: proto::HalfDay::Am.into(),
        end_date: "2024-03-04".into(),
        end_half: proto::HalfDay::Pm.into(),
    }));
    assert_eq!(fields(a), ["absence.half_days.end_date"]);

    let mut a = valid();
    a.period = Some(proto::absence::Period::HalfDays(proto::HalfDayPeriod {
        start_date: "2024-02-30".into(),
        start_half: 0,
        end_date: "2024-03-04".into(),
        end_half: proto::HalfDay::Pm.into(),
    }));
    assert_eq!(
        fields(a),
        [
            "absence.half_days.start_date",
            "absence.half_days.start_half"
        ]
    );

    let mut a = valid();
    a.period = None;
    a.non_working_dates = vec!["2024-13-01".into()];
    a.working_weekdays = vec![9];
    assert_eq!(
        fields(a),
        [
            "absence.period",
            "absence.working_weekdays[0]",
            "absence.non_working_dates[0]"
        ]
    );

    let mut a = valid();
    a.period = Some(proto::absence::Period::Hours(proto::HourPeriod {
        date: "2024-03-04".into(),
        start_minute: 1380,
        duration_minutes: 120,
    }));
    assert_eq!(fields(a), ["absence.hours.duration_minutes"]);
}

/// Found by fuzzing (`fuzz/`, target `put_absence`): this PutAbsenceRequest (2149-01-01 AM to
/// 2149-12-31 PM) was accepted, and its leaves after 2149-06-06 got the leave numbers of another
/// absence's leaves.
#[test]
fn a_put_absence_past_the_last_leave_id_date_is_refused_naming_the_field() {
    use prost::Message;
    let bytes: &[u8] = b"\x0a\xa7\x01\x0a\x04hr-1\x10\x01\x1a*\x08\x86\x01\x12\x0cLuca Pacioli\
        \x1a\x10luca@example.com\x22\x0500001\x22\x22\x08\xb6\x0d\x12\x0fPaid leave 2018\x18\x01\
        \x22\x0aPaid leave*\x07\x08\x0b\x12\x03VAC2\x02\x08\x0c:\x07\x08\x03\x12\x03DAYB\x1c\
        \x0a\x0a2149-01-01\x10\x01\x1a\x0a2149-12-31 \x02P\x02Z\x172024-03-01T09:00:00.000";
    let request = proto::PutAbsenceRequest::decode(bytes).unwrap();
    assert_eq!(
        fields(request.absence.unwrap()),
        ["absence.half_days.end_date"]
    );
}

#[test]
fn every_text_over_its_limit_is_named() {
    let mut a = valid();
    let owner = a.owner.as_mut().unwrap();
    owner.name = "x".repeat(201);
    owner.email = "e".repeat(255);
    owner.employee_number = "1".repeat(65);
    owner.badge_number = Some("b".repeat(65));
    let account = a.leave_account.as_mut().unwrap();
    account.name = "a".repeat(201);
    account.category_name = "c".repeat(201);
    let long_code = || {
        Some(proto::Definition {
            id: 1,
            code: Some("c".repeat(65)),
        })
    };
    a.requested_absence_definition = long_code();
    a.resulting_absence_definition = long_code();
    a.shift_definition = long_code();
    let err = absence_from_proto(Some(a)).unwrap_err();
    let named: Vec<&str> = err.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(
        named,
        [
            "absence.owner.name",
            "absence.owner.email",
            "absence.owner.employee_number",
            "absence.owner.badge_number",
            "absence.leave_account.name",
            "absence.leave_account.category_name",
            "absence.requested_absence_definition.code",
            "absence.resulting_absence_definition.code",
            "absence.shift_definition.code",
        ]
    );
    assert_eq!(err[0].description, "must be at most 200 characters");

    // At the limits, in characters of two bytes: accepted.
    let mut a = valid();
    a.owner.as_mut().unwrap().name = "é".repeat(200);
    a.shift_definition = Some(proto::Definition {
        id: 1,
        code: Some("é".repeat(64)),
    });
    assert!(absence_from_proto(Some(a)).is_ok());
}
