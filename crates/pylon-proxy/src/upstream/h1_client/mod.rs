//! HTTP/1.1 to targets for requests without a body, which is most requests: connections are kept
//! per target and reused last in, first out; the request head is encoded once for every attempt;
//! the response head is parsed here and the body is read by the client connection's own task as
//! the client takes it. There is no connection task, channel or copy of the request in between,
//! which is where a general client spends its time. Requests with bodies, upgrades and HTTP/2
//! targets go through hyper's client (see `upstream`).

mod body;
mod framing;

pub use body::{decode_response, H1Body};

use super::attempt::Attempt;
use crate::message::hop_by_hop::has_connection_option;
use crate::message::{h1_head, MAX_HEAD_BYTES};
use body::Connection;
use bytes::{Buf, BytesMut};
use framing::{framing, Framing};
use http::header::{self, HeaderMap};
use http::{Method, Response, StatusCode, Version};
use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::net::SocketAddr;

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most header fields a response head may have.
pub(super) const MAX_HEADERS: usize = 128;
/// How much is read from a target at a time.
pub(super) const READ_CHUNK: usize = 16 * 1024;

/// Idle connections to targets, by target.
pub struct Pool {
    idle: Mutex<Idle>,
    idle_timeout: Duration,
    per_target: usize,
}

struct Idle {
    by_target: HashMap<SocketAddr, Vec<(TcpStream, Instant)>>,
    swept: Instant,
}

impl Pool {
    pub fn new(idle_timeout: Duration, per_target: usize) -> Self {
        Pool {
            idle: Mutex::new(Idle {
                by_target: HashMap::new(),
                swept: Instant::now(),
            }),
            idle_timeout,
            per_target,
        }
    }

    /// The most recently used idle connection to `target` that is still open.
    fn checkout(&self, target: SocketAddr) -> Option<TcpStream> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.by_target.get_mut(&target)?;
        while let Some((stream, since)) = list.pop() {
            if since.elapsed() >= self.idle_timeout {
                // The rest are older still.
                list.clear();
                return None;
            }
            if still_open(&stream) {
                return Some(stream);
            }
        }
        None
    }

    /// Keeps a connection whose last exchange ended cleanly for the next request.
    fn checkin(&self, target: SocketAddr, stream: TcpStream) {
        let now = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if now.duration_since(idle.swept) >= self.idle_timeout / 2 {
            // Connections to targets nobody asks for any more are closed here.
            let timeout = self.idle_timeout;
            idle.by_target.retain(|_, list| {
                list.retain(|(_, since)| now.duration_since(*since) < timeout);
                !list.is_empty()
            });
            idle.swept = now;
        }
        let list = idle.by_target.entry(target).or_default();
        if list.len() < self.per_target {
            list.push((stream, now));
        }
    }

    /// Idle connections kept now, for all targets.
    #[cfg(test)]
    fn idle_count(&self) -> usize {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.by_target.values().map(Vec::len).sum()
    }
}

/// Whether an idle connection can take a request: the target has neither closed it nor sent
/// anything unasked. Costs a system call only when the socket was reported readable.
fn still_open(stream: &TcpStream) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    match stream.poll_read_ready(&mut cx) {
        Poll::Pending => true,
        Poll::Ready(Err(_)) => false,
        Poll::Ready(Ok(())) => {
            let mut probe = [0u8; 1];
            matches!(stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        }
    }
}

/// A request head encoded for HTTP/1.1, ready to be written to any target.
pub struct RequestHead {
    bytes: Vec<u8>,
    /// Without a `Host` field, each target gets its own address as `Host`.
    has_host: bool,
    head: bool,
}

impl RequestHead {
    /// Encodes the request line and header fields (already stripped of hop-by-hop fields).
    pub fn new(method: &Method, path_and_query: &str, headers: &HeaderMap) -> Self {
        let mut bytes = Vec::with_capacity(64 + path_and_query.len() + headers.len() * 48);
        bytes.extend_from_slice(method.as_str().as_bytes());
        bytes.push(b' ');
        bytes.extend_from_slice(path_and_query.as_bytes());
        bytes.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in headers {
            h1_head::push_field(&mut bytes, name.as_str(), value.as_bytes());
        }
        let expects_body = matches!(*method, Method::POST | Method::PUT | Method::PATCH);
        if expects_body && !headers.contains_key(header::CONTENT_LENGTH) {
            h1_head::push_field(&mut bytes, "content-length", b"0");
        }
        let has_host = headers.contains_key(header::HOST);
        if has_host {
            bytes.extend_from_slice(b"\r\n");
        }
        RequestHead {
            bytes,
            has_host,
            head: *method == Method::HEAD,
        }
    }
}

