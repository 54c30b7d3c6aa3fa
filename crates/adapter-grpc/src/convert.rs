//! Protobuf ⇄ domain conversions. Inbound conversions collect a violation for every bad field, named by
//! its path in the request (`absence.owner.id`), so one answer lists everything that is wrong.

use crate::proto;
use absync_application::ports::{StoredAbsence, Subscription};
use absync_domain::absence::AbsenceParts;
use absync_domain::period::check_date;
use absync_domain::{
    Absence, AbsenceError, AbsenceId, AbsenceStatus, Definition, DeliveryId, Half, HalfDay,
    HalfDayRange, HourSlot, IdError, LeaveAccount, LeaveEvent, LeaveState, LocalTimestamp, Owner,
    Period, PeriodError, Revision, SubscriptionId, SubscriptionStatus, WorkingCalendar,
};
use chrono::{NaiveDate, Weekday};
use std::collections::BTreeSet;

/// One bad field of a request, named by its path in the request (`absence.owner.id`), as a
/// `google.rpc.BadRequest` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The field's path in the request.
    pub field: String,
    /// What is wrong.
    pub description: String,
}

impl Violation {
    pub(crate) fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Collects violations while a request is converted.
#[derive(Debug, Default)]
pub(crate) struct Violations(Vec<Violation>);

impl Violations {
    pub(crate) fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(Violation::new(field, description));
    }

    /// Keeps `result`'s value, or records its error against `field`.
    pub(crate) fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        result.map_err(|e| self.add(field, e.to_string())).ok()
    }

    pub(crate) fn into_result<T>(self, value: Option<T>) -> Result<T, Vec<Violation>> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ => Err(self.0),
        }
    }
}

fn date(v: &mut Violations, field: &str, text: &str) -> Option<NaiveDate> {
    if text.is_empty() {
        v.add(field, "required, YYYY-MM-DD");
        return None;
    }
    // chrono also reads `2024-3-4`; the contract is YYYY-MM-DD exactly.
    let parsed = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| d.format("%Y-%m-%d").to_string() == text)
        .ok_or("must be a date YYYY-MM-DD");
    let parsed = v.check(field, parsed)?;
    v.check(field, check_date(parsed))
}

/// A required subscription id.
pub(crate) fn subscription_id(
    v: &mut Violations,
    field: &str,
    text: &str,
) -> Option<SubscriptionId> {
    match SubscriptionId::parse(text) {
        Ok(id) => Some(id),
        Err(IdError::Empty) => {
            v.add(field, "required: a subscription id");
            None
        }
        Err(_) => {
            v.add(field, "must be a subscription id (a UUID)");
            None
        }
    }
}

/// An optional subscription filter: empty for every subscription.
pub(crate) fn subscription_filter(
    v: &mut Violations,
    field: &str,
    text: &str,
) -> Option<Option<SubscriptionId>> {
    if text.is_empty() {
        Some(None)
    } else {
        subscription_id(v, field, text).map(Some)
    }
}

/// A required delivery id: the store hands out positive ones.
pub(crate) fn delivery_id(v: &mut Violations, field: &str, id: i64) -> Option<DeliveryId> {
    if id > 0 {
        Some(DeliveryId::new(id))
    } else {
        v.add(field, "required: a delivery id (greater than 0)");
        None
    }
}

fn half(v: &mut Violations, field: &str, value: i32) -> Option<Half> {
    match proto::HalfDay::try_from(value) {
        Ok(proto::HalfDay::Am) => Some(Half::Am),
        Ok(proto::HalfDay::Pm) => Some(Half::Pm),
        _ => {
            v.add(field, "required: HALF_DAY_AM or HALF_DAY_PM");
            None
        }
    }
}

fn timestamp(v: &mut Violations, field: &str, text: &str) -> Option<LocalTimestamp> {
    if text.is_empty() {
        return None;
    }
    v.check(field, LocalTimestamp::parse(text))
}

/// Records each of a part's errors on its field under `path` (`absence.owner` + `name`).
fn part<T>(v: &mut Violations, path: &str, result: Result<T, Vec<AbsenceError>>) -> Option<T> {
    result
        .map_err(|errors| {
            for e in errors {
                v.add(format!("{path}.{}", e.field()), e.to_string());
            }
        })
        .ok()
}

