//! The mapping of sqlx errors to the ports' [`StoreError`]: nothing sqlx-specific crosses a port.

use absync_application::ports::StoreError;

/// Translates a sqlx error. `transient_code` says which of the database's own error codes mean "not
/// now" (the same call may succeed later, nothing was written); a lost connection, an exhausted or
/// closed pool and a crashed worker always do. Transient errors are [`StoreError::Unavailable`], the
/// rest [`StoreError::Unexpected`].
pub fn store_error(err: sqlx::Error, transient_code: fn(&str) -> bool) -> StoreError {
    let transient = match &err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| transient_code(&c)),
        _ => false,
    };
    if transient {
        StoreError::Unavailable(Box::new(err))
    } else {
        StoreError::Unexpected(Box::new(err))
    }
}

#[cfg(test)]
mod tests {
    use super::store_error;
    use absync_application::ports::StoreError;

    #[test]
    fn a_lost_connection_is_transient_and_a_missing_row_is_not() {
        let never = |_: &str| false;
        assert!(matches!(
            store_error(sqlx::Error::PoolTimedOut, never),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            store_error(sqlx::Error::RowNotFound, never),
            StoreError::Unexpected(_)
        ));
    }
}
