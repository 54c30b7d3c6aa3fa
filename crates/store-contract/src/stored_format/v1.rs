//! Rows of version 1 of the stored forms, as the stores wrote them before the forms had types of
//! their own: copied from a database that the code of that time (the ingest use case on the SQLite
//! store; the PostgreSQL store wrote the same documents) had written this history into, for tenant
//! `acme`:
//!
//! 1. `hr-1` put pending over 2024-03-04 PM to 2024-03-06 PM (worked Monday to Thursday, 2024-03-05 a
//!    holiday), then approved over 2024-03-04 PM to 2024-03-06 AM: its leaves of both halves are
//!    created, then approved, and the one of 2024-03-06 PM is deleted as no longer covered;
//! 2. `hr-2`, 225 minutes from 14:00 on 2024-03-07, put pending, then cancelled: its leave is
//!    created, then deleted as cancelled;
//! 3. `hr-3`, the morning of 2024-03-08, put approved, then deleted at the source (its body is NULL).
//!
//! The deliveries are those of one subscription to every event. The JSON texts are byte for byte what
//! the stores wrote (PostgreSQL keeps `jsonb`, which reorders keys; the documents are the same).
//!
//! This file stands alone (no `use`): `absync-store-core`'s tests include it too, to check that its
//! version-1 types write these documents back byte for byte. Never change a document here: add rows.

/// An `absences` row.
#[derive(Debug, Clone, Copy)]
pub struct AbsenceRow {
    /// `absence_id`.
    pub absence_id: &'static str,
    /// `number`.
    pub number: i64,
    /// `revision`.
    pub revision: i64,
    /// `row_version`.
    pub row_version: i64,
    /// `body`: the absence; `None` once deleted at the source.
    pub body: Option<&'static str>,
}

/// A `leaves` row: a current leave.
#[derive(Debug, Clone, Copy)]
pub struct LeaveRow {
    /// `absence_number`.
    pub absence_number: i64,
    /// `leave_date`, as `YYYY-MM-DD`.
    pub leave_date: &'static str,
    /// `half`: `AM` or `PM`.
    pub half: &'static str,
    /// `state`: `pending` or `approved`.
    pub state: &'static str,
    /// `change_version`: of the leave's latest event.
    pub change_version: i64,
    /// `leave`: the leave.
    pub leave: &'static str,
}

/// A `leave_events` row.
#[derive(Debug, Clone, Copy)]
pub struct EventRow {
    /// `change_version`.
    pub change_version: i64,
    /// `absence_number`.
    pub absence_number: i64,
    /// `leave_key`.
    pub leave_key: &'static str,
    /// `event`: `created`, `approved` or `deleted`.
    pub event: &'static str,
    /// `record`: the leave event.
    pub record: &'static str,
}

/// A `deliveries` row, of the one subscription.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryRow {
    /// `change_version`: its event's.
    pub change_version: i64,
    /// `leave_key`.
    pub leave_key: &'static str,
    /// `status`: `pending`, or `waiting` behind an earlier delivery of its leave.
    pub status: &'static str,
}

/// The tenant of every row.
pub const TENANT: &str = "acme";