/// An optional definition: `Some(None)` when absent, `None` when invalid.
fn definition(
    v: &mut Violations,
    path: &str,
    d: Option<proto::Definition>,
) -> Option<Option<Definition>> {
    match d {
        None => Some(None),
        Some(d) => part(v, path, Definition::new(d.id, d.code).map_err(|e| vec![e])).map(Some),
    }
}

fn period(v: &mut Violations, period: Option<proto::absence::Period>) -> Option<Period> {
    match period {
        None => {
            v.add("absence.period", "required: half_days or hours");
            None
        }
        Some(proto::absence::Period::HalfDays(p)) => {
            let start_date = date(v, "absence.half_days.start_date", &p.start_date);
            let start_half = half(v, "absence.half_days.start_half", p.start_half);
            let end_date = date(v, "absence.half_days.end_date", &p.end_date);
            let end_half = half(v, "absence.half_days.end_half", p.end_half);
            let (start, end) = (
                HalfDay {
                    date: start_date?,
                    half: start_half?,
                },
                HalfDay {
                    date: end_date?,
                    half: end_half?,
                },
            );
            let range = HalfDayRange::new(start, end).map_err(|e| {
                let field = match e {
                    // Same date, afternoon to morning: the halves are what is wrong.
                    PeriodError::EndBeforeStart { .. } if start.date == end.date => {
                        "absence.half_days.end_half"
                    }
                    PeriodError::EndBeforeStart { .. } | PeriodError::TooLong => {
                        "absence.half_days.end_date"
                    }
                    _ => "absence.half_days",
                };
                v.add(field, e.to_string());
            });
            range.ok().map(Period::HalfDays)
        }
        Some(proto::absence::Period::Hours(p)) => {
            let day = date(v, "absence.hours.date", &p.date)?;
            HourSlot::new(day, p.start_minute, p.duration_minutes)
                .map_err(|e| {
                    let field = match e {
                        PeriodError::StartMinute => "absence.hours.start_minute",
                        PeriodError::Duration => "absence.hours.duration_minutes",
                        _ => "absence.hours",
                    };
                    v.add(field, e.to_string());
                })
                .ok()
                .map(Period::Hours)
        }
    }
}

fn status(v: &mut Violations, value: i32) -> Option<AbsenceStatus> {
    match proto::AbsenceStatus::try_from(value) {
        Ok(proto::AbsenceStatus::Pending) => Some(AbsenceStatus::Pending),
        Ok(proto::AbsenceStatus::Approved) => Some(AbsenceStatus::Approved),
        Ok(proto::AbsenceStatus::Refused) => Some(AbsenceStatus::Refused),
        Ok(proto::AbsenceStatus::Cancelled) => Some(AbsenceStatus::Cancelled),
        _ => {
            v.add(
                "absence.status",
                "required: PENDING, APPROVED, REFUSED or CANCELLED",
            );
            None
        }
    }
}

fn weekday(value: i32) -> Option<Weekday> {
    Some(match proto::Weekday::try_from(value).ok()? {
        proto::Weekday::Monday => Weekday::Mon,
        proto::Weekday::Tuesday => Weekday::Tue,
        proto::Weekday::Wednesday => Weekday::Wed,
        proto::Weekday::Thursday => Weekday::Thu,
        proto::Weekday::Friday => Weekday::Fri,
        proto::Weekday::Saturday => Weekday::Sat,
        proto::Weekday::Sunday => Weekday::Sun,
        proto::Weekday::Unspecified => return None,
    })
}

fn calendar(v: &mut Violations, weekdays: &[i32], dates: &[String]) -> WorkingCalendar {
    let mut days = Vec::new();
    for (i, value) in weekdays.iter().enumerate() {
        match weekday(*value) {
            Some(day) => days.push(day),
            None => v.add(
                format!("absence.working_weekdays[{i}]"),
                "must be a weekday",
            ),
        }
    }
    let mut holidays = BTreeSet::new();
    for (i, text) in dates.iter().enumerate() {
        if let Some(day) = date(v, &format!("absence.non_working_dates[{i}]"), text) {
            holidays.insert(day);
        }
    }
    WorkingCalendar::new(days, holidays)
}

