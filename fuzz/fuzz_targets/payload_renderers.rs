//! The payload renderers (`payload::timmi::render`, `payload::protime::render` and `instance`) over
//! structured input: domain values built through their public constructors (invalid ones skipped),
//! split into leaves and turned into events as ingest does, plus single leaves built directly.

#![no_main]

use absync_domain::period::check_date;
use absync_domain::{
    Absence, AbsenceId, AbsenceNumber, AbsenceParts, AbsenceStatus, ChangeVersion, Definition,
    Deletion, DeletionReason, Half, HalfDay, HalfDayRange, HourSlot, Leave, LeaveAccount,
    LeaveEvent, LeaveEventRecord, LeaveKey, LeaveState, LocalTimestamp, Owner, Period, Revision,
    TenantId, WorkingCalendar, derive_events, split_into_leaves,
};
use absync_fuzz::{check_instance, check_render};
use arbitrary::Arbitrary;
use chrono::{Days, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    tenant: String,
    change_version: i64,
    absence_number: i64,
    owner: OwnerIn,
    account: (i64, String, i64, String),
    definitions: [Option<(i64, Option<String>)>; 3],
    /// The absence before the change (its leaves are the stored ones), if it existed.
    before: Option<AbsenceIn>,
    after: AbsenceIn,
    /// A single leave built directly.
    leave: LeaveIn,
}

#[derive(Debug, Arbitrary)]
struct OwnerIn {
    id: i64,
    name: String,
    email: String,
    employee_number: String,
    badge_number: Option<String>,
}

#[derive(Debug, Arbitrary)]
enum PeriodIn {
    HalfDays {
        start: i32,
        start_pm: bool,
        end: i32,
        end_pm: bool,
    },
    Hours {
        date: i32,
        start_minute: u32,
        duration_minutes: u32,
    },
}

#[derive(Debug, Arbitrary)]
enum TimestampIn {
    Parts { date: i32, seconds: u32, nanos: u32 },
    Text(String),
}

#[derive(Debug, Arbitrary)]
struct AbsenceIn {
    period: PeriodIn,
    status: u8,
    created_at: Option<TimestampIn>,
    approved_at: Option<TimestampIn>,
    cancelled_at: Option<TimestampIn>,
    weekdays: Vec<u8>,
    holidays: Vec<i32>,
}

#[derive(Debug, Arbitrary)]
enum KeyIn {
    /// As the REST API's `pageToken` carries one.
    Text(String),
    /// The same, well formed: `{absence}-{YYYYMMDD}-{AM|PM}` from any numbers.
    Formatted { absence: i64, date: u32, pm: bool },
    /// From its parts, the date checked as leave ids require.
    Parts { date: i32, pm: bool },
}

#[derive(Debug, Arbitrary)]
struct LeaveIn {
    key: KeyIn,
    approved: bool,
    hours: Option<(u32, u32)>,
    event: u8,
    previous_state: Option<bool>,
    deletion: Option<(u8, TimestampIn)>,
    created_at: Option<TimestampIn>,
    approved_at: Option<TimestampIn>,
}

/// A date around the years leave ids can carry (1970-01-01 ± 70 000 days), unchecked.
fn date(days: i32) -> Option<NaiveDate> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    let offset = days % 70_000;
    if offset >= 0 {
        epoch.checked_add_days(Days::new(u64::from(offset.unsigned_abs())))
    } else {
        epoch.checked_sub_days(Days::new(u64::from(offset.unsigned_abs())))
    }
}

fn timestamp(t: &TimestampIn) -> Option<LocalTimestamp> {
    match t {
        TimestampIn::Parts {
            date: days,
            seconds,
            nanos,
        } => {
            let time = NaiveTime::from_num_seconds_from_midnight_opt(*seconds, *nanos)?;
            Some(LocalTimestamp::from_naive(NaiveDateTime::new(
                date(*days)?,
                time,
            )))
        }
        TimestampIn::Text(text) => LocalTimestamp::parse(text).ok(),
    }
}

fn half(pm: bool) -> Half {
    if pm { Half::Pm } else { Half::Am }
}

fn period(p: &PeriodIn) -> Option<Period> {
    match p {
        PeriodIn::HalfDays {
            start,
            start_pm,
            end,
            end_pm,
        } => {
            let start = HalfDay {
                date: date(*start)?,
                half: half(*start_pm),
            };
            let end = HalfDay {
                date: date(*end)?,
                half: half(*end_pm),
            };
            HalfDayRange::new(start, end).ok().map(Period::HalfDays)
        }
        PeriodIn::Hours {
            date: days,
            start_minute,
            duration_minutes,
        } => HourSlot::new(date(*days)?, *start_minute, *duration_minutes)
            .ok()
            .map(Period::Hours),
    }
}

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

