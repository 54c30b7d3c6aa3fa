//! The retry cascade: after a failed attempt, wait 5 min, 15 min, 1 h, 24 h; then give up.

use std::time::Duration;

/// What happens after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptVerdict {
    /// Try again after this long.
    RetryAfter(Duration),
    /// No attempts left: the delivery has failed and goes to the dashboard.
    GiveUp,
}

/// A retry schedule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a retry delay must be greater than zero")]
pub struct RetryPolicyError;

/// The delays between attempts. `n` delays allow `n + 1` attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    delays: Vec<Duration>,
}

impl Default for RetryPolicy {
    /// 5 min, 15 min, 1 h, 24 h.
    fn default() -> Self {
        Self {
            delays: vec![
                Duration::from_secs(5 * 60),
                Duration::from_secs(15 * 60),
                Duration::from_secs(60 * 60),
                Duration::from_secs(24 * 60 * 60),
            ],
        }
    }
}

impl RetryPolicy {
    /// Builds a schedule from its delays.
    ///
    /// # Errors
    /// [`RetryPolicyError`] when a delay is zero.
    pub fn new(delays: Vec<Duration>) -> Result<Self, RetryPolicyError> {
        if delays.iter().any(Duration::is_zero) {
            return Err(RetryPolicyError);
        }
        Ok(Self { delays })
    }

    /// The delays.
    #[must_use]
    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    /// What follows when the attempt numbered `attempt` (1 for the first) failed.
    #[must_use]
    pub fn after_failure(&self, attempt: u32) -> AttemptVerdict {
        let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
        self.delays
            .get(index)
            .map_or(AttemptVerdict::GiveUp, |d| AttemptVerdict::RetryAfter(*d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cascade_gives_up_after_the_fifth_failure() {
        let p = RetryPolicy::default();
        let minutes = |m: u64| AttemptVerdict::RetryAfter(Duration::from_secs(m * 60));
        assert_eq!(p.after_failure(1), minutes(5));
        assert_eq!(p.after_failure(2), minutes(15));
        assert_eq!(p.after_failure(3), minutes(60));
        assert_eq!(p.after_failure(4), minutes(24 * 60));
        assert_eq!(p.after_failure(5), AttemptVerdict::GiveUp);
    }

    #[test]
    fn zero_delays_are_refused() {
        assert_eq!(
            RetryPolicy::new(vec![Duration::ZERO]),
            Err(RetryPolicyError)
        );
        assert_eq!(
            RetryPolicy::new(Vec::new()).unwrap().after_failure(1),
            AttemptVerdict::GiveUp
        );
    }
}
