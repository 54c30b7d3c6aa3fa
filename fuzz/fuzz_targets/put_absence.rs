//! `PutAbsence`: bytes → `PutAbsenceRequest` (prost) → the adapter's conversion to a domain absence
//! (or field violations) → leaves → leave events → both payloads.

#![no_main]

use absync_adapter_grpc::fuzzing::{absence_from_proto, absence_to_proto};
use absync_adapter_grpc::proto::PutAbsenceRequest;
use absync_domain::{
    Absence, AbsenceNumber, AbsenceStatus, ChangeVersion, Deletion, DeletionReason, LeaveEvent,
    LocalTimestamp, Period, TenantId, derive_events, split_into_leaves,
};
use absync_fuzz::check_render;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = PutAbsenceRequest::decode(data) else {
        return;
    };
    match absence_from_proto(request.absence) {
        Ok(absence) => accepted(&absence),
        Err(violations) => {
            assert!(!violations.is_empty(), "a refusal names no field");
            for v in &violations {
                assert!(
                    v.field == "absence" || v.field.starts_with("absence."),
                    "violation names no request field: {v:?}"
                );
                assert!(!v.description.is_empty(), "violation says nothing: {v:?}");
            }
        }
    }
});

/// What the ingest use case does with an accepted absence, with the checks that must hold.
fn accepted(absence: &Absence) {
    // GetAbsence shows what was accepted; putting that back is accepted as the same absence.
    let shown = absence_to_proto(absence);
    match absence_from_proto(Some(shown)) {
        Ok(again) => assert_eq!(&again, absence, "GetAbsence's view converts differently"),
        Err(v) => panic!("GetAbsence's view of an accepted absence is refused: {v:?}"),
    }

    let tenant = TenantId::parse("acme").expect("a valid tenant");
    let reason = match absence.status {
        AbsenceStatus::Refused => DeletionReason::Refused,
        AbsenceStatus::Cancelled => DeletionReason::Cancelled,
        AbsenceStatus::Pending | AbsenceStatus::Approved => DeletionReason::NoLongerCovered,
    };
    let at = absence.cancelled_at.unwrap_or_else(|| {
        LocalTimestamp::parse("2026-11-30T12:00:00").expect("a valid timestamp")
    });
    let deletion = Deletion { reason, at };

    for number in [1, 78_287, AbsenceNumber::MAX] {
        let number = AbsenceNumber::new(number).expect("a valid absence number");
        let leaves = split_into_leaves(number, absence);
        assert!(leaves.len() <= 2 * 366, "{} leaves", leaves.len());
        assert!(
            leaves.windows(2).all(|w| w[0].key < w[1].key),
            "leaves are not in strict key order"
        );
        for leave in &leaves {
            assert_eq!(leave.key.absence(), number);
            assert!(absence.calendar.is_worked(leave.key.date()));
            match absence.period {
                Period::HalfDays(range) => {
                    assert!(range.start().date <= leave.key.date());
                    assert!(leave.key.date() <= range.end().date);
                    assert_eq!(leave.hours, None);
                }
                Period::Hours(slot) => {
                    assert_eq!(leave.key.date(), slot.date());
                    assert_eq!(
                        leave.hours,
                        Some((slot.start_minute(), slot.duration_minutes()))
                    );
                }
            }
        }

        // First ingest: one created or approved event per leave.
        let created = derive_events(&[], &leaves, deletion);
        assert_eq!(created.len(), leaves.len());
        assert!(created.iter().all(|r| r.event != LeaveEvent::Deleted));
        // The same content again: nothing.
        assert!(derive_events(&leaves, &leaves, deletion).is_empty());
        // Deleted: one deleted event per leave.
        let deleted = derive_events(&leaves, &[], deletion);
        assert_eq!(deleted.len(), leaves.len());
        assert!(deleted.iter().all(|r| r.event == LeaveEvent::Deleted));

        // Render the first and last few of each (a long absence has hundreds, all alike).
        for records in [&created, &deleted] {
            let n = records.len();
            for (i, record) in records.iter().enumerate() {
                if i < 4 || i + 4 >= n {
                    let version = ChangeVersion::new(i64::try_from(i).unwrap_or(i64::MAX) + 1);
                    check_render(record, &tenant, version);
                }
            }
        }
    }
}
