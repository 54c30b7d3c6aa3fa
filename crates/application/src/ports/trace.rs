//! Trace propagation: how a change's trace travels with its deliveries, and how calls join the trace
//! of their caller, in W3C Trace Context terms (`traceparent`) and `tracing` spans only. The tracing
//! system behind it (OpenTelemetry) is bootstrap's: a use case without a [`TraceContext`] computes,
//! stores and sends no trace context at all.

/// A W3C Trace Context `traceparent` value, version `00`: `00-{trace id}-{parent id}-{flags}` (32, 16
/// and 2 lowercase hex digits; neither id all zeros).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TraceParent(String);

/// The length of a version `00` value.
const LENGTH: usize = 55;

impl TraceParent {
    /// Reads a `traceparent` header value. A value of a later version is read as version `00` (its
    /// first four fields), as the recommendation asks; version `ff`, ids of zeros and anything
    /// malformed give `None`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let head = text.get(..LENGTH)?;
        let fields: Vec<&str> = head.split('-').collect();
        let [version, trace, parent, flags] = fields.as_slice() else {
            return None;
        };
        let hex = |s: &str, len: usize| {
            s.len() == len
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        let zeros = |s: &str| s.bytes().all(|b| b == b'0');
        let valid = hex(version, 2)
            && *version != "ff"
            && hex(trace, 32)
            && !zeros(trace)
            && hex(parent, 16)
            && !zeros(parent)
            && hex(flags, 2)
            && match &text[LENGTH..] {
                "" => true,
                rest => *version != "00" && rest.starts_with('-'),
            };
        valid.then(|| Self(format!("00-{trace}-{parent}-{flags}")))
    }

    /// The value, version `00`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The trace id (32 hex digits).
    #[must_use]
    pub fn trace_id(&self) -> &str {
        &self.0[3..35]
    }

    /// The id of the span it names (16 hex digits).
    #[must_use]
    pub fn span_id(&self) -> &str {
        &self.0[36..52]
    }

    /// The trace flags (bit 0: sampled).
    #[must_use]
    pub fn flags(&self) -> u8 {
        u8::from_str_radix(&self.0[53..], 16).unwrap_or(0)
    }
}

impl std::fmt::Display for TraceParent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the tracing system knows of `tracing` spans, as `traceparent` values. Wired only when traces
/// are exported: without it, nothing of this is computed.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TraceContext: Send + Sync {
    /// The `traceparent` naming `span`, if it is traced.
    fn traceparent(&self, span: &tracing::Span) -> Option<TraceParent>;

    /// Makes `span` (created, not yet entered) a child of the remote span `parent`: an incoming
    /// call joins its caller's trace.
    fn set_parent(&self, span: &tracing::Span, parent: &TraceParent);

    /// Links `span` to the span `cause` names, without making it its parent: a delivery attempt
    /// points to the change that queued it.
    fn link(&self, span: &tracing::Span, cause: &TraceParent);
}

#[cfg(test)]
mod tests {
    use super::TraceParent;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_version_00_value_is_read_as_it_is() {
        let parent = TraceParent::parse(VALID).unwrap();
        assert_eq!(parent.as_str(), VALID);
        assert_eq!(parent.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(parent.span_id(), "00f067aa0ba902b7");
        assert_eq!(parent.flags(), 1);
        assert_eq!(parent.to_string(), VALID);
        assert_eq!(TraceParent::parse(&format!(" {VALID} ")), Some(parent));
    }

    #[test]
    fn a_later_version_is_read_as_version_00() {
        let later = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next";
        assert_eq!(TraceParent::parse(later).unwrap().as_str(), VALID);
    }

    #[test]
    fn malformed_values_are_refused() {
        for bad in [
            "",
            "00",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01é",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
    }
}
