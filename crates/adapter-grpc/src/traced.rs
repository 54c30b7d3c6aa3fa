//! The server span of every call, when traces are exported: named `{service}/{method}` with the
//! OpenTelemetry RPC attributes (`rpc.system`, `rpc.service`, `rpc.method`, `rpc.grpc.status_code`),
//! and the child of the caller's span when the request carries a W3C `traceparent`. Without a
//! [`TraceContext`] the layer is left out (see [`server_spans`]): calls pass through untouched.

use absync_application::ports::{TraceContext, TraceParent};
use std::sync::Arc;
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Context, Poll, Service, http};
use tonic::{Code, Status};
use tracing::Instrument;

/// Wraps the server's routes in [`Traced`].
#[derive(Clone)]
pub(crate) struct ServerSpans(Arc<dyn TraceContext>);

/// The server-span layer when traces are exported, and no layer at all when they are not, so that an
/// untraced server pays nothing for it.
pub(crate) fn server_spans(
    trace: Option<Arc<dyn TraceContext>>,
) -> tower::util::Either<ServerSpans, tower_layer::Identity> {
    tower::util::option_layer(trace.map(ServerSpans))
}

impl<S> tower_layer::Layer<S> for ServerSpans {
    type Service = Traced<S>;

    fn layer(&self, inner: S) -> Traced<S> {
        Traced {
            inner,
            trace: self.0.clone(),
        }
    }
}

/// A service whose calls each run in a server span (see the module).
#[derive(Clone)]
pub(crate) struct Traced<S> {
    inner: S,
    trace: Arc<dyn TraceContext>,
}

/// The codes that are the server's failure, not the caller's (the conventions' list): a server span
/// that ends with one has the error status.
fn server_error(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

/// The span of a call to `path` (`/package.Service/Method`).
fn server_span(path: &str) -> tracing::Span {
    let (service, method) = path
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or(("", ""));
    tracing::info_span!(
        parent: None,
        "grpc.server",
        otel.name = %path.trim_start_matches('/'),
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
        rpc.grpc.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    )
}

impl<S, B> Service<http::Request<Body>> for Traced<S>
where
    S: Service<http::Request<Body>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    B: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let span = server_span(request.uri().path());
        if let Some(parent) = request
            .headers()
            .get("traceparent")
            .and_then(|value| value.to_str().ok())
            .and_then(TraceParent::parse)
        {
            self.trace.set_parent(&span, &parent);
        }
        let answer = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        Box::pin(
            async move {
                let response = answer.await?;
                // An error is answered in the headers alone (trailers-only); a call whose answer
                // starts with a message has succeeded this far.
                let code =
                    Status::from_header_map(response.headers()).map_or(Code::Ok, |s| s.code());
                let span = tracing::Span::current();
                span.record("rpc.grpc.status_code", code as i32);
                if server_error(code) {
                    span.record("otel.status_code", "ERROR");
                }
                Ok(response)
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_servers_failures_are_errors() {
        assert!(server_error(Code::Internal));
        assert!(server_error(Code::Unavailable));
        assert!(!server_error(Code::Ok));
        assert!(!server_error(Code::InvalidArgument));
        assert!(!server_error(Code::NotFound));
        assert!(!server_error(Code::Unauthenticated));
    }
}
