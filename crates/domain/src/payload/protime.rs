//! Protime absence v1: one delta item per leave event, with the event properties of the Protime webhook
//! document nested by their dotted names.

use super::{RenderContext, WebhookMessage};
use crate::absence::Definition;
use crate::event::{DeletionReason, LeaveEvent, LeaveEventRecord};
use crate::ids::ChangeVersion;
use crate::leave::{Leave, LeaveState};
use crate::period::Half;
use serde::Serialize;

/// `X-Version` of this format.
pub const VERSION: &str = "1";
/// `X-Resource-Type` of this format.
pub const RESOURCE_TYPE: &str = "absence";

/// A change version as Protime shows it: 20 upper-case hex digits, zero-padded, so that string order is
/// change order.
#[must_use]
pub fn change_version_text(version: ChangeVersion) -> String {
    format!("{:020X}", version.get())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Item<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    change_type: Option<&'static str>,
    change_version: String,
    id: i64,
    person: Person<'a>,
    resulting_absence_definition: DefinitionRef<'a>,
    requested_absence_definition: DefinitionRef<'a>,
    shift_definition: ShiftRef<'a>,
    date: String,
    start_time_in_minutes: u16,
    duration_in_minutes: u16,
    calculated_duration_in_minutes: u16,
    day_part: &'static str,
    request: RequestRef,
    status: &'static str,
    approval_level: &'static str,
    is_locked: bool,
    period_type: &'static str,
}

#[derive(Serialize)]
struct Person<'a> {
    id: i64,
    #[serde(rename = "@employee-number")]
    employee_number: &'a str,
    #[serde(rename = "@badge-number")]
    badge_number: Option<&'a str>,
}

/// An absence definition reference: always an object, so `item.resultingAbsenceDefinition.id` can be
/// read whatever absync knows; `id` and the `@absence-code` external reference are `null` when unknown.
#[derive(Serialize)]
struct DefinitionRef<'a> {
    id: Option<i64>,
    #[serde(rename = "@absence-code")]
    code: Option<&'a str>,
}

/// A shift definition reference, always an object like [`DefinitionRef`], with `@shift-code`.
#[derive(Serialize)]
struct ShiftRef<'a> {
    id: Option<i64>,
    #[serde(rename = "@shift-code")]
    code: Option<&'a str>,
}

#[derive(Serialize)]
struct RequestRef {
    id: String,
}

fn absence_definition(d: Option<&Definition>) -> DefinitionRef<'_> {
    DefinitionRef {
        id: d.map(|d| d.id),
        code: d.and_then(|d| d.code.as_deref()),
    }
}

fn shift_definition(d: Option<&Definition>) -> ShiftRef<'_> {
    ShiftRef {
        id: d.map(|d| d.id),
        code: d.and_then(|d| d.code.as_deref()),
    }
}

/// Minutes of a half-day leave *(ours)*: the morning is 00:00–12:00, the afternoon 12:00–24:00.
const HALF_DAY_MINUTES: u16 = 12 * 60;

fn item<'a>(
    leave: &'a Leave,
    change_type: Option<&'static str>,
    approval_level: &'static str,
    context: RenderContext<'_>,
) -> Item<'a> {
    let (start, duration) = leave.hours.unwrap_or(match leave.key.half() {
        Half::Am => (0, HALF_DAY_MINUTES),
        Half::Pm => (HALF_DAY_MINUTES, HALF_DAY_MINUTES),
    });
    Item {
        change_type,
        change_version: change_version_text(context.change_version),
        id: leave.key.number().get(),
        person: Person {
            id: leave.owner.id(),
            employee_number: &leave.owner.employee_number,
            badge_number: leave.owner.badge_number.as_deref(),
        },
        resulting_absence_definition: absence_definition(leave.resulting_definition.as_ref()),
        requested_absence_definition: absence_definition(leave.requested_definition.as_ref()),
        shift_definition: shift_definition(leave.shift_definition.as_ref()),
        date: leave.key.date().format("%Y-%m-%d").to_string(),
        start_time_in_minutes: start,
        duration_in_minutes: duration,
        calculated_duration_in_minutes: duration,
        day_part: match leave.key.half() {
            Half::Am => "First",
            Half::Pm => "Second",
        },
        request: RequestRef {
            id: format!(
                "{}-{}-{}",
                context.tenant,
                leave.owner.id(),
                leave.key.absence()
            ),
        },
        status: "Manual",
        approval_level,
        is_locked: false,
        period_type: "Day",
    }
}

