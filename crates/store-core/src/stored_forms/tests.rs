//! The stored forms against rows the stores wrote: version 1 reads every sample into a valid domain
//! value and writes that value back byte for byte, so the format cannot drift.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use super::v1::{AbsenceStatusV1, DeletionReasonV1, HalfV1, LeaveEventV1, LeaveStateV1, WeekdayV1};
use super::{AbsenceForm, LeaveEventRecordForm, LeaveForm, absence_json, leave_json, record_json};
use absync_application::ports::StoreError;
use absync_domain::{
    Absence, AbsenceStatus, DeletionReason, Half, Leave, LeaveEvent, LeaveEventRecord, LeaveState,
};
use chrono::Weekday;
use serde::Serialize;

/// The rows of version 1, shared with the store contract, which inserts them into each store.
#[path = "../../../store-contract/src/stored_format/v1.rs"]
#[allow(dead_code, unreachable_pub)]
mod samples;

#[test]
fn every_absence_of_version_1_reads_and_writes_back_as_it_was() {
    let bodies: Vec<&str> = samples::ABSENCES.iter().filter_map(|a| a.body).collect();
    assert_eq!(bodies.len(), 2);
    for text in bodies {
        let form: AbsenceForm = serde_json::from_str(text).unwrap();
        let absence = Absence::try_from(form).unwrap();
        assert_eq!(absence_json(&absence).unwrap(), text);
    }
}

#[test]
fn every_leave_of_version_1_reads_and_writes_back_as_it_was() {
    assert_eq!(samples::LEAVES.len(), 2);
    for row in samples::LEAVES {
        let form: LeaveForm = serde_json::from_str(row.leave).unwrap();
        let leave = Leave::try_from(form).unwrap();
        assert_eq!(leave_json(&leave).unwrap(), row.leave);
    }
}

#[test]
fn every_leave_event_of_version_1_reads_and_writes_back_as_it_was() {
    assert_eq!(samples::EVENTS.len(), 10);
    for row in samples::EVENTS {
        let form: LeaveEventRecordForm = serde_json::from_str(row.record).unwrap();
        let record = LeaveEventRecord::try_from(form).unwrap();
        assert_eq!(record.key().to_string(), row.leave_key);
        assert_eq!(record.event.as_str(), row.event);
        assert_eq!(record_json(&record).unwrap(), row.record);
    }
}

fn json(value: impl Serialize) -> String {
    serde_json::to_string(&value).unwrap()
}

/// Every variant, also those no sample holds.
#[test]
fn every_enum_keeps_its_spelling() {
    for (status, text) in [
        (AbsenceStatus::Pending, "Pending"),
        (AbsenceStatus::Approved, "Approved"),
        (AbsenceStatus::Refused, "Refused"),
        (AbsenceStatus::Cancelled, "Cancelled"),
    ] {
        assert_eq!(json(AbsenceStatusV1::from(status)), format!("\"{text}\""));
    }
    for (state, text) in [
        (LeaveState::Pending, "Pending"),
        (LeaveState::Approved, "Approved"),
    ] {
        assert_eq!(json(LeaveStateV1::from(state)), format!("\"{text}\""));
    }
    for (event, text) in [
        (LeaveEvent::Created, "Created"),
        (LeaveEvent::Approved, "Approved"),
        (LeaveEvent::Deleted, "Deleted"),
    ] {
        assert_eq!(json(LeaveEventV1::from(event)), format!("\"{text}\""));
    }
    for (reason, text) in [
        (DeletionReason::Refused, "Refused"),
        (DeletionReason::Cancelled, "Cancelled"),
        (DeletionReason::AbsenceDeleted, "AbsenceDeleted"),
        (DeletionReason::NoLongerCovered, "NoLongerCovered"),
    ] {
        assert_eq!(json(DeletionReasonV1::from(reason)), format!("\"{text}\""));
    }
    for (half, text) in [(Half::Am, "Am"), (Half::Pm, "Pm")] {
        assert_eq!(json(HalfV1::from(half)), format!("\"{text}\""));
    }
    for (day, text) in [
        (Weekday::Mon, "Mon"),
        (Weekday::Tue, "Tue"),
        (Weekday::Wed, "Wed"),
        (Weekday::Thu, "Thu"),
        (Weekday::Fri, "Fri"),
        (Weekday::Sat, "Sat"),
        (Weekday::Sun, "Sun"),
    ] {
        assert_eq!(json(WeekdayV1::from(day)), format!("\"{text}\""));
    }
}

/// The message of a decode error (the source of [`StoreError::Unexpected`]).
fn decode_failure<T, F>(text: &str) -> String
where
    F: for<'de> serde::Deserialize<'de>,
    T: TryFrom<F, Error = StoreError> + std::fmt::Debug,
{
    let form: F = serde_json::from_str(text).unwrap();
    match T::try_from(form).unwrap_err() {
        StoreError::Unexpected(source) => source.to_string(),
        other => panic!("not a decode error: {other:?}"),
    }
}

#[test]
fn a_document_that_makes_no_valid_domain_value_is_a_decode_error() {
    let leave = samples::LEAVES[0].leave;
    let no_number = leave.replacen(r#""absence":1,"#, r#""absence":0,"#, 1);
    assert_ne!(no_number, leave);
    assert!(
        decode_failure::<Leave, LeaveForm>(&no_number)
            .starts_with("stored leave key's absence does not decode")
    );
    let absence = samples::ABSENCES[0].body.unwrap();
    let backwards = absence.replacen(r#""date":"2024-03-06""#, r#""date":"2024-03-01""#, 1);
    assert_ne!(backwards, absence);
    assert!(
        decode_failure::<Absence, AbsenceForm>(&backwards)
            .starts_with("stored absence period does not decode")
    );
    let no_owner = absence.replacen(r#""id":134,"#, r#""id":0,"#, 1);
    assert_ne!(no_owner, absence);
    assert_eq!(
        decode_failure::<Absence, AbsenceForm>(&no_owner),
        "stored owner does not decode: id: owner id must be greater than 0"
    );
}

#[test]
fn a_document_without_a_field_does_not_read() {
    let record = samples::EVENTS[0].record;
    let without = record.replacen(r#""state":"Pending","#, "", 1);
    assert_ne!(without, record);
    let error = serde_json::from_str::<LeaveEventRecordForm>(&without).unwrap_err();
    assert!(
        error.to_string().contains("missing field `state`"),
        "{error}"
    );
}
