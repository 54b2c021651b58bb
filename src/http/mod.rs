//! Sans-IO HTTP/1.1 framing: knows nothing of sockets, the loop or the clock.
//!
//! Bytes in, bytes and events out, as in h11 and ureq-proto. The connection layer
//! (`crate::conn`) joins these pieces to a stream:
//!
//! ```text
//!  Request ──encode_head──▶ head bytes (BytesMut) ┐
//!          RequestEncoder::encode_data/finish ──▶ EncodedChunk (Buf) ┴─▶ writev
//!  read buffer (BytesMut) ──ResponseParser::parse──▶ Partial | Interim | Complete | Upgrade
//!  read buffer ──BodyDecoder::decode──▶ Data(Bytes) | NeedMore | Done{trailers}; finish_eof() at EOF
//! ```
//!
//! Every error from this module means the connection is dirty and must be closed.
//! Limits are named constants ([`MAX_HEAD_BYTES`], [`MAX_HEADERS`], …) gathered in [`Limits`].

mod body;
#[cfg(feature = "http")]
mod compat;
mod decode;
mod encode;
mod header;
mod parse;
mod request;
mod response;
mod url;

pub use body::{Body, BodyStream};
pub use decode::{BodyDecoder, ChunkedDecoder, ChunkedState, Decoded, MAX_CHUNK_SIZE_DIGITS};
pub use encode::{encode_head, EncodedChunk, RequestContext, RequestEncoder, RequestFraming};
pub use header::{HeaderMap, HeaderName, HeaderValue};
pub use parse::{
    keep_alive, Limits, ParseStatus, ParsedResponse, ResponseParser, MAX_CHUNK_EXTENSION_BYTES,
    MAX_HEADERS, MAX_HEAD_BYTES, MAX_INTERIM_RESPONSES, MAX_TRAILER_BYTES,
};
pub use request::{Method, Request, RequestBuilder, RequestHead};
pub use response::{Response, ResponseHead, Version};
pub use url::{Origin, Url, HTTP_DEFAULT_PORT};