fn approval_level(state: LeaveState) -> &'static str {
    match state {
        LeaveState::Pending => "AwaitingApproval",
        LeaveState::Approved => "Approved",
    }
}

/// Renders one leave event as a Protime delta item.
#[must_use]
pub fn render(record: &LeaveEventRecord, context: RenderContext<'_>) -> WebhookMessage {
    let refused = record
        .deletion
        .is_some_and(|d| d.reason == DeletionReason::Refused);
    let change_type = match record.event {
        LeaveEvent::Created | LeaveEvent::Approved => "InsertOrUpdate",
        LeaveEvent::Deleted => "Delete",
    };
    let level = if refused {
        "NotApproved"
    } else {
        approval_level(record.leave.state)
    };
    let item = item(&record.leave, Some(change_type), level, context);
    WebhookMessage {
        headers: vec![
            ("Content-Type", "application/json".to_owned()),
            ("X-Version", VERSION.to_owned()),
            ("X-Resource-Type", RESOURCE_TYPE.to_owned()),
            ("X-Event", record.event.as_str().to_owned()),
        ],
        // Serialising plain structs of strings and integers cannot fail.
        body: serde_json::to_vec(&item).unwrap_or_default(),
    }
}

/// A current leave as the Protime absences collection lists it: the event properties of its latest
/// event, without `changeType`.
#[must_use]
pub fn instance(leave: &Leave, context: RenderContext<'_>) -> serde_json::Value {
    serde_json::to_value(item(leave, None, approval_level(leave.state), context))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::absence::{LeaveAccount, Owner};
    use crate::event::Deletion;
    use crate::ids::{AbsenceNumber, TenantId};
    use crate::leave::{Leave, LeaveKey};
    use crate::timestamp::LocalTimestamp;
    use serde_json::json;

    fn leave(state: LeaveState, half: Half, hours: Option<(u16, u16)>) -> Leave {
        Leave {
            key: LeaveKey::new(
                AbsenceNumber::new(78287).unwrap(),
                "2018-04-24".parse().unwrap(),
                half,
            ),
            state,
            owner: Owner::new(
                134,
                "Luca".into(),
                "l@x".into(),
                "00001".into(),
                Some("B-17".into()),
            )
            .unwrap(),
            leave_account: LeaveAccount {
                id: 1718,
                name: "Paid".into(),
                category_id: 1,
                category_name: "Paid".into(),
            },
            requested_definition: Some(Definition {
                id: 11,
                code: Some("VAC".into()),
            }),
            resulting_definition: Some(Definition { id: 12, code: None }),
            shift_definition: None,
            hours,
            created_at: None,
            approved_at: None,
        }
    }

    fn body(record: &LeaveEventRecord, version: i64) -> serde_json::Value {
        let tenant = TenantId::parse("acme").unwrap();
        let msg = render(
            record,
            RenderContext {
                tenant: &tenant,
                change_version: ChangeVersion::new(version),
            },
        );
        serde_json::from_slice(&msg.body).unwrap()
    }

    #[test]
    fn an_approved_morning_is_an_insert_or_update_item_with_every_property() {
        let record = LeaveEventRecord {
            event: LeaveEvent::Approved,
            leave: leave(LeaveState::Approved, Half::Am, None),
            previous_state: None,
            deletion: None,
        };
        let id = record.leave.key.number().get();
        assert_eq!(
            body(&record, 42),
            json!({
                "changeType": "InsertOrUpdate",
                "changeVersion": "0000000000000000002A",
                "id": id,
                "person": {"id": 134, "@employee-number": "00001", "@badge-number": "B-17"},
                "resultingAbsenceDefinition": {"id": 12, "@absence-code": null},
                "requestedAbsenceDefinition": {"id": 11, "@absence-code": "VAC"},
                "shiftDefinition": {"id": null, "@shift-code": null},
                "date": "2018-04-24",
                "startTimeInMinutes": 0,
                "durationInMinutes": 720,
                "calculatedDurationInMinutes": 720,
                "dayPart": "First",
                "request": {"id": "acme-134-78287"},
                "status": "Manual",
                "approvalLevel": "Approved",
                "isLocked": false,
                "periodType": "Day"
            })
        );
    }

    #[test]
    fn unknown_definitions_are_objects_with_a_null_id() {
        let mut bare = leave(LeaveState::Approved, Half::Am, None);
        bare.requested_definition = None;
        bare.resulting_definition = None;
        bare.owner.badge_number = None;
        let record = LeaveEventRecord {
            event: LeaveEvent::Approved,
            leave: bare.clone(),
            previous_state: None,
            deletion: None,
        };
        let tenant = TenantId::parse("acme").unwrap();
        let context = RenderContext {
            tenant: &tenant,
            change_version: ChangeVersion::new(7),
        };
        for value in [body(&record, 7), instance(&bare, context)] {
            assert_eq!(
                value["resultingAbsenceDefinition"],
                json!({"id": null, "@absence-code": null})
            );
            assert_eq!(
                value["requestedAbsenceDefinition"],
                json!({"id": null, "@absence-code": null})
            );
            assert_eq!(
                value["shiftDefinition"],
                json!({"id": null, "@shift-code": null})
            );
            assert_eq!(
                value["person"],
                json!({"id": 134, "@employee-number": "00001", "@badge-number": null})
            );
            assert_eq!(value["request"], json!({"id": "acme-134-78287"}));
        }
    }

    #[test]
    fn hours_pending_and_refusal() {
        let pending = LeaveEventRecord {
            event: LeaveEvent::Created,
            leave: leave(LeaveState::Pending, Half::Pm, Some((840, 90))),
            previous_state: None,
            deletion: None,
        };
        let b = body(&pending, 1);
        assert_eq!(b["dayPart"], json!("Second"));
        assert_eq!(b["startTimeInMinutes"], json!(840));
        assert_eq!(b["durationInMinutes"], json!(90));
        assert_eq!(b["approvalLevel"], json!("AwaitingApproval"));

        let refused = LeaveEventRecord {
            event: LeaveEvent::Deleted,
            leave: leave(LeaveState::Pending, Half::Pm, None),
            previous_state: Some(LeaveState::Pending),
            deletion: Some(Deletion {
                reason: DeletionReason::Refused,
                at: LocalTimestamp::parse("2018-04-20T10:00:00").unwrap(),
            }),
        };
        let b = body(&refused, 2);
        assert_eq!(b["changeType"], json!("Delete"));
        assert_eq!(b["approvalLevel"], json!("NotApproved"));
        assert_eq!(b["startTimeInMinutes"], json!(720));
    }

    #[test]
    fn an_instance_has_the_item_properties_without_change_type() {
        let tenant = TenantId::parse("acme").unwrap();
        let leave = leave(LeaveState::Pending, Half::Am, None);
        let value = instance(
            &leave,
            RenderContext {
                tenant: &tenant,
                change_version: ChangeVersion::new(3),
            },
        );
        assert!(value.get("changeType").is_none());
        assert_eq!(value["changeVersion"], json!("00000000000000000003"));
        assert_eq!(value["approvalLevel"], json!("AwaitingApproval"));
        assert_eq!(value["request"]["id"], json!("acme-134-78287"));
    }

    #[test]
    fn change_versions_sort_as_text_in_change_order() {
        let versions = [1_i64, 9, 10, 255, 4096, i64::MAX];
        let texts: Vec<String> = versions
            .iter()
            .map(|v| change_version_text(ChangeVersion::new(*v)))
            .collect();
        assert!(texts.iter().all(|t| t.len() == 20));
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(sorted, texts);
        assert_eq!(texts[3], "000000000000000000FF");
    }
}
