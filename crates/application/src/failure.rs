//! How failures are logged: at the level their cause calls for, once, in the span of the call that
//! failed.
//!
//! A caller's mistake (bad input, an unknown id, a stale or conflicting revision) is part of normal
//! operation and logged at INFO; refused credentials and contention at WARN; only a fault of absync
//! or its store at ERROR, so that an ERROR line always means something for an operator to look at.
//! `#[tracing::instrument(err)]` logs every error at ERROR, so the use cases and store writes whose
//! errors may be a caller's doing wrap their work in [`logged`] instead.

use std::future::Future;

/// How serious a failure is for absync, which decides the level it is logged at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// No fault of absync: a caller's mistake, or a race that is resolved by retrying. INFO.
    Expected,
    /// No fault of absync, but worth an operator's notice: refused credentials, contention that
    /// outlasted the retries. WARN.
    Notable,
    /// A fault of absync or its store. ERROR.
    Fault,
}

/// An error that knows its [`Severity`] and a short, stable code for the logs.
pub trait Failure: std::error::Error {
    /// The kind of failure, logged as `code` (`invalid_input`, `unavailable`, …).
    fn code(&self) -> &'static str;

    /// How serious it is.
    fn severity(&self) -> Severity;
}

/// The error's causes, outermost first, joined by `: `.
fn causes(err: &dyn std::error::Error) -> String {
    let mut text = String::new();
    let mut source = err.source();
    while let Some(cause) = source {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Logs `err` at the level its [`Severity`] calls for, with its code, in the current span.
pub fn log_failure<E: Failure>(err: &E) {
    let code = err.code();
    match err.severity() {
        Severity::Expected => tracing::info!(code, error = %err, "refused"),
        Severity::Notable => tracing::warn!(code, error = %err, "refused"),
        Severity::Fault => {
            tracing::error!(code, error = %err, cause = %causes(err), "failed");
        }
    }
}

/// Awaits `work` and logs its error, if any, with [`log_failure`].
///
/// # Errors
/// `work`'s error, unchanged.
pub async fn logged<T, E: Failure>(work: impl Future<Output = Result<T, E>>) -> Result<T, E> {
    let result = work.await;
    if let Err(err) = &result {
        log_failure(err);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ApplicationError;
    use crate::ports::StoreError;
    use std::sync::{Arc, Mutex};

    /// Everything logged while `f` runs, one line per event, without colours or times.
    fn logs(f: impl FnOnce()) -> String {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = {
            let buffer = buffer.clone();
            move || Sink(buffer.clone())
        };
        let subscriber = tracing_subscriber::fmt()
            .with_writer(writer)
            .with_ansi(false)
            .without_time()
            .with_max_level(tracing::Level::TRACE)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buffer.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn each_failure_is_logged_once_at_the_level_of_its_cause() {
        let text = logs(|| log_failure(&ApplicationError::NotFound("absence")));
        assert!(text.starts_with(" INFO"), "{text}");
        assert!(text.contains("code=\"not_found\""), "{text}");
        assert_eq!(text.lines().count(), 1, "{text}");

        let text = logs(|| log_failure(&ApplicationError::Unauthenticated));
        assert!(text.starts_with(" WARN"), "{text}");

        let text = logs(|| log_failure(&StoreError::Conflict));
        assert!(text.starts_with(" INFO"), "{text}");

        let fault = ApplicationError::from(StoreError::Unexpected("disk I/O error".into()));
        let text = logs(|| log_failure(&fault));
        assert!(text.starts_with("ERROR"), "{text}");
        assert!(
            text.contains("cause=unexpected store error: disk I/O error"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn logged_passes_the_result_through_and_logs_only_errors() {
        let ok: Result<u8, ApplicationError> = logged(async { Ok(7) }).await;
        assert_eq!(ok.ok(), Some(7));
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || Sink(sink.clone()))
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let failed: Result<u8, ApplicationError> =
            logged(async { Err(ApplicationError::NotFound("absence")) }).await;
        assert!(matches!(failed, Err(ApplicationError::NotFound(_))));
        let _: Result<u8, ApplicationError> = logged(async { Ok(1) }).await;
        let text = String::from_utf8_lossy(&buffer.lock().unwrap()).into_owned();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("not_found"), "{text}");
    }
}
