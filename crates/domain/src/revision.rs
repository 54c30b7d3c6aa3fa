//! Revision rules: which put or delete changes anything.

use crate::ids::Revision;

/// What to do with an incoming change, given what is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevisionDecision {
    /// Newer: apply it.
    Apply,
    /// Same revision (or arrival order) and same content: nothing to do.
    Unchanged,
    /// Older than what is stored: ignore it.
    Stale,
    /// Same revision, different content: the source contradicts itself.
    Conflict,
}

/// Decides on a change with revision `incoming` against the stored revision.
/// `same_content` says whether the change would leave the stored content as it is.
///
/// Revision 0 means "newer than whatever is stored" *(ours)*: it applies unless nothing changes.
#[must_use]
pub fn decide_revision(
    stored: Revision,
    incoming: Revision,
    same_content: bool,
) -> RevisionDecision {
    if incoming.is_arrival_order() {
        return if same_content {
            RevisionDecision::Unchanged
        } else {
            RevisionDecision::Apply
        };
    }
    match incoming.cmp(&stored) {
        std::cmp::Ordering::Less => RevisionDecision::Stale,
        std::cmp::Ordering::Equal if same_content => RevisionDecision::Unchanged,
        std::cmp::Ordering::Equal => RevisionDecision::Conflict,
        std::cmp::Ordering::Greater => RevisionDecision::Apply,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(v: u64) -> Revision {
        Revision::new(v).unwrap()
    }

    #[test]
    fn the_revision_table() {
        assert_eq!(decide_revision(r(3), r(4), true), RevisionDecision::Apply);
        assert_eq!(decide_revision(r(3), r(4), false), RevisionDecision::Apply);
        assert_eq!(
            decide_revision(r(3), r(3), true),
            RevisionDecision::Unchanged
        );
        assert_eq!(
            decide_revision(r(3), r(3), false),
            RevisionDecision::Conflict
        );
        assert_eq!(decide_revision(r(3), r(2), false), RevisionDecision::Stale);
        assert_eq!(decide_revision(r(3), r(2), true), RevisionDecision::Stale);
    }

    #[test]
    fn revision_zero_is_arrival_order() {
        assert_eq!(decide_revision(r(9), r(0), false), RevisionDecision::Apply);
        assert_eq!(
            decide_revision(r(9), r(0), true),
            RevisionDecision::Unchanged
        );
        assert_eq!(decide_revision(r(0), r(0), false), RevisionDecision::Apply);
        assert_eq!(decide_revision(r(0), r(1), false), RevisionDecision::Apply);
    }
}
