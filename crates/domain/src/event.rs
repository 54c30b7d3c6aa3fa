//! Leave events: what a change to an absence means for each of its leaves (the event table).

use crate::leave::{Leave, LeaveKey, LeaveState};
use crate::timestamp::LocalTimestamp;
use std::collections::BTreeMap;

/// The event a subscriber is told about (`X-Event`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeaveEvent {
    /// The leave exists and is pending.
    Created,
    /// The leave exists and is approved.
    Approved,
    /// The leave no longer exists.
    Deleted,
}

impl LeaveEvent {
    /// Every event, in the order of a leave's life.
    pub const ALL: [Self; 3] = [Self::Created, Self::Approved, Self::Deleted];

    /// `created`, `approved` or `deleted`, as in `X-Event` (and as stored).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Approved => "approved",
            Self::Deleted => "deleted",
        }
    }

    /// Parses [`LeaveEvent::as_str`]'s output.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "created" => Some(Self::Created),
            "approved" => Some(Self::Approved),
            "deleted" => Some(Self::Deleted),
            _ => None,
        }
    }

    fn for_state(state: LeaveState) -> Self {
        match state {
            LeaveState::Pending => Self::Created,
            LeaveState::Approved => Self::Approved,
        }
    }
}

/// Why a leave stopped existing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletionReason {
    /// The absence was refused.
    Refused,
    /// The absence was cancelled.
    Cancelled,
    /// The absence was deleted at the source.
    AbsenceDeleted,
    /// The absence still exists but no longer covers this half-day.
    NoLongerCovered,
}

/// When and why leaves that disappear in a change were deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deletion {
    /// Why, for the absence as a whole; [`DeletionReason::NoLongerCovered`] is set per leave.
    pub reason: DeletionReason,
    /// The cancellation date subscribers see.
    pub at: LocalTimestamp,
}

/// One leave event, before the store gives it a change version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveEventRecord {
    /// What happened.
    pub event: LeaveEvent,
    /// The leave as it now is; for `deleted`, as it last was.
    pub leave: Leave,
    /// The leave's state before the change (`None` when it did not exist).
    pub previous_state: Option<LeaveState>,
    /// For `deleted`: when and why.
    pub deletion: Option<Deletion>,
}

impl LeaveEventRecord {
    /// The leave's key.
    #[must_use]
    pub fn key(&self) -> LeaveKey {
        self.leave.key
    }
}

