//! The schema of an absence instance, the item of the absences collection: what
//! `absync_domain::payload::protime::instance` renders, described for the OpenAPI document.
//!
//! The domain renders the item (serde, no OpenAPI there); these types only describe it and are never
//! built. The contract test (`tests/e2e/openapi.rs`) validates every item the server lists against
//! this schema, unknown properties refused, and a unit test checks that the documented example is
//! what the domain renders: the two cannot drift apart unnoticed.

// Never constructed: they exist for their `ToSchema` implementations.
#![allow(dead_code)]

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

/// The documented instance of leave `id`: the morning (`0`, `First`) or the afternoon (`720`,
/// `Second`) of absence `acme-134-1` on 2024-03-04. A unit test of the document checks it against
/// what the domain renders.
pub(super) fn example(id: i64, start_time_in_minutes: u16, day_part: &str) -> Value {
    json!({
        "changeVersion": "00000000000000000002",
        "id": id,
        "person": {"id": 134, "@employee-number": "00001", "@badge-number": "B-17"},
        "resultingAbsenceDefinition": {"id": 12, "@absence-code": null},
        "requestedAbsenceDefinition": {"id": 11, "@absence-code": "VAC"},
        "shiftDefinition": {"id": null, "@shift-code": null},
        "date": "2024-03-04",
        "startTimeInMinutes": start_time_in_minutes,
        "durationInMinutes": 720,
        "calculatedDurationInMinutes": 720,
        "dayPart": day_part,
        "request": {"id": "acme-134-1"},
        "status": "Manual",
        "approvalLevel": "Approved",
        "isLocked": false,
        "periodType": "Day"
    })
}

/// A current leave (one half-day of an absence) as the Protime absences collection lists it: the
/// properties of the webhook's delta item, without `changeType`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!(example(170_644, 0, "First")))]
pub(crate) struct AbsenceInstance {
    /// The change version of the leave's latest event: 20 upper-case hex digits, so that string
    /// order is change order.
    #[schema(pattern = "^[0-9A-F]{20}$", example = "00000000000000000002")]
    change_version: String,
    /// The leave's number, stable for the absence, date and half-day.
    #[schema(example = 170_644)]
    id: i64,
    /// Who is absent.
    person: Person,
    /// The absence definition that resulted.
    resulting_absence_definition: AbsenceDefinition,
    /// The absence definition originally requested.
    requested_absence_definition: AbsenceDefinition,
    /// The shift definition concerned.
    shift_definition: ShiftDefinition,
    /// The day of the leave.
    #[schema(format = Date, example = "2024-03-04")]
    date: String,
    /// Start of the leave in minutes after midnight: 0 for a morning, 720 for an afternoon, the
    /// start of the hours for an hours absence.
    #[schema(minimum = 0, maximum = 1440, example = 0)]
    start_time_in_minutes: u16,
    /// Length of the leave in minutes: 720 for a half-day.
    #[schema(minimum = 0, maximum = 1440, example = 720)]
    duration_in_minutes: u16,
    /// Same as `durationInMinutes`.
    #[schema(minimum = 0, maximum = 1440, example = 720)]
    calculated_duration_in_minutes: u16,
    /// The half of the day.
    day_part: DayPart,
    /// The absence request the leave belongs to.
    request: AbsenceRequest,
    /// Always `Manual`.
    status: InstanceStatus,
    /// Whether the leave is approved.
    approval_level: ApprovalLevel,
    /// Always `false`.
    is_locked: bool,
    /// Always `Day`.
    period_type: PeriodType,
}

/// The person who is absent.
#[derive(Serialize, ToSchema)]
struct Person {
    /// The person's id in the source system.
    #[schema(example = 134)]
    id: i64,
    /// The employee number.
    #[serde(rename = "@employee-number")]
    #[schema(example = "00001")]
    employee_number: String,
    /// The badge number, when known.
    #[serde(rename = "@badge-number")]
    #[schema(required = true, example = "B-17")]
    badge_number: Option<String>,
}

/// An absence definition: always an object, with a `null` id and code when absync does not know it.
#[derive(Serialize, ToSchema)]
struct AbsenceDefinition {
    /// Its id, or `null` when unknown.
    #[schema(required = true, example = 12)]
    id: Option<i64>,
    /// Its code (an external reference), or `null`.
    #[serde(rename = "@absence-code")]
    #[schema(required = true, example = "VAC")]
    code: Option<String>,
}

/// A shift definition: always an object, with a `null` id and code when absync does not know it.
#[derive(Serialize, ToSchema)]
struct ShiftDefinition {
    /// Its id, or `null` when unknown.
    #[schema(required = true, example = json!(null))]
    id: Option<i64>,
    /// Its code (an external reference), or `null`.
    #[serde(rename = "@shift-code")]
    #[schema(required = true, example = json!(null))]
    code: Option<String>,
}

/// The absence request a leave belongs to.
#[derive(Serialize, ToSchema)]
struct AbsenceRequest {
    /// `{tenant}-{person id}-{absence number}`.
    #[schema(example = "acme-134-1")]
    id: String,
}

/// The half of the day: `First` (morning) or `Second` (afternoon).
#[derive(Serialize, ToSchema)]
enum DayPart {
    First,
    Second,
}

/// The status of an instance: always `Manual`.
#[derive(Serialize, ToSchema)]
enum InstanceStatus {
    Manual,
}

/// `AwaitingApproval` while the absence is pending, `Approved` once approved.
#[derive(Serialize, ToSchema)]
enum ApprovalLevel {
    AwaitingApproval,
    Approved,
}

/// The period of an instance: always `Day`.
#[derive(Serialize, ToSchema)]
enum PeriodType {
    Day,
}
