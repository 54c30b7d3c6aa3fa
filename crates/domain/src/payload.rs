//! Wire payloads: the exact message a subscriber receives for one leave event.

pub mod timmi;

use crate::event::LeaveEventRecord;
use crate::subscription::Collection;

/// A rendered message: the format's headers and the body. Transport headers that depend on the
/// subscription (`Authorization`) or on the attempt (signatures) are added by the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookMessage {
    /// Header names and values, in order.
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// Renders `record` in the format of `collection`.
#[must_use]
pub fn render(collection: Collection, record: &LeaveEventRecord) -> WebhookMessage {
    match collection {
        Collection::Leaves => timmi::render(record),
    }
}