/// Sends `request` to `target` on an idle or new connection and reads the response head.
pub async fn exchange(
    pool: &Arc<Pool>,
    target: SocketAddr,
    authority: &str,
    request: &RequestHead,
    connect_timeout: Duration,
) -> Attempt<Response<H1Body>> {
    let mut stream = match pool.checkout(target) {
        Some(stream) => stream,
        None => match tokio::time::timeout(connect_timeout, TcpStream::connect(target)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                stream
            }
            Ok(Err(e)) => return Attempt::Refused(Box::new(e)),
            Err(_) => return Attempt::Refused("connection timed out".into()),
        },
    };
    // Requests leave in bursts: the write waits until the tasks ready now have run, so targets
    // (and the kernel on their behalf) wake once for many requests instead of once for each.
    tokio::task::yield_now().await;
    let written = if request.has_host {
        stream.write_all(&request.bytes).await
    } else {
        let mut bytes = request.bytes.clone();
        h1_head::push_field(&mut bytes, "host", authority.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        stream.write_all(&bytes).await
    };
    if let Err(e) = written {
        return Attempt::Unanswered(Box::new(e));
    }
    let mut buf = BytesMut::with_capacity(READ_CHUNK / 2);
    let response = loop {
        match parse_head(&mut buf, request.head) {
            Ok(Some(response)) => break response,
            Ok(None) if buf.len() >= MAX_HEAD_BYTES => {
                return Attempt::Failed("the response head is too large".into())
            }
            Ok(None) => {}
            Err(e) => return Attempt::Failed(e.into()),
        }
        buf.reserve(READ_CHUNK / 2);
        match stream.read_buf(&mut buf).await {
            Ok(0) if buf.is_empty() => {
                return Attempt::Unanswered("the connection closed before any answer".into())
            }
            Ok(0) => {
                return Attempt::Failed(
                    "the connection closed in the middle of the response head".into(),
                )
            }
            Ok(_) => {}
            Err(e) if buf.is_empty() => return Attempt::Unanswered(Box::new(e)),
            Err(e) => return Attempt::Failed(Box::new(e)),
        }
    };
    let Parsed {
        mut head,
        framing,
        keep_alive,
    } = response;
    let connection = Connection {
        stream,
        pool: pool.clone(),
        target,
    };
    let mut body = H1Body {
        connection: Some(connection),
        buf,
        framing,
        keep_alive,
        ready: None,
    };
    // Most responses arrive whole with their head: the connection goes back to the pool now.
    if let Framing::Length(n) = body.framing {
        if body.buf.len() as u64 >= n {
            let data = body.buf.split_to(n as usize).freeze();
            body.ready = (!data.is_empty()).then_some(data);
            body.finish();
        }
    }
    *head.body_mut() = body;
    Attempt::Answered(head)
}

pub(super) struct Parsed {
    pub head: Response<H1Body>,
    pub framing: Framing,
    pub keep_alive: bool,
}

/// Parses a complete response head from the front of `buf`, skipping interim (1xx) responses.
pub(super) fn parse_head(buf: &mut BytesMut, head_request: bool) -> Result<Option<Parsed>, String> {
    loop {
        let mut fields = [const { MaybeUninit::uninit() }; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut []);
        let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut parsed,
            buf,
            &mut fields,
        ) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(format!("malformed response head: {e}")),
        };
        let code = parsed.code.unwrap_or_default();
        if (100..200).contains(&code) {
            if code == 101 {
                return Err("the target switched protocols unasked".into());
            }
            buf.advance(len);
            continue;
        }
        let status = StatusCode::from_u16(code).map_err(|_| format!("bad status {code}"))?;
        let version = match parsed.version {
            Some(0) => Version::HTTP_10,
            _ => Version::HTTP_11,
        };
        // Where each field lies in the head, so values can share its bytes.
        let spans = h1_head::spans(buf, parsed.headers);
        let bytes = buf.split_to(len).freeze();
        let headers = h1_head::header_map(&bytes, &spans, 0)
            .ok_or_else(|| "malformed header field in the response".to_string())?;
        let framing = framing(&headers, status, head_request)?;
        let close = has_connection_option(&headers, "close");
        let keep_alive = version == Version::HTTP_11 && !close && framing != Framing::UntilClose;
        let mut head = Response::new(H1Body::empty());
        *head.status_mut() = status;
        *head.version_mut() = version;
        *head.headers_mut() = headers;
        return Ok(Some(Parsed {
            head,
            framing,
            keep_alive,
        }));
    }
}

#[cfg(test)]
mod tests;