/// Converts a PutAbsence request's absence, naming every bad field.
pub(crate) fn absence_from_proto(
    absence: Option<proto::Absence>,
) -> Result<Absence, Vec<Violation>> {
    let mut v = Violations::default();
    let Some(a) = absence else {
        v.add("absence", "required");
        return v.into_result(None);
    };
    let id = v.check("absence.absence_id", AbsenceId::parse(&a.absence_id));
    let revision = v.check("absence.revision", Revision::new(a.revision));
    let owner = match a.owner {
        None => {
            v.add("absence.owner", "required");
            None
        }
        Some(o) => part(
            &mut v,
            "absence.owner",
            Owner::new(o.id, o.name, o.email, o.employee_number, o.badge_number),
        ),
    };
    let leave_account = match a.leave_account {
        None => {
            v.add("absence.leave_account", "required");
            None
        }
        Some(l) => part(
            &mut v,
            "absence.leave_account",
            LeaveAccount::new(l.id, l.name, l.category_id, l.category_name),
        ),
    };
    let requested_definition = definition(
        &mut v,
        "absence.requested_absence_definition",
        a.requested_absence_definition,
    );
    let resulting_definition = definition(
        &mut v,
        "absence.resulting_absence_definition",
        a.resulting_absence_definition,
    );
    let shift_definition = definition(&mut v, "absence.shift_definition", a.shift_definition);
    let period = period(&mut v, a.period);
    let status = status(&mut v, a.status);
    let created_at = timestamp(&mut v, "absence.created_at", &a.created_at);
    let approved_at = timestamp(&mut v, "absence.approved_at", &a.approved_at);
    let cancelled_at = timestamp(&mut v, "absence.cancelled_at", &a.cancelled_at);
    let calendar = calendar(&mut v, &a.working_weekdays, &a.non_working_dates);
    let parts = (|| {
        Some(AbsenceParts {
            id: id?,
            revision: revision?,
            owner: owner?,
            leave_account: leave_account?,
            requested_definition: requested_definition?,
            resulting_definition: resulting_definition?,
            shift_definition: shift_definition?,
            period: period?,
            status: status?,
            created_at,
            approved_at,
            cancelled_at,
            calendar,
        })
    })();
    v.into_result(parts.map(Absence::from_parts))
}

fn half_to_proto(half: Half) -> proto::HalfDay {
    match half {
        Half::Am => proto::HalfDay::Am,
        Half::Pm => proto::HalfDay::Pm,
    }
}

fn weekday_to_proto(day: Weekday) -> proto::Weekday {
    match day {
        Weekday::Mon => proto::Weekday::Monday,
        Weekday::Tue => proto::Weekday::Tuesday,
        Weekday::Wed => proto::Weekday::Wednesday,
        Weekday::Thu => proto::Weekday::Thursday,
        Weekday::Fri => proto::Weekday::Friday,
        Weekday::Sat => proto::Weekday::Saturday,
        Weekday::Sun => proto::Weekday::Sunday,
    }
}

fn text(ts: Option<LocalTimestamp>) -> String {
    ts.map(|t| t.to_string()).unwrap_or_default()
}

fn definition_to_proto(d: Option<&Definition>) -> Option<proto::Definition> {
    d.map(|d| proto::Definition {
        id: d.id,
        code: d.code.clone(),
    })
}