/// The `absences` rows.
pub const ABSENCES: &[AbsenceRow] = &[
    AbsenceRow {
        absence_id: "hr-1",
        number: 1,
        revision: 2,
        row_version: 2,
        body: Some(
            r#"{"id":"hr-1","revision":2,"owner":{"id":134,"name":"Lúca D'Angelo","email":"luca@example.com","employee_number":"00001","badge_number":"B-17"},"leave_account":{"id":1718,"name":"Paid leave","category_id":1,"category_name":"Paid"},"requested_definition":{"id":11,"code":"CP"},"resulting_definition":{"id":12,"code":null},"shift_definition":{"id":3,"code":"DAY"},"period":{"HalfDays":{"start":{"date":"2024-03-04","half":"Pm"},"end":{"date":"2024-03-06","half":"Am"}}},"status":"Approved","created_at":"2024-02-20T08:15:30.250","approved_at":"2024-02-21T10:00:00","cancelled_at":null,"calendar":{"working_weekdays":["Mon","Tue","Wed","Thu"],"non_working_dates":["2024-03-05","2024-12-25"]}}"#,
        ),
    },
    AbsenceRow {
        absence_id: "hr-2",
        number: 2,
        revision: 2,
        row_version: 2,
        body: Some(
            r#"{"id":"hr-2","revision":2,"owner":{"id":135,"name":"Mia","email":"mia@example.com","employee_number":"00002","badge_number":null},"leave_account":{"id":1719,"name":"Training","category_id":2,"category_name":"Other"},"requested_definition":null,"resulting_definition":null,"shift_definition":null,"period":{"Hours":{"date":"2024-03-07","start_minute":840,"duration_minutes":225}},"status":"Cancelled","created_at":"2024-02-22T16:45:00.007","approved_at":null,"cancelled_at":"2024-03-02T09:30:00.500","calendar":{"working_weekdays":["Mon","Tue","Wed","Thu","Fri"],"non_working_dates":[]}}"#,
        ),
    },
    AbsenceRow {
        absence_id: "hr-3",
        number: 3,
        revision: 2,
        row_version: 2,
        body: None,
    },
];

/// The `leaves` rows.
pub const LEAVES: &[LeaveRow] = &[
    LeaveRow {
        absence_number: 1,
        leave_date: "2024-03-04",
        half: "PM",
        state: "approved",
        change_version: 4,
        leave: r#"{"key":{"absence":1,"date":"2024-03-04","half":"Pm"},"state":"Approved","owner":{"id":134,"name":"Lúca D'Angelo","email":"luca@example.com","employee_number":"00001","badge_number":"B-17"},"leave_account":{"id":1718,"name":"Paid leave","category_id":1,"category_name":"Paid"},"requested_definition":{"id":11,"code":"CP"},"resulting_definition":{"id":12,"code":null},"shift_definition":{"id":3,"code":"DAY"},"hours":null,"created_at":"2024-02-20T08:15:30.250","approved_at":"2024-02-21T10:00:00"}"#,
    },
    LeaveRow {
        absence_number: 1,
        leave_date: "2024-03-06",
        half: "AM",
        state: "approved",
        change_version: 5,
        leave: r#"{"key":{"absence":1,"date":"2024-03-06","half":"Am"},"state":"Approved","owner":{"id":134,"name":"Lúca D'Angelo","email":"luca@example.com","employee_number":"00001","badge_number":"B-17"},"leave_account":{"id":1718,"name":"Paid leave","category_id":1,"category_name":"Paid"},"requested_definition":{"id":11,"code":"CP"},"resulting_definition":{"id":12,"code":null},"shift_definition":{"id":3,"code":"DAY"},"hours":null,"created_at":"2024-02-20T08:15:30.250","approved_at":"2024-02-21T10:00:00"}"#,
    },
];

