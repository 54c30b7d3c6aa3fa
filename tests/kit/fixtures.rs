//! Absences to put: built as protobuf messages, as a caller would.

use absync_adapter_grpc::proto;

/// An absence of Luca Pacioli, half-days from `start` to `end` (`("2024-03-04", AM)`).
#[must_use]
pub fn half_days(
    id: &str,
    revision: u64,
    status: proto::AbsenceStatus,
    start: (&str, proto::HalfDay),
    end: (&str, proto::HalfDay),
) -> proto::Absence {
    proto::Absence {
        absence_id: id.to_owned(),
        revision,
        owner: Some(proto::Owner {
            id: 134,
            name: "Luca Pacioli".into(),
            email: "luca.pacioli@example.com".into(),
            employee_number: "00001".into(),
            badge_number: None,
        }),
        leave_account: Some(proto::LeaveAccount {
            id: 1718,
            name: "Paid leave 2024".into(),
            category_id: 1,
            category_name: "Paid leave".into(),
        }),
        period: Some(proto::absence::Period::HalfDays(proto::HalfDayPeriod {
            start_date: start.0.to_owned(),
            start_half: start.1.into(),
            end_date: end.0.to_owned(),
            end_half: end.1.into(),
        })),
        status: status.into(),
        created_at: "2024-02-20T09:00:00.000".into(),
        approved_at: if status == proto::AbsenceStatus::Approved {
            "2024-02-21T10:30:15.250".into()
        } else {
            String::new()
        },
        ..Default::default()
    }
}

/// An absence of one leave: the morning of `day` (`"2024-03-04"`).
#[must_use]
pub fn one_morning(
    id: &str,
    day: &str,
    revision: u64,
    status: proto::AbsenceStatus,
) -> proto::Absence {
    half_days(
        id,
        revision,
        status,
        (day, proto::HalfDay::Am),
        (day, proto::HalfDay::Am),
    )
}

/// An APPROVED absence from Monday 2024-03-04 AM to Tuesday 2024-03-05 PM: four leaves.
#[must_use]
pub fn monday_to_tuesday(id: &str, revision: u64, status: proto::AbsenceStatus) -> proto::Absence {
    half_days(
        id,
        revision,
        status,
        ("2024-03-04", proto::HalfDay::Am),
        ("2024-03-05", proto::HalfDay::Pm),
    )
}