/// The stored absence as GetAbsence shows it.
pub(crate) fn absence_to_proto(a: &Absence) -> proto::Absence {
    let period = match &a.period {
        Period::HalfDays(r) => proto::absence::Period::HalfDays(proto::HalfDayPeriod {
            start_date: r.start().date.to_string(),
            start_half: half_to_proto(r.start().half).into(),
            end_date: r.end().date.to_string(),
            end_half: half_to_proto(r.end().half).into(),
        }),
        Period::Hours(h) => proto::absence::Period::Hours(proto::HourPeriod {
            date: h.date().to_string(),
            start_minute: u32::from(h.start_minute()),
            duration_minutes: u32::from(h.duration_minutes()),
        }),
    };
    let status = match a.status {
        AbsenceStatus::Pending => proto::AbsenceStatus::Pending,
        AbsenceStatus::Approved => proto::AbsenceStatus::Approved,
        AbsenceStatus::Refused => proto::AbsenceStatus::Refused,
        AbsenceStatus::Cancelled => proto::AbsenceStatus::Cancelled,
    };
    proto::Absence {
        absence_id: a.id().to_string(),
        revision: a.revision().get(),
        owner: Some(proto::Owner {
            id: a.owner.id(),
            name: a.owner.name.clone(),
            email: a.owner.email.clone(),
            employee_number: a.owner.employee_number.clone(),
            badge_number: a.owner.badge_number.clone(),
        }),
        leave_account: Some(proto::LeaveAccount {
            id: a.leave_account.id,
            name: a.leave_account.name.clone(),
            category_id: a.leave_account.category_id,
            category_name: a.leave_account.category_name.clone(),
        }),
        requested_absence_definition: definition_to_proto(a.requested_definition.as_ref()),
        resulting_absence_definition: definition_to_proto(a.resulting_definition.as_ref()),
        shift_definition: definition_to_proto(a.shift_definition.as_ref()),
        period: Some(period),
        status: status.into(),
        created_at: text(a.created_at),
        approved_at: text(a.approved_at),
        cancelled_at: text(a.cancelled_at),
        working_weekdays: a
            .calendar
            .working_weekdays()
            .iter()
            .map(|d| weekday_to_proto(*d).into())
            .collect(),
        non_working_dates: a
            .calendar
            .non_working_dates()
            .iter()
            .map(ToString::to_string)
            .collect(),
    }
}

pub(crate) fn stored_to_proto(stored: &StoredAbsence) -> proto::GetAbsenceResponse {
    proto::GetAbsenceResponse {
        absence: stored.absence.as_ref().map(absence_to_proto),
        absence_number: stored.number.get(),
        revision: stored.revision.get(),
        deleted: stored.absence.is_none(),
        leaves: stored
            .leaves
            .iter()
            .map(|l| proto::Leave {
                leave_id: l.key.to_string(),
                leave_number: l.key.number().get(),
                date: l.key.date().to_string(),
                half: half_to_proto(l.key.half()).into(),
                approved: l.state == LeaveState::Approved,
                duration_minutes: l.hours.map_or(0, |(_, minutes)| u32::from(minutes)),
            })
            .collect(),
    }
}

pub(crate) fn event_to_proto(event: LeaveEvent) -> proto::LeaveEventKind {
    match event {
        LeaveEvent::Created => proto::LeaveEventKind::Created,
        LeaveEvent::Approved => proto::LeaveEventKind::Approved,
        LeaveEvent::Deleted => proto::LeaveEventKind::Deleted,
    }
}

pub(crate) fn subscription_to_proto(s: &Subscription) -> proto::Subscription {
    proto::Subscription {
        id: s.id.to_string(),
        collection: match s.payload_format {
            absync_domain::PayloadFormat::Leaves => proto::Collection::Leaves,
            absync_domain::PayloadFormat::Absences => proto::Collection::Absences,
        }
        .into(),
        destination_url: s.destination.as_str().to_owned(),
        authorization: s
            .authorization
            .as_ref()
            .map(absync_domain::AuthorizationValue::redacted)
            .unwrap_or_default(),
        event_filter: match s.event_filter {
            absync_domain::EventFilter::All => proto::EventFilter::All,
            absync_domain::EventFilter::ValidatedOnly => proto::EventFilter::ValidatedOnly,
        }
        .into(),
        status: match s.status {
            SubscriptionStatus::Enabled => proto::SubscriptionStatus::Enabled,
            SubscriptionStatus::Disabled => proto::SubscriptionStatus::Disabled,
            SubscriptionStatus::Paused => proto::SubscriptionStatus::Paused,
        }
        .into(),
        valid_until: s.valid_until.map(|t| t.to_rfc3339()).unwrap_or_default(),
        created_at: s.created_at.to_rfc3339(),
        max_per_second: s.max_per_second.map(absync_domain::MaxPerSecond::get),
        paused_since: s.paused_since.map(|t| t.to_rfc3339()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests;