/// The `leave_events` rows.
pub const EVENTS: &[EventRow] = &[
    EventRow {
        change_version: 1,
        absence_number: 1,
        leave_key: "1-20240304-PM",
        event: "created",
        record: r#"{"event":"Created","leave":{"key":{"absence":1,"date":"2024-03-04","half":"Pm"},"state":"Pending","owner":{"id":134,"name":"Lúca D'Angelo","email":"luca@example.com","employee_number":"00001","badge_number":"B-17"},"leave_account":{"id":1718,"name":"Paid leave","category_id":1,"category_name":"Paid"},"requested_definition":{"id":11,"code":"CP"},"resulting_definition":{"id":12,"code":null},"shift_definition":{"id":3,"code":"DAY"},"hours":null,"created_at":"2024-02-20T08:15:30.250","approved_at":null},"previous_state":null,"deletion":null}"#,
    },
    EventRow {
        change_version: 2,
        absence_number: 1,
        leave_key: "1-20240306-AM",
        event: "created",
        record: r#"{"event":"Created","leave":{"key":{"absence":1,"date":"2024-03-06","half":"Am"},"state":"Pending","owner":{"id":134,"name":"Lúca D'Angelo","email":"luca@example.com","employee_number":"00001","badge_number":"B-17"},"leave_account":{"id":1718,"name":"Paid leave","category_id":1,"category_name":"Paid"},"requested_definition":{"id":11,"code":"CP"},"resulting_definition":{"id":12,"code":null},"shift_definition":{"id":3,"code":"DAY"},"hours":null,"created_at":"2024-02-20T08:15:30.250","approved_at":null},"previous_state":null,"deletion":null}"#,
    },
    EventRow {
        change_version: 3,
        absence_number: 1,
        leave_key: "1-20240306-PM",
        event: "created",
        record: r#"{"event":"Created","leave":{"key":{"absence":1,"date":"2024-03-06","half":"Pm"},"state":"Pending","owner":{"id":134,"name":"Lúca D'Angelo","email":"luca@example.com","employee_number":"00001","badge_number":"B-17"},"leave_account":{"id":1718,"name":"Paid leave","category_id":1,"category_name":"Paid"},"requested_definition":{"id":11,"code":"CP"},"resulting_definition":{"id":12,"code":null},"shift_definition":{"id":3,"code":"DAY"},"hours":null,"created_at":"2024-02-20T08:15:30.250","approved_at":null},"previous_state":null,"deletion":null}"#,
    },
    EventRow {
        change_version: 4,
        absence_number: 1,
        leave_key: "1-20240304-PM",
        event: "approved",
        record: r#"{"event":"Approved","leave":{"key":{"absence":1,"date":"2024-03-04","half":"Pm"},"state":"Approved","owner":{"id":134,"name":"Lúca D'Angelo","email":"luca@example.com","employee_number":"00001","badge_number":"B-17"},"leave_account":{"id":1718,"name":"Paid leave","category_id":1,"category_name":"Paid"},"requested_definition":{"id":11,"code":"CP"},"resulting_definition":{"id":12,"code":null},"shift_definition":{"id":3,"code":"DAY"},"hours":null,"created_at":"2024-02-20T08:15:30.250","approved_at":"2024-02-21T10:00:00"},"previous_state":"Pending","deletion":null}"#,
    },
    EventRow {
        change_version: 5,
        absence_number: 1,
        leave_key: "1-20240306-AM",
        event: "approved",
        record: r#"{"event":"Approved","leave":{"key":{"absence":1,"date":"2024-03-06","half":"Am"},"state":"Approved","owner":{"id":134,"name":"Lúca D'Angelo","email":"luca@example.com","employee_number":"00001","badge_number":"B-17"},"leave_account":{"id":1718,"name":"Paid leave","category_id":1,"category_name":"Paid"},"requested_definition":{"id":11,"code":"CP"},"resulting_definition":{"id":12,"code":null},"shift_definition":{"id":3,"code":"DAY"},"hours":null,"created_at":"2024-02-20T08:15:30.250","approved_at":"2024-02-21T10:00:00"},"previous_state":"Pending","deletion":null}"#,
    },
    EventRow {
        change_version: 6,
        absence_number: 1,
        leave_key: "1-20240306-PM",
        event: "deleted",
        record: r#"{"event":"Deleted","leave":{"key":{"absence":1,"date":"2024-03-06","half":"Pm"},"state":"Pending","owner":{"id":134,"name":"Lúca D'Angelo","email":"luca@example.com","employee_number":"00001","badge_number":"B-17"},"leave_account":{"id":1718,"name":"Paid leave","category_id":1,"category_name":"Paid"},"requested_definition":{"id":11,"code":"CP"},"resulting_definition":{"id":12,"code":null},"shift_definition":{"id":3,"code":"DAY"},"hours":null,"created_at":"2024-02-20T08:15:30.250","approved_at":null},"previous_state":"Pending","deletion":{"reason":"NoLongerCovered","at":"2024-03-01T12:00:00.123"}}"#,
    },
    EventRow {
        change_version: 7,
        absence_number: 2,
        leave_key: "2-20240307-PM",
        event: "created",
        record: r#"{"event":"Created","leave":{"key":{"absence":2,"date":"2024-03-07","half":"Pm"},"state":"Pending","owner":{"id":135,"name":"Mia","email":"mia@example.com","employee_number":"00002","badge_number":null},"leave_account":{"id":1719,"name":"Training","category_id":2,"category_name":"Other"},"requested_definition":null,"resulting_definition":null,"shift_definition":null,"hours":[840,225],"created_at":"2024-02-22T16:45:00.007","approved_at":null},"previous_state":null,"deletion":null}"#,
    },
    EventRow {
        change_version: 8,
        absence_number: 2,
        leave_key: "2-20240307-PM",
        event: "deleted",
        record: r#"{"event":"Deleted","leave":{"key":{"absence":2,"date":"2024-03-07","half":"Pm"},"state":"Pending","owner":{"id":135,"name":"Mia","email":"mia@example.com","employee_number":"00002","badge_number":null},"leave_account":{"id":1719,"name":"Training","category_id":2,"category_name":"Other"},"requested_definition":null,"resulting_definition":null,"shift_definition":null,"hours":[840,225],"created_at":"2024-02-22T16:45:00.007","approved_at":null},"previous_state":"Pending","deletion":{"reason":"Cancelled","at":"2024-03-02T09:30:00.500"}}"#,
    },
    EventRow {
        change_version: 9,
        absence_number: 3,
        leave_key: "3-20240308-AM",
        event: "approved",
        record: r#"{"event":"Approved","leave":{"key":{"absence":3,"date":"2024-03-08","half":"Am"},"state":"Approved","owner":{"id":134,"name":"Lúca D'Angelo","email":"luca@example.com","employee_number":"00001","badge_number":"B-17"},"leave_account":{"id":1718,"name":"Paid leave","category_id":1,"category_name":"Paid"},"requested_definition":null,"resulting_definition":{"id":12,"code":"CP"},"shift_definition":null,"hours":null,"created_at":null,"approved_at":"2024-02-23T11:00:00.999"},"previous_state":null,"deletion":null}"#,
    },
    EventRow {
        change_version: 10,
        absence_number: 3,
        leave_key: "3-20240308-AM",
        event: "deleted",
        record: r#"{"event":"Deleted","leave":{"key":{"absence":3,"date":"2024-03-08","half":"Am"},"state":"Approved","owner":{"id":134,"name":"Lúca D'Angelo","email":"luca@example.com","employee_number":"00001","badge_number":"B-17"},"leave_account":{"id":1718,"name":"Paid leave","category_id":1,"category_name":"Paid"},"requested_definition":null,"resulting_definition":{"id":12,"code":"CP"},"shift_definition":null,"hours":null,"created_at":null,"approved_at":"2024-02-23T11:00:00.999"},"previous_state":"Approved","deletion":{"reason":"AbsenceDeleted","at":"2024-03-01T12:00:00.123"}}"#,
    },
];

