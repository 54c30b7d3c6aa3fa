//! Request messages over the size limit are answered `RESOURCE_EXHAUSTED`, the code the gRPC status
//! code document gives them.
//!
//! tonic refuses such a message while decoding it, with `OUT_OF_RANGE` (a code it also gives a body
//! cut short) and no typed error: only its message text would tell the two apart. So this layer
//! reads the length prefix of every message of the request body itself, as the body streams to
//! tonic, against the limit the services are configured with ([`MAX_MESSAGE`]); a request that
//! announced a longer message has its refusal answered `RESOURCE_EXHAUSTED`, whatever tonic's
//! wording.

use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Bytes, Context, Poll, Service, http};
use tonic::server::NamedService;
use tonic::{Code, Status};

/// The largest request message the services decode, in bytes (tonic's default, set explicitly).
pub(crate) const MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// The gRPC message framing: a compressed flag and a 4-byte big-endian length before each message.
const PREFIX: usize = 5;

/// Where a stream of length-prefixed messages is, read piece by piece.
#[derive(Debug, Default)]
struct Framing {
    /// The current prefix, as far as it has arrived.
    prefix: [u8; PREFIX],
    /// How much of it has arrived.
    filled: usize,
    /// Bytes of the current message still to come.
    remaining: usize,
}

impl Framing {
    /// Reads the next piece of the stream; returns the length of the first message it announces
    /// over `limit`.
    fn feed(&mut self, mut data: &[u8], limit: usize) -> Option<usize> {
        while !data.is_empty() {
            if self.remaining > 0 {
                let skipped = self.remaining.min(data.len());
                self.remaining -= skipped;
                data = &data[skipped..];
                continue;
            }
            let taken = (PREFIX - self.filled).min(data.len());
            self.prefix[self.filled..self.filled + taken].copy_from_slice(&data[..taken]);
            self.filled += taken;
            data = &data[taken..];
            if self.filled == PREFIX {
                self.filled = 0;
                let [_, a, b, c, d] = self.prefix;
                let length =
                    usize::try_from(u32::from_be_bytes([a, b, c, d])).unwrap_or(usize::MAX);
                if length > limit {
                    return Some(length);
                }
                self.remaining = length;
            }
        }
        None
    }
}

/// A request body that reports the first message length over [`MAX_MESSAGE`] it carries.
struct Watched {
    inner: Body,
    framing: Framing,
    oversized: Arc<OnceLock<usize>>,
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
            && this.oversized.get().is_none()
            && let Some(length) = this.framing.feed(data, MAX_MESSAGE)
        {
            let _ = this.oversized.set(length);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Wraps a service: a request that announced a message over [`MAX_MESSAGE`] and was refused is
/// answered `RESOURCE_EXHAUSTED`. Nothing else is changed.
#[derive(Debug, Clone)]
pub(crate) struct OversizedIsResourceExhausted<S>(pub(crate) S);

impl<S: NamedService> NamedService for OversizedIsResourceExhausted<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<http::Request<Body>> for OversizedIsResourceExhausted<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let oversized = Arc::new(OnceLock::new());
        let request = request.map(|inner| {
            Body::new(Watched {
                inner,
                framing: Framing::default(),
                oversized: oversized.clone(),
            })
        });
        let answer = self.0.call(request);
        Box::pin(async move {
            let mut response = answer.await?;
            // A refused request is answered in the headers alone (trailers-only).
            let refused = Status::from_header_map(response.headers())
                .is_some_and(|status| status.code() != Code::Ok);
            if let Some(length) = oversized.get()
                && refused
            {
                let exhausted = Status::resource_exhausted(format!(
                    "the request message is {length} bytes; at most {MAX_MESSAGE} are accepted"
                ));
                if exhausted.add_header(response.headers_mut()).is_err() {
                    tracing::warn!("cannot rewrite the status of an oversized request");
                }
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(length: u32) -> Vec<u8> {
        let mut bytes = vec![0];
        bytes.extend_from_slice(&length.to_be_bytes());
        bytes
    }

    #[test]
    fn a_length_over_the_limit_is_seen_in_any_split() {
        let mut stream = prefix(3);
        stream.extend_from_slice(b"abc");
        stream.extend(prefix(11));
        stream.extend_from_slice(b"the rest");
        // Every way of cutting the stream in two pieces.
        for cut in 0..=stream.len() {
            let mut framing = Framing::default();
            let first = framing.feed(&stream[..cut], 10);
            let second = framing.feed(&stream[cut..], 10);
            assert_eq!(first.or(second), Some(11), "cut at {cut}");
        }
        // Byte by byte.
        let mut framing = Framing::default();
        let seen = stream.iter().find_map(|b| framing.feed(&[*b], 10));
        assert_eq!(seen, Some(11));
    }

    #[test]
    fn messages_within_the_limit_pass_whatever_they_hold() {
        // A message that looks like an oversized prefix inside its body is only data.
        let mut stream = prefix(5);
        stream.extend(prefix(u32::MAX));
        stream.extend(prefix(10));
        stream.extend_from_slice(&[0xff; 10]);
        let mut framing = Framing::default();
        assert_eq!(framing.feed(&stream, 10), None);
        assert_eq!(framing.feed(&prefix(10), 10), None);
        assert_eq!(framing.remaining, 10);
    }
}
