//! The JSON the stores keep in their payload columns (`absences.body`, `leaves.leave`,
//! `leave_events.record`), as types of their own: the domain's types can change (a field renamed,
//! an enum split) without changing a byte of what is stored, and rows written by an earlier version
//! of absync keep decoding.
//!
//! **Version 1** ([`v1`]) is the shape the stores wrote before these types existed, when the domain's
//! types derived serde themselves: no version field, field names and enum spellings as the domain's
//! at the time. Its types never change: rows written in it stay in the stores.
//!
//! **Writing** goes through [`absence_json`], [`leave_json`] and [`record_json`]: the current version
//! of a domain value, as text. **Reading** goes through [`AbsenceForm`], [`LeaveForm`] and
//! [`LeaveEventRecordForm`]: a stored document in any version this build reads, decoded into the
//! domain value with `TryFrom`, which fails with a [`decode_error`] when the document does not make a
//! valid domain value.
//!
//! **Adding version 2:** copy `v1.rs` and its folder to `v2`, change the copy, and add to each of its
//! top-level types a first field `v` that serializes as the number `2` and refuses any other (versions
//! after 1 always carry `"v"`; version 1 never does, so a document without it is version 1). Add a
//! `V2` variant to each `…Form` enum, and make its `Deserialize` read the document once into a
//! `serde_json::Value`, look at `v` (absent: 1) and decode that version from the value; its
//! `TryFrom` converts either. Point the `…_json` functions at the v2 types. Keep `v1`, its
//! conversion into the domain and its samples (`crates/store-contract/src/stored_format/v1.rs`): the
//! rows already written are read with it until a migration rewrites them.
//!
//! [`decode_error`]: absync_application::ports::stored::decode_error

#[cfg(test)]
mod tests;
pub mod v1;

use absync_application::ports::StoreError;
use absync_application::ports::stored::decode_error;
use absync_domain::{Absence, Leave, LeaveEventRecord};
use serde::{Deserialize, Deserializer};

/// An absence as a store holds it (`absences.body`), in any version this build reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AbsenceForm {
    /// Version 1: no `v` field.
    V1(v1::AbsenceV1<'static>),
}

/// A leave as a store holds it (`leaves.leave`), in any version this build reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaveForm {
    /// Version 1: no `v` field.
    V1(v1::LeaveV1<'static>),
}

/// A leave event as a store holds it (`leave_events.record`), in any version this build reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaveEventRecordForm {
    /// Version 1: no `v` field.
    V1(v1::LeaveEventRecordV1<'static>),
}

// Version 1 is the only version so far, so a document is read as version 1 directly (serde's
// errors then name the field at fault). The module docs say how a version 2 joins in.

impl<'de> Deserialize<'de> for AbsenceForm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        v1::AbsenceV1::deserialize(deserializer).map(Self::V1)
    }
}

impl<'de> Deserialize<'de> for LeaveForm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        v1::LeaveV1::deserialize(deserializer).map(Self::V1)
    }
}

impl<'de> Deserialize<'de> for LeaveEventRecordForm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        v1::LeaveEventRecordV1::deserialize(deserializer).map(Self::V1)
    }
}

impl TryFrom<AbsenceForm> for Absence {
    type Error = StoreError;

    fn try_from(form: AbsenceForm) -> Result<Self, StoreError> {
        match form {
            AbsenceForm::V1(absence) => absence.try_into(),
        }
    }
}

impl TryFrom<LeaveForm> for Leave {
    type Error = StoreError;

    fn try_from(form: LeaveForm) -> Result<Self, StoreError> {
        match form {
            LeaveForm::V1(leave) => leave.try_into(),
        }
    }
}

impl TryFrom<LeaveEventRecordForm> for LeaveEventRecord {
    type Error = StoreError;

    fn try_from(form: LeaveEventRecordForm) -> Result<Self, StoreError> {
        match form {
            LeaveEventRecordForm::V1(record) => record.try_into(),
        }
    }
}

/// `value` as JSON text.
fn to_json(what: &'static str, value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| decode_error(what, e))
}

/// The JSON text a store writes for `absence` (`absences.body`), in the current version.
///
/// # Errors
/// [`StoreError::Unexpected`] if it does not serialize (it always does: no map in it has non-text keys).
pub fn absence_json(absence: &Absence) -> Result<String, StoreError> {
    to_json("absence", &v1::AbsenceV1::from(absence))
}

/// The JSON text a store writes for `leave` (`leaves.leave`), in the current version.
///
/// # Errors
/// As [`absence_json`].
pub fn leave_json(leave: &Leave) -> Result<String, StoreError> {
    to_json("leave", &v1::LeaveV1::from(leave))
}

/// The JSON text a store writes for `record` (`leave_events.record`), in the current version.
///
/// # Errors
/// As [`absence_json`].
pub fn record_json(record: &LeaveEventRecord) -> Result<String, StoreError> {
    to_json("leave event", &v1::LeaveEventRecordV1::from(record))
}
