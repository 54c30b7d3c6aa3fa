//! Structured logs with `tracing`: `RUST_LOG` filters (default `info`), text or JSON lines on stderr.
//! And, for `serve` with an OTLP endpoint configured, traces: the same `tracing` spans exported over
//! OTLP/gRPC by OpenTelemetry ([`Traces`]).
//!
//! Traces are on when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `ABSYNC_OTLP_ENDPOINT` (`--otlp-endpoint`, which wins) names a collector, unless
//! `OTEL_SDK_DISABLED=true`; the other standard variables apply (`OTEL_SERVICE_NAME`, default
//! `absync`; `OTEL_RESOURCE_ATTRIBUTES`; `OTEL_TRACES_SAMPLER`; `OTEL_BSP_*`;
//! `OTEL_EXPORTER_OTLP_HEADERS` and `…_TIMEOUT`). Otherwise the subscriber is the log output alone, as
//! it always was: no OpenTelemetry layer, and no [`TraceContext`] for the use cases and adapters,
//! which then compute, store and send no trace context.
//!
//! Everything OpenTelemetry is here: [`OtelTraceContext`] is the application's [`TraceContext`] on
//! `tracing-opentelemetry` (a `traceparent` is a remote span context; a link, `add_link`; a parent,
//! `set_parent`).

use crate::config::LogFormat;
use absync_application::ports::{TraceContext, TraceParent};
use anyhow::Context as _;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::Arc;
use std::time::Duration;
use tracing::{Level, Metadata};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The standard variables that name the collector, most specific first.
const ENDPOINT_VARIABLES: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// Spans that last as long as the service (the dispatcher's loop): never exported, so that the spans
/// they hold (claims, records) are traces of their own rather than one trace without end.
const LIFELONG_SPANS: [&str; 1] = ["dispatcher"];

/// Where traces go, when they are exported at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceExport {
    /// The collector's OTLP/gRPC endpoint (`http://collector:4317`).
    pub endpoint: String,
}

impl TraceExport {
    /// The export the environment asks for: `flag` (`--otlp-endpoint`, `ABSYNC_OTLP_ENDPOINT`),
    /// else the standard variables; none when they are all unset or empty, or `OTEL_SDK_DISABLED`
    /// is `true`.
    #[must_use]
    pub fn configured(flag: Option<&str>) -> Option<Self> {
        Self::from_lookup(flag, |name| std::env::var(name).ok())
    }

    fn from_lookup(flag: Option<&str>, lookup: impl Fn(&str) -> Option<String>) -> Option<Self> {
        if lookup("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            return None;
        }
        let endpoint = flag
            .map(str::to_owned)
            .into_iter()
            .chain(ENDPOINT_VARIABLES.iter().filter_map(|name| lookup(name)))
            .map(|value| value.trim().to_owned())
            .find(|value| !value.is_empty())?;
        Some(Self { endpoint })
    }

    /// The tracer provider: a batch exporter to the endpoint, and the service's resource.
    fn provider(&self) -> anyhow::Result<SdkTracerProvider> {
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(self.endpoint.clone());
        if self.endpoint.starts_with("https:") {
            exporter = exporter
                .with_tls_config(tonic::transport::ClientTlsConfig::new().with_enabled_roots());
        }
        let exporter = exporter
            .build()
            .with_context(|| format!("the OTLP endpoint {:?}", self.endpoint))?;
        let mut resource = Resource::builder();
        let named = std::env::var_os("OTEL_SERVICE_NAME").is_some()
            || std::env::var("OTEL_RESOURCE_ATTRIBUTES")
                .is_ok_and(|attributes| attributes.contains("service.name="));
        if !named {
            resource = resource.with_service_name("absync");
        }
        let resource = resource
            .with_attribute(opentelemetry::KeyValue::new(
                "service.version",
                env!("CARGO_PKG_VERSION"),
            ))
            .build();
        Ok(SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build())
    }
}

/// Whether the OpenTelemetry layer takes a span or event: INFO and above, never OpenTelemetry's own
/// (its diagnostics would feed back into the export), never a [lifelong span](LIFELONG_SPANS).
fn exported(meta: &Metadata<'_>) -> bool {
    *meta.level() <= Level::INFO
        && !meta.target().starts_with("opentelemetry")
        && !(meta.is_span() && LIFELONG_SPANS.contains(&meta.name()))
}

/// Installs the global subscriber: the logs, and the export of `traces` if asked. Safe to call more
/// than once (later calls install nothing, and export nothing).
///
/// # Errors
/// When the trace exporter cannot be built (an endpoint that is not a URI).
pub fn init(format: LogFormat, traces: Option<&TraceExport>) -> anyhow::Result<Option<Traces>> {
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let Some(export) = traces else {
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_writer(std::io::stderr);
        let _ = match format {
            LogFormat::Text => builder.try_init(),
            LogFormat::Json => builder.json().flatten_event(true).try_init(),
        };
        return Ok(None);
    };
    let provider = export.provider()?;
    let traced = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("absync"))
        .with_tracked_inactivity(false)
        .with_filter(filter_fn(exported));
    // One of the two formats; `Option` layers rather than boxed ones, which per-layer filters need.
    let (text, json) = match format {
        LogFormat::Text => (
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_filter(filter()),
            ),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_writer(std::io::stderr)
                    .with_filter(filter()),
            ),
        ),
    };
    if tracing_subscriber::registry()
        .with(text)
        .with(json)
        .with(traced)
        .try_init()
        .is_err()
    {
        let _ = provider.shutdown();
        return Ok(None);
    }
    tracing::info!(endpoint = %export.endpoint, "exporting traces over OTLP");
    Ok(Some(Traces { provider }))
}