fn absence(input: &Input, a: &AbsenceIn) -> Option<Absence> {
    let o = &input.owner;
    let owner = Owner::new(
        o.id,
        o.name.clone(),
        o.email.clone(),
        o.employee_number.clone(),
        o.badge_number.clone(),
    )
    .ok()?;
    let definition = |d: &Option<(i64, Option<String>)>| {
        d.as_ref().map(|(id, code)| Definition {
            id: *id,
            code: code.clone(),
        })
    };
    let status = match a.status % 4 {
        0 => AbsenceStatus::Pending,
        1 => AbsenceStatus::Approved,
        2 => AbsenceStatus::Refused,
        _ => AbsenceStatus::Cancelled,
    };
    let weekdays = a
        .weekdays
        .iter()
        .map(|d| WEEKDAYS[usize::from(d % 7)])
        .collect();
    let holidays = a
        .holidays
        .iter()
        .filter_map(|d| date(*d).and_then(|d| check_date(d).ok()))
        .collect();
    Some(Absence::from_parts(AbsenceParts {
        id: AbsenceId::parse("hr-1").ok()?,
        revision: Revision::default(),
        owner,
        leave_account: LeaveAccount {
            id: input.account.0,
            name: input.account.1.clone(),
            category_id: input.account.2,
            category_name: input.account.3.clone(),
        },
        requested_definition: definition(&input.definitions[0]),
        resulting_definition: definition(&input.definitions[1]),
        shift_definition: definition(&input.definitions[2]),
        period: period(&a.period)?,
        status,
        created_at: a.created_at.as_ref().and_then(timestamp),
        approved_at: a.approved_at.as_ref().and_then(timestamp),
        cancelled_at: a.cancelled_at.as_ref().and_then(timestamp),
        calendar: WorkingCalendar::new(weekdays, holidays),
    }))
}

fn deletion_reason(n: u8) -> DeletionReason {
    match n % 4 {
        0 => DeletionReason::Refused,
        1 => DeletionReason::Cancelled,
        2 => DeletionReason::AbsenceDeleted,
        _ => DeletionReason::NoLongerCovered,
    }
}

/// One leave event record built directly from its public parts.
fn direct_record(input: &Input, number: AbsenceNumber) -> Option<LeaveEventRecord> {
    let l = &input.leave;
    let key = match &l.key {
        KeyIn::Text(text) => LeaveKey::parse(text).ok()?,
        KeyIn::Formatted {
            absence,
            date: yyyymmdd,
            pm,
        } => LeaveKey::parse(&format!("{absence}-{yyyymmdd:08}-{}", half(*pm).as_str())).ok()?,
        KeyIn::Parts { date: days, pm } => {
            LeaveKey::new(number, check_date(date(*days)?).ok()?, half(*pm))
        }
    };
    let hours = match l.hours {
        None => None,
        Some((start, duration)) => {
            let slot = HourSlot::new(key.date(), start, duration).ok()?;
            Some((slot.start_minute(), slot.duration_minutes()))
        }
    };
    let o = &input.owner;
    let owner = Owner::new(
        o.id,
        o.name.clone(),
        o.email.clone(),
        o.employee_number.clone(),
        o.badge_number.clone(),
    )
    .ok()?;
    let state = |approved: bool| {
        if approved {
            LeaveState::Approved
        } else {
            LeaveState::Pending
        }
    };
    let deletion = match &l.deletion {
        None => None,
        Some((reason, at)) => Some(Deletion {
            reason: deletion_reason(*reason),
            at: timestamp(at)?,
        }),
    };
    Some(LeaveEventRecord {
        event: match l.event % 3 {
            0 => LeaveEvent::Created,
            1 => LeaveEvent::Approved,
            _ => LeaveEvent::Deleted,
        },
        leave: Leave {
            key,
            state: state(l.approved),
            owner,
            leave_account: LeaveAccount {
                id: input.account.0,
                name: input.account.1.clone(),
                category_id: input.account.2,
                category_name: input.account.3.clone(),
            },
            requested_definition: None,
            resulting_definition: input.definitions[1].as_ref().map(|(id, code)| Definition {
                id: *id,
                code: code.clone(),
            }),
            shift_definition: None,
            hours,
            created_at: l.created_at.as_ref().and_then(timestamp),
            approved_at: l.approved_at.as_ref().and_then(timestamp),
        },
        previous_state: l.previous_state.map(state),
        deletion,
    })
}

fuzz_target!(|input: Input| {
    let Ok(tenant) = TenantId::parse(&input.tenant) else {
        return;
    };
    let Ok(number) = AbsenceNumber::new(input.absence_number) else {
        return;
    };
    let version = ChangeVersion::new(input.change_version);

    if let Some(record) = direct_record(&input, number) {
        check_render(&record, &tenant, version);
    }

    let Some(after) = absence(&input, &input.after) else {
        return;
    };
    let before = match &input.before {
        Some(b) => match absence(&input, b) {
            Some(b) => split_into_leaves(number, &b),
            None => return,
        },
        None => Vec::new(),
    };
    let leaves = split_into_leaves(number, &after);
    let reason = match after.status {
        AbsenceStatus::Refused => DeletionReason::Refused,
        AbsenceStatus::Cancelled => DeletionReason::Cancelled,
        AbsenceStatus::Pending | AbsenceStatus::Approved => DeletionReason::NoLongerCovered,
    };
    let at = after
        .cancelled_at
        .or(after.approved_at)
        .or(after.created_at)
        .unwrap_or_else(|| LocalTimestamp::from_naive(NaiveDateTime::default()));
    let records = derive_events(&before, &leaves, Deletion { reason, at });
    let n = records.len();
    for (i, record) in records.iter().enumerate() {
        // The first and last few: a long absence has hundreds of events, all alike.
        if i < 4 || i + 4 >= n {
            check_render(record, &tenant, version);
        }
    }
    for leave in leaves.iter().take(4) {
        check_instance(leave, &tenant, version);
    }
});
