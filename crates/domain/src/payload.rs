//! Wire payloads: the exact message a subscriber receives for one leave event.

pub mod protime;
pub mod timmi;

use crate::event::LeaveEventRecord;
use crate::ids::{ChangeVersion, TenantId};
use crate::subscription::PayloadFormat;

/// A rendered message: the format's headers and the body. Transport headers that depend on the
/// subscription (`Authorization`) or on the attempt (signatures) are added by the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookMessage {
    /// Header names and values, in order.
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// What a rendering needs besides the event itself.
#[derive(Debug, Clone, Copy)]
pub struct RenderContext<'a> {
    /// Whose event (Protime's `request.id` starts with it).
    pub tenant: &'a TenantId,
    /// The event's change version (Protime's `changeVersion`).
    pub change_version: ChangeVersion,
}

/// Renders `record` in `payload_format`.
#[must_use]
pub fn render(
    payload_format: PayloadFormat,
    record: &LeaveEventRecord,
    context: RenderContext<'_>,
) -> WebhookMessage {
    match payload_format {
        PayloadFormat::Leaves => timmi::render(record),
        PayloadFormat::Absences => protime::render(record, context),
    }
}
