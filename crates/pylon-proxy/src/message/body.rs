//! Bodies on their way through Pylon, and the errors they may end with.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

/// An error from a body or a connection, whatever its source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request or response body on its way through Pylon.
pub type Body = http_body_util::combinators::BoxBody<Bytes, BoxError>;

/// Any body as a [`Body`].
pub fn boxed<B>(body: B) -> Body
where
    B: hyper::body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(Into::into).boxed()
}

/// A body of these bytes.
pub fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// A request body from a client: hyper's, or none (requests read by the own HTTP/1.1 server).
pub trait ClientBody:
    hyper::body::Body<Data = Bytes, Error: Into<BoxError>> + Send + Sync + 'static
{
}

impl<B> ClientBody for B where
    B: hyper::body::Body<Data = Bytes, Error: Into<BoxError>> + Send + Sync + 'static
{
}
