//! HTTP/1.1 from clients on plaintext listeners, for requests without a body (most requests):
//! the request head is parsed here into a request whose fields share the bytes read, routed and
//! forwarded like any other, and the response is written back on the same task. An idle
//! connection holds no buffer. The first request this path does not take — one with a body, an
//! upgrade, `Expect`, a malformed or oversized head, or the HTTP/2 preface — hands the connection,
//! with every byte read so far, to hyper's server for the rest of its life, which also answers
//! malformed requests (400) and oversized heads (431).

mod rewind;
mod write;

pub use rewind::{Handoff, Rewind};

use super::request::{self, Context};
use crate::message::hop_by_hop::has_connection_option;
use crate::message::{h1_head, Client, MAX_HEAD_BYTES};
use crate::route::CompiledListener;
use arc_swap::ArcSwap;
use bytes::{Bytes, BytesMut};
use http::{Method, Request, Uri, Version};
use http_body_util::Empty;
use std::mem::MaybeUninit;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use write::write_response;

/// The most header fields a request handled here may have.
const MAX_HEADERS: usize = 100;
/// What is read at a time while a request head arrives.
const READ_CHUNK: usize = 4096;

/// The answer to a request head that did not arrive within the header read timeout.
pub const REQUEST_TIMEOUT: &[u8] = b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\ncontent-length: 20\r\nconnection: close\r\n\r\n408 Request Timeout\n";

/// Serves requests on `stream` until it closes, the listener stops, a request waits longer than
/// the header read timeout, or a request needs hyper (then returned).
pub async fn serve(
    mut stream: TcpStream,
    client: &Client,
    config: &ArcSwap<CompiledListener>,
    context: &Arc<Context>,
    stopped: &mut watch::Receiver<()>,
) -> Option<Handoff> {
    let mut buf = BytesMut::new();
    loop {
        let deadline = tokio::time::Instant::now() + context.header_read_timeout;
        let parsed = loop {
            if !buf.is_empty() {
                match parse(&mut buf) {
                    Next::Request(parsed) => break parsed,
                    Next::Partial => {}
                    Next::Handoff(buffered) => return Some(Handoff { stream, buffered }),
                }
            }
            let idle = buf.is_empty();
            let read = tokio::select! {
                read = tokio::time::timeout_at(deadline, read_more(&mut stream, &mut buf)) => read,
                // Stopping: an idle connection closes; a request on its way is still served.
                _ = stopped.changed(), if idle => return None,
            };
            match read {
                // A request head begun and not finished in time gets 408 before the close, as an
                // ALB sends; an idle keep-alive connection just closes.
                Err(_) if !buf.is_empty() => {
                    let _ = stream.write_all(REQUEST_TIMEOUT).await;
                    return None;
                }
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
                Ok(Ok(_)) => {}
            }
        };
        if buf.is_empty() {
            // Nothing pipelined: the buffer goes while the connection waits.
            buf = BytesMut::new();
        }
        let Parsed {
            request,
            mut keep_alive,
        } = parsed;
        let version = request.version();
        let head_request = request.method() == Method::HEAD;
        let listener = config.load_full();
        let handled = request::handle(request, listener, context.clone(), client.clone());
        tokio::pin!(handled);
        let response = loop {
            tokio::select! {
                biased;
                response = &mut handled => break response,
                // A client that goes away is noticed while its request waits, and the request
                // (and its connection to the target) dropped; pipelined bytes wait their turn.
                read = read_more(&mut stream, &mut buf), if buf.len() < MAX_HEAD_BYTES => match read {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                },
            }
        };
        // A response that says `Connection: close` (a refused request head) ends the connection.
        if stopped.has_changed().unwrap_or(true)
            || has_connection_option(response.headers(), "close")
        {
            keep_alive = false;
        }
        match write_response(&mut stream, response, version, head_request, keep_alive).await {
            Ok(true) => {}
            Ok(false) | Err(_) => return None,
        }
    }
}

/// Reads once the connection is readable; the buffer is allocated only then.
async fn read_more(stream: &mut TcpStream, buf: &mut BytesMut) -> std::io::Result<usize> {
    if buf.is_empty() {
        stream.readable().await?;
    }
    buf.reserve(READ_CHUNK);
    stream.read_buf(buf).await
}

struct Parsed {
    request: Request<Empty<Bytes>>,
    keep_alive: bool,
}

enum Next {
    Request(Parsed),
    Partial,
    Handoff(Bytes),
}

/// Parses the request head at the front of `buf`.
fn parse(buf: &mut BytesMut) -> Next {
    let mut fields = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut []);
    let len = match parsed.parse_with_uninit_headers(buf, &mut fields) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD_BYTES => return Next::Partial,
        Ok(httparse::Status::Partial) | Err(_) => return Next::Handoff(buf.split().freeze()),
    };
    let version = match parsed.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let (Some(method), Some(path)) = (parsed.method, parsed.path) else {
        return Next::Handoff(buf.split().freeze());
    };
    let mut keep_alive = version == Version::HTTP_11;
    for field in parsed.headers.iter() {
        let name = field.name.as_bytes();
        let takes_hyper = name.eq_ignore_ascii_case(b"transfer-encoding")
            || name.eq_ignore_ascii_case(b"upgrade")
            || name.eq_ignore_ascii_case(b"expect")
            || (name.eq_ignore_ascii_case(b"content-length") && field.value.trim_ascii() != b"0");
        if takes_hyper {
            return Next::Handoff(buf.split().freeze());
        }
        if name.eq_ignore_ascii_case(b"connection") {
            for token in field.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && version == Version::HTTP_10 {
                    keep_alive = true;
                }
            }
        }
    }
    if method == "CONNECT" {
        return Next::Handoff(buf.split().freeze());
    }
    // Where the target and each field lie, so the request can share the bytes read.
    let path_span = h1_head::position(buf, path.as_bytes());
    let spans = h1_head::spans(buf, parsed.headers);
    let method = Method::from_bytes(method.as_bytes());
    let bytes = buf.split_to(len).freeze();
    let build = || -> Option<Request<Empty<Bytes>>> {
        let mut request = Request::new(Empty::new());
        *request.method_mut() = method.ok()?;
        *request.uri_mut() = Uri::from_maybe_shared(bytes.slice(path_span.0..path_span.1)).ok()?;
        *request.version_mut() = version;
        // Room for the fields forwarding adds.
        *request.headers_mut() = h1_head::header_map(&bytes, &spans, 4)?;
        Some(request)
    };
    match build() {
        Some(request) => Next::Request(Parsed {
            request,
            keep_alive,
        }),
        None => {
            // Not a request the `http` types accept: hyper answers it.
            let mut all = BytesMut::with_capacity(bytes.len() + buf.len());
            all.extend_from_slice(&bytes);
            all.extend_from_slice(&buf.split());
            Next::Handoff(all.freeze())
        }
    }
}

/// Reads every request the own path would take from `buf`, pipelined one after another, with
/// the checks every request gets: for each, whether it was refused. Stops at a partial head or at
/// one the path leaves to hyper. For the fuzz targets.
pub fn decode_requests(buf: &[u8]) -> Vec<bool> {
    let mut buf = BytesMut::from(buf);
    let mut refused = Vec::new();
    while let Next::Request(Parsed { mut request, .. }) = parse(&mut buf) {
        refused.push(super::request_head::check(&mut request).is_err());
        if buf.is_empty() {
            break;
        }
    }
    refused
}

#[cfg(test)]
mod tests;