/// The trace export of a running service: the [`TraceContext`] to wire, and the flush at shutdown.
#[derive(Debug, Clone)]
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// The [`TraceContext`] the use cases and adapters use.
    #[must_use]
    pub fn context(&self) -> Arc<dyn TraceContext> {
        Arc::new(OtelTraceContext)
    }

    /// Exports the spans still buffered and stops the exporter, taking at most `bound`.
    pub async fn flush_within(&self, bound: Duration) {
        let provider = self.provider.clone();
        // The shutdown blocks its thread until the exporter's thread is done.
        let flushed =
            tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(bound)).await;
        match flushed {
            Ok(Ok(())) => tracing::debug!("traces flushed"),
            Ok(Err(err)) => tracing::warn!(error = %err, "traces not flushed at shutdown"),
            Err(err) => tracing::warn!(error = %err, "traces not flushed at shutdown"),
        }
    }
}

/// The application's [`TraceContext`] on `tracing-opentelemetry`.
#[derive(Debug, Clone, Copy)]
pub struct OtelTraceContext;

/// The remote span context `traceparent` names.
fn remote(traceparent: &TraceParent) -> Option<SpanContext> {
    Some(SpanContext::new(
        TraceId::from_hex(traceparent.trace_id()).ok()?,
        SpanId::from_hex(traceparent.span_id()).ok()?,
        TraceFlags::new(traceparent.flags()),
        true,
        TraceState::default(),
    ))
}

impl TraceContext for OtelTraceContext {
    fn traceparent(&self, span: &tracing::Span) -> Option<TraceParent> {
        let context = span.context();
        let span = context.span();
        let own = span.span_context();
        if !own.is_valid() {
            return None;
        }
        TraceParent::parse(&format!(
            "00-{:032x}-{:016x}-{:02x}",
            own.trace_id(),
            own.span_id(),
            own.trace_flags().to_u8()
        ))
    }

    fn set_parent(&self, span: &tracing::Span, parent: &TraceParent) {
        if let Some(parent) = remote(parent) {
            let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(parent));
        }
    }

    fn link(&self, span: &tracing::Span, cause: &TraceParent) {
        if let Some(cause) = remote(cause) {
            span.add_link(cause);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn export(flag: Option<&str>, variables: &[(&str, &str)]) -> Option<TraceExport> {
        let variables: HashMap<String, String> = variables
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        TraceExport::from_lookup(flag, |name| variables.get(name).cloned())
    }

    #[test]
    fn traces_are_exported_only_when_an_endpoint_is_named() {
        assert_eq!(export(None, &[]), None);
        assert_eq!(export(None, &[("OTEL_SERVICE_NAME", "absync")]), None);
        assert_eq!(
            export(Some(""), &[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]),
            None
        );
        let at = |endpoint: &str| {
            Some(TraceExport {
                endpoint: endpoint.to_owned(),
            })
        };
        assert_eq!(
            export(None, &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")]),
            at("http://c:4317")
        );
        assert_eq!(
            export(
                None,
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:4317")
                ]
            ),
            at("http://t:4317")
        );
        assert_eq!(
            export(
                Some("http://a:4317"),
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")]
            ),
            at("http://a:4317")
        );
        assert_eq!(
            export(Some("http://a:4317"), &[("OTEL_SDK_DISABLED", "TRUE")]),
            None
        );
    }

    #[test]
    fn only_info_and_above_and_no_lifelong_span_is_exported() {
        // Spans made here, judged as the subscriber sees them.
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        let subscriber = tracing_subscriber::registry().with(filter_fn(move |meta| {
            sink.lock().unwrap().push((meta.name(), exported(meta)));
            true
        }));
        tracing::subscriber::with_default(subscriber, || {
            let _ = tracing::info_span!("put_absence");
            let _ = tracing::debug_span!("detail");
            let _ = tracing::info_span!("dispatcher");
            let _ = tracing::error_span!("deliver");
        });
        let seen = seen.lock().unwrap();
        let verdict = |name: &str| seen.iter().find(|(n, _)| *n == name).map(|(_, e)| *e);
        assert_eq!(verdict("put_absence"), Some(true));
        assert_eq!(verdict("detail"), Some(false));
        assert_eq!(verdict("dispatcher"), Some(false));
        assert_eq!(verdict("deliver"), Some(true));
    }

    #[test]
    fn a_traceparent_is_a_remote_span_context() {
        let traceparent =
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        let context = remote(&traceparent).unwrap();
        assert!(context.is_valid() && context.is_remote() && context.is_sampled());
        assert_eq!(
            format!("{:032x}-{:016x}", context.trace_id(), context.span_id()),
            "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"
        );
    }
}
