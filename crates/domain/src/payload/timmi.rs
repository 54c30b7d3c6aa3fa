//! Timmi Absences leave v1: the body and headers of the HTTP synchronisation.

use super::WebhookMessage;
use crate::event::{LeaveEvent, LeaveEventRecord};
use crate::leave::LeaveState;
use crate::period::Half;
use crate::timestamp::LocalTimestamp;
use serde::Serialize;

/// `X-Version` of this format.
pub const VERSION: &str = "1";
/// `X-Resource-Type` of this format.
pub const RESOURCE_TYPE: &str = "leave";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LeaveBody<'a> {
    id: String,
    date: String,
    is_am: bool,
    owner: OwnerBody<'a>,
    leave_account: AccountBody<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_in_hours: Option<String>,
    is_confirmed: bool,
    confirmation_date: String,
    is_cancelled: bool,
    cancellation_date: String,
    creation_date: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OwnerBody<'a> {
    id: i64,
    name: &'a str,
    email: &'a str,
    employee_number: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccountBody<'a> {
    id: i64,
    name: &'a str,
    category_id: i64,
    category_name: &'a str,
}

fn timestamp(ts: Option<LocalTimestamp>) -> String {
    ts.map(|t| t.to_string()).unwrap_or_default()
}

/// `HH:MM:SS` of a number of minutes (225 → `03:45:00`).
#[must_use]
pub fn duration_in_hours(minutes: u16) -> String {
    format!("{:02}:{:02}:00", minutes / 60, minutes % 60)
}

/// Renders one leave event as Timmi Absences sends it.
#[must_use]
pub fn render(record: &LeaveEventRecord) -> WebhookMessage {
    let leave = &record.leave;
    let deleted = record.event == LeaveEvent::Deleted;
    let body = LeaveBody {
        id: leave.key.to_string(),
        date: leave.key.date().format("%Y-%m-%d").to_string(),
        is_am: leave.key.half() == Half::Am,
        owner: OwnerBody {
            id: leave.owner.id(),
            name: &leave.owner.name,
            email: &leave.owner.email,
            employee_number: &leave.owner.employee_number,
        },
        leave_account: AccountBody {
            id: leave.leave_account.id,
            name: &leave.leave_account.name,
            category_id: leave.leave_account.category_id,
            category_name: &leave.leave_account.category_name,
        },
        duration_in_hours: leave.hours.map(|(_, minutes)| duration_in_hours(minutes)),
        is_confirmed: leave.state == LeaveState::Approved,
        confirmation_date: if leave.state == LeaveState::Approved {
            timestamp(leave.approved_at)
        } else {
            String::new()
        },
        is_cancelled: deleted,
        cancellation_date: if deleted {
            timestamp(record.deletion.map(|d| d.at))
        } else {
            String::new()
        },
        creation_date: timestamp(leave.created_at),
    };
    WebhookMessage {
        headers: vec![
            ("Content-Type", "application/json".to_owned()),
            ("X-Version", VERSION.to_owned()),
            ("X-Resource-Type", RESOURCE_TYPE.to_owned()),
            ("X-Event", record.event.as_str().to_owned()),
        ],
        // Serialising plain structs of strings and integers cannot fail.
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::absence::{LeaveAccount, Owner};
    use crate::event::{Deletion, DeletionReason};
    use crate::ids::AbsenceNumber;
    use crate::leave::{Leave, LeaveKey};
    use serde_json::json;

    fn leave(state: LeaveState, hours: Option<(u16, u16)>) -> Leave {
        Leave {
            key: LeaveKey::new(
                AbsenceNumber::new(78287).unwrap(),
                "2018-04-24".parse().unwrap(),
                Half::Pm,
            ),
            state,
            owner: Owner::new(
                134,
                "Luca Pacioli".into(),
                "luca.paccioli@lucca.fr".into(),
                "00001".into(),
                None,
            )
            .unwrap(),
            leave_account: LeaveAccount {
                id: 1718,
                name: "Paid leave 2018".into(),
                category_id: 1,
                category_name: "Paid leave".into(),
            },
            requested_definition: None,
            resulting_definition: None,
            shift_definition: None,
            hours,
            created_at: Some(LocalTimestamp::parse("2018-04-01T09:00:00").unwrap()),
            approved_at: Some(LocalTimestamp::parse("2018-04-04T22:34:47.797").unwrap()),
        }
    }

    fn body(msg: &WebhookMessage) -> serde_json::Value {
        serde_json::from_slice(&msg.body).unwrap()
    }

    #[test]
    fn approved_leave_matches_the_vendor_example() {
        let msg = render(&LeaveEventRecord {
            event: LeaveEvent::Approved,
            leave: leave(LeaveState::Approved, None),
            previous_state: None,
            deletion: None,
        });
        assert_eq!(
            body(&msg),
            json!({
                "id": "78287-20180424-PM",
                "date": "2018-04-24",
                "isAm": false,
                "owner": {"id": 134, "name": "Luca Pacioli", "email": "luca.paccioli@lucca.fr", "employeeNumber": "00001"},
                "leaveAccount": {"id": 1718, "name": "Paid leave 2018", "categoryId": 1, "categoryName": "Paid leave"},
                "isConfirmed": true,
                "confirmationDate": "2018-04-04T22:34:47.797",
                "isCancelled": false,
                "cancellationDate": "",
                "creationDate": "2018-04-01T09:00:00.000"
            })
        );
        assert_eq!(
            msg.headers,
            vec![
                ("Content-Type", "application/json".to_owned()),
                ("X-Version", "1".to_owned()),
                ("X-Resource-Type", "leave".to_owned()),
                ("X-Event", "approved".to_owned()),
            ]
        );
    }

    #[test]
    fn pending_leave_is_unconfirmed_without_confirmation_date() {
        let msg = render(&LeaveEventRecord {
            event: LeaveEvent::Created,
            leave: leave(LeaveState::Pending, None),
            previous_state: None,
            deletion: None,
        });
        let b = body(&msg);
        assert_eq!(b["isConfirmed"], json!(false));
        assert_eq!(b["confirmationDate"], json!(""));
        assert!(b.get("durationInHours").is_none());
    }

    #[test]
    fn hours_leave_carries_duration_in_hours() {
        let msg = render(&LeaveEventRecord {
            event: LeaveEvent::Created,
            leave: leave(LeaveState::Pending, Some((480, 225))),
            previous_state: None,
            deletion: None,
        });
        assert_eq!(body(&msg)["durationInHours"], json!("03:45:00"));
        assert_eq!(duration_in_hours(1440), "24:00:00");
        assert_eq!(duration_in_hours(1), "00:01:00");
    }

    #[test]
    fn deleted_leave_sends_last_state_cancelled() {
        let msg = render(&LeaveEventRecord {
            event: LeaveEvent::Deleted,
            leave: leave(LeaveState::Approved, None),
            previous_state: Some(LeaveState::Approved),
            deletion: Some(Deletion {
                reason: DeletionReason::Cancelled,
                at: LocalTimestamp::parse("2018-04-10T08:00:00.5").unwrap(),
            }),
        });
        let b = body(&msg);
        assert_eq!(b["isCancelled"], json!(true));
        assert_eq!(b["cancellationDate"], json!("2018-04-10T08:00:00.500"));
        assert_eq!(b["isConfirmed"], json!(true));
        assert_eq!(msg.headers[3], ("X-Event", "deleted".to_owned()));
    }
}
