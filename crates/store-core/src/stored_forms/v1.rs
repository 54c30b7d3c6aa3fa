//! Version 1 of the stored forms: the JSON the stores wrote when the domain's types derived serde
//! themselves, reproduced field for field (a struct's fields in its order, as serde writes them; an
//! enum as its variant's name, `"Am"`, `"Approved"`; a period as `{"HalfDays": …}` or
//! `{"Hours": …}`; a timestamp as `2024-02-20T08:15:30.250`, a date as `2024-03-04`).
//!
//! Never change these types: rows written in this version stay in the stores. The Rust names of
//! fields and enum variants are the stored spellings. The samples in
//! `crates/store-contract/src/stored_format/v1.rs` are rows as the stores wrote them; this crate's
//! tests check that these types read them and write them back byte for byte.
//!
//! Text fields are [`Cow`](std::borrow::Cow)s: a form made from a domain value to be written borrows
//! its texts; a form read from a store owns them (`'static`).

mod absence;
mod event;
mod leave;
mod period;

pub use absence::{
    AbsenceStatusV1, AbsenceV1, CalendarV1, DefinitionV1, LeaveAccountV1, OwnerV1, WeekdayV1,
};
pub use event::{DeletionReasonV1, DeletionV1, LeaveEventRecordV1, LeaveEventV1};
pub use leave::{LeaveKeyV1, LeaveStateV1, LeaveV1};
pub use period::{HalfDayRangeV1, HalfDayV1, HalfV1, HourSlotV1, PeriodV1};