/// Compares the leaves before and after a change and lists the events, in leave-key order.
///
/// | before → after | event |
/// |---|---|
/// | none → pending | created |
/// | none → approved | approved |
/// | pending → approved | approved |
/// | approved → pending | created |
/// | any → none | deleted |
/// | same state, other payload | the state's event again |
/// | same state, same payload | nothing |
///
/// `deletion` says when and why leaves that vanish were deleted; a leave that vanishes while the absence
/// still exists is recorded as [`DeletionReason::NoLongerCovered`].
#[must_use]
pub fn derive_events(
    before: &[Leave],
    after: &[Leave],
    deletion: Deletion,
) -> Vec<LeaveEventRecord> {
    let old: BTreeMap<LeaveKey, &Leave> = before.iter().map(|l| (l.key, l)).collect();
    let new: BTreeMap<LeaveKey, &Leave> = after.iter().map(|l| (l.key, l)).collect();
    let absence_still_has_leaves = !after.is_empty();
    let mut keys: Vec<LeaveKey> = old.keys().chain(new.keys()).copied().collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .filter_map(|key| match (old.get(&key), new.get(&key)) {
            (None, Some(now)) => Some(LeaveEventRecord {
                event: LeaveEvent::for_state(now.state),
                leave: (*now).clone(),
                previous_state: None,
                deletion: None,
            }),
            (Some(was), Some(now)) if was != now => Some(LeaveEventRecord {
                event: LeaveEvent::for_state(now.state),
                leave: (*now).clone(),
                previous_state: Some(was.state),
                deletion: None,
            }),
            (Some(was), None) => Some(LeaveEventRecord {
                event: LeaveEvent::Deleted,
                leave: (*was).clone(),
                previous_state: Some(was.state),
                deletion: Some(Deletion {
                    reason: if absence_still_has_leaves {
                        DeletionReason::NoLongerCovered
                    } else {
                        deletion.reason
                    },
                    at: deletion.at,
                }),
            }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{self, deletion};
    use crate::ids::AbsenceNumber;
    use crate::period::Half;

    fn leave(day: u32, half: Half, state: LeaveState) -> Leave {
        let date = format!("2024-03-{day:02}");
        fixtures::leave(AbsenceNumber::new(7).unwrap(), &date, half, state)
    }

    fn events(before: &[Leave], after: &[Leave]) -> Vec<(String, LeaveEvent)> {
        derive_events(before, after, deletion(DeletionReason::Cancelled))
            .into_iter()
            .map(|r| (r.key().to_string(), r.event))
            .collect()
    }

    use LeaveState::{Approved, Pending};

    #[test]
    fn none_to_pending_is_created() {
        let got = events(&[], &[leave(4, Half::Am, Pending)]);
        assert_eq!(got, [("7-20240304-AM".to_owned(), LeaveEvent::Created)]);
    }

    #[test]
    fn none_to_approved_is_one_approved() {
        let got = events(&[], &[leave(4, Half::Am, Approved)]);
        assert_eq!(got, [("7-20240304-AM".to_owned(), LeaveEvent::Approved)]);
    }

    #[test]
    fn pending_to_approved_is_approved() {
        let got = events(
            &[leave(4, Half::Am, Pending)],
            &[leave(4, Half::Am, Approved)],
        );
        assert_eq!(got, [("7-20240304-AM".to_owned(), LeaveEvent::Approved)]);
    }

    #[test]
    fn approved_to_pending_is_created_again() {
        let got = events(
            &[leave(4, Half::Am, Approved)],
            &[leave(4, Half::Am, Pending)],
        );
        assert_eq!(got, [("7-20240304-AM".to_owned(), LeaveEvent::Created)]);
    }

    #[test]
    fn any_to_none_is_deleted_with_the_last_state() {
        for state in [Pending, Approved] {
            let recs = derive_events(
                &[leave(4, Half::Am, state)],
                &[],
                deletion(DeletionReason::Refused),
            );
            assert_eq!(recs.len(), 1);
            assert_eq!(recs[0].event, LeaveEvent::Deleted);
            assert_eq!(recs[0].leave.state, state);
            assert_eq!(recs[0].previous_state, Some(state));
            assert_eq!(recs[0].deletion.unwrap().reason, DeletionReason::Refused);
        }
    }

    #[test]
    fn shrinking_deletes_only_the_uncovered_leaves() {
        let before = [leave(4, Half::Am, Approved), leave(4, Half::Pm, Approved)];
        let after = [leave(4, Half::Am, Approved)];
        let recs = derive_events(&before, &after, deletion(DeletionReason::Cancelled));
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].key().to_string(), "7-20240304-PM");
        assert_eq!(recs[0].event, LeaveEvent::Deleted);
        assert_eq!(
            recs[0].deletion.unwrap().reason,
            DeletionReason::NoLongerCovered
        );
    }

    #[test]
    fn same_state_with_changed_payload_repeats_the_state_event() {
        let mut changed = leave(4, Half::Am, Approved);
        changed.leave_account.name = "Other".into();
        let got = events(&[leave(4, Half::Am, Approved)], &[changed]);
        assert_eq!(got, [("7-20240304-AM".to_owned(), LeaveEvent::Approved)]);
        let mut changed = leave(4, Half::Am, Pending);
        changed.hours = Some((60, 30));
        let got = events(&[leave(4, Half::Am, Pending)], &[changed]);
        assert_eq!(got, [("7-20240304-AM".to_owned(), LeaveEvent::Created)]);
    }

    #[test]
    fn same_state_same_payload_is_nothing() {
        let leaves = [leave(4, Half::Am, Approved), leave(4, Half::Pm, Approved)];
        assert!(events(&leaves, &leaves).is_empty());
    }

    #[test]
    fn re_approval_after_a_pending_spell() {
        let approved = [leave(4, Half::Am, Approved)];
        let pending = [leave(4, Half::Am, Pending)];
        assert_eq!(events(&approved, &pending)[0].1, LeaveEvent::Created);
        assert_eq!(events(&pending, &approved)[0].1, LeaveEvent::Approved);
    }

    #[test]
    fn events_come_in_key_order() {
        let before = [leave(5, Half::Am, Pending)];
        let after = [leave(4, Half::Pm, Pending), leave(6, Half::Am, Pending)];
        let got: Vec<String> = events(&before, &after)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(got, ["7-20240304-PM", "7-20240305-AM", "7-20240306-AM"]);
    }
}