/// The `deliveries` rows.
pub const DELIVERIES: &[DeliveryRow] = &[
    DeliveryRow {
        change_version: 1,
        leave_key: "1-20240304-PM",
        status: "pending",
    },
    DeliveryRow {
        change_version: 2,
        leave_key: "1-20240306-AM",
        status: "pending",
    },
    DeliveryRow {
        change_version: 3,
        leave_key: "1-20240306-PM",
        status: "pending",
    },
    DeliveryRow {
        change_version: 4,
        leave_key: "1-20240304-PM",
        status: "waiting",
    },
    DeliveryRow {
        change_version: 5,
        leave_key: "1-20240306-AM",
        status: "waiting",
    },
    DeliveryRow {
        change_version: 6,
        leave_key: "1-20240306-PM",
        status: "waiting",
    },
    DeliveryRow {
        change_version: 7,
        leave_key: "2-20240307-PM",
        status: "pending",
    },
    DeliveryRow {
        change_version: 8,
        leave_key: "2-20240307-PM",
        status: "waiting",
    },
    DeliveryRow {
        change_version: 9,
        leave_key: "3-20240308-AM",
        status: "pending",
    },
    DeliveryRow {
        change_version: 10,
        leave_key: "3-20240308-AM",
        status: "waiting",
    },
];
