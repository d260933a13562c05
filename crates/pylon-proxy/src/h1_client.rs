//! HTTP/1.1 to targets for requests without a body, which is most requests: connections are kept
//! per target and reused last in, first out; the request head is encoded once for every attempt;
//! the response head is parsed here and the body is read by the client connection's own task as
//! the client takes it. There is no connection task, channel or copy of the request in between,
//! which is where a general client spends its time. Requests with bodies, upgrades and HTTP/2
//! targets go through hyper's client (see `upstream`).

use crate::h1_head;
use crate::hop_by_hop::has_connection_option;
use crate::upstream::{Attempt, BoxError};
use crate::MAX_HEAD_BYTES;
use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap};
use http::{Method, Response, StatusCode, Version};
use hyper::body::{Frame, SizeHint};
use std::collections::HashMap;
use std::future::Future;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most header fields a response head may have.
const MAX_HEADERS: usize = 128;
/// How much is read from a target at a time.
const READ_CHUNK: usize = 16 * 1024;
/// The longest chunk-size line (with extensions) of a chunked body.
const MAX_CHUNK_LINE: usize = 4096;

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

struct Parsed {
    head: Response<H1Body>,
    framing: Framing,
    keep_alive: bool,
}

/// Parses a complete response head from the front of `buf`, skipping interim (1xx) responses.
fn parse_head(buf: &mut BytesMut, head_request: bool) -> Result<Option<Parsed>, String> {
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

/// How the end of a response body is found (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked(Chunk),
    UntilClose,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
}

fn framing(headers: &HeaderMap, status: StatusCode, head_request: bool) -> Result<Framing, String> {
    if head_request || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        return Ok(Framing::Length(0));
    }
    if let Some(last) = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .next_back()
    {
        let chunked = last
            .to_str()
            .ok()
            .and_then(|v| v.rsplit(',').next())
            .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"));
        return Ok(if chunked {
            Framing::Chunked(Chunk::Size)
        } else {
            Framing::UntilClose
        });
    }
    let mut length = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for part in value.to_str().unwrap_or("x").split(',') {
            let n: u64 = part
                .trim()
                .parse()
                .map_err(|_| "malformed Content-Length in the response".to_string())?;
            if length.is_some_and(|l| l != n) {
                return Err("conflicting Content-Length values in the response".into());
            }
            length = Some(n);
        }
    }
    Ok(length.map_or(Framing::UntilClose, Framing::Length))
}

struct Connection {
    stream: TcpStream,
    pool: Arc<Pool>,
    target: SocketAddr,
}

/// A response body read from a target's connection; the connection goes back to the pool when
/// the body ends cleanly and is closed when it is dropped before that.
pub struct H1Body {
    connection: Option<Connection>,
    buf: BytesMut,
    framing: Framing,
    keep_alive: bool,
    /// Data already read, handed out first.
    ready: Option<Bytes>,
}

impl H1Body {
    fn empty() -> Self {
        H1Body {
            connection: None,
            buf: BytesMut::new(),
            framing: Framing::Done,
            keep_alive: false,
            ready: None,
        }
    }

    /// The body is over: the connection is reused when nothing unexpected follows it.
    fn finish(&mut self) {
        self.framing = Framing::Done;
        if let Some(c) = self.connection.take() {
            if self.keep_alive && self.buf.is_empty() {
                c.pool.checkin(c.target, c.stream);
            }
        }
    }

    /// Reads more from the connection; `Ok(0)` when the target closed it.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        let Some(c) = self.connection.as_mut() else {
            return Poll::Ready(Ok(0));
        };
        self.buf.reserve(READ_CHUNK);
        pin!(c.stream.read_buf(&mut self.buf)).poll(cx)
    }

    fn data(&mut self, n: usize) -> Frame<Bytes> {
        Frame::data(self.buf.split_to(n).freeze())
    }

    /// One step of decoding a chunked body from the buffer: `None` when more must be read.
    fn chunked(&mut self, state: Chunk) -> Option<Result<Option<Frame<Bytes>>, String>> {
        match state {
            Chunk::Size => {
                let Some(end) = self.buf.iter().position(|&b| b == b'\n') else {
                    if self.buf.len() > MAX_CHUNK_LINE {
                        return Some(Err("chunk size line too long".into()));
                    }
                    return None;
                };
                let line = &self.buf[..end];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let digits = line.split(|&b| b == b';').next().unwrap_or_default();
                let digits = std::str::from_utf8(digits).unwrap_or("x").trim();
                let Ok(size) = u64::from_str_radix(digits, 16) else {
                    return Some(Err("malformed chunk size".into()));
                };
                self.buf.advance(end + 1);
                self.framing = Framing::Chunked(if size == 0 {
                    Chunk::Trailers
                } else {
                    Chunk::Data(size)
                });
                Some(Ok(None))
            }
            Chunk::Data(remaining) => {
                if self.buf.is_empty() {
                    return None;
                }
                let n = remaining.min(self.buf.len() as u64);
                self.framing = Framing::Chunked(match remaining - n {
                    0 => Chunk::DataEnd,
                    left => Chunk::Data(left),
                });
                Some(Ok(Some(self.data(n as usize))))
            }
            Chunk::DataEnd => {
                let skip = if self.buf.starts_with(b"\r\n") {
                    2
                } else if self.buf.starts_with(b"\n") {
                    1
                } else if self.buf.len() < 2 {
                    return None;
                } else {
                    return Some(Err("chunk data not followed by CRLF".into()));
                };
                self.buf.advance(skip);
                self.framing = Framing::Chunked(Chunk::Size);
                Some(Ok(None))
            }
            Chunk::Trailers => {
                if self.buf.starts_with(b"\r\n") || self.buf.starts_with(b"\n") {
                    let skip = if self.buf[0] == b'\r' { 2 } else { 1 };
                    self.buf.advance(skip);
                    self.finish();
                    return Some(Ok(None));
                }
                let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
                match httparse::parse_headers(&self.buf, &mut fields) {
                    Ok(httparse::Status::Complete((len, fields))) => {
                        let spans = h1_head::spans(&self.buf, fields);
                        let block = self.buf.split_to(len).freeze();
                        let Some(trailers) = h1_head::header_map(&block, &spans, 0) else {
                            return Some(Err("malformed trailer field".into()));
                        };
                        self.finish();
                        Some(Ok(Some(Frame::trailers(trailers))))
                    }
                    Ok(httparse::Status::Partial) if self.buf.len() > MAX_HEAD_BYTES => {
                        Some(Err("trailers too large".into()))
                    }
                    Ok(httparse::Status::Partial) => None,
                    Err(e) => Some(Err(format!("malformed trailers: {e}"))),
                }
            }
        }
    }
}

/// Decodes a response the way the HTTP/1.1 client reads one, without a connection: the head,
/// then as much of a chunked body as `buf` holds. What it gives back: the status, the data bytes
/// decoded and whether the body ended — or the reason the response is refused. For the fuzz
/// targets.
pub(crate) fn decode_response(
    buf: &[u8],
    head_request: bool,
) -> Result<(u16, usize, bool), String> {
    let mut buf = BytesMut::from(buf);
    let Some(parsed) = parse_head(&mut buf, head_request)? else {
        return Err("incomplete head".into());
    };
    let status = parsed.head.status().as_u16();
    let mut body = H1Body {
        connection: None,
        buf,
        framing: parsed.framing,
        keep_alive: false,
        ready: None,
    };
    let mut data = 0;
    loop {
        let Framing::Chunked(state) = body.framing else {
            return Ok((status, data, body.framing == Framing::Done));
        };
        match body.chunked(state) {
            None => return Ok((status, data, false)),
            Some(Err(e)) => return Err(e),
            Some(Ok(Some(frame))) => data += frame.data_ref().map_or(0, Bytes::len),
            Some(Ok(None)) => {}
        }
    }
}

impl hyper::body::Body for H1Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(data) = this.ready.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        loop {
            match this.framing {
                Framing::Done => return Poll::Ready(None),
                Framing::Length(0) => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Framing::Length(remaining) if !this.buf.is_empty() => {
                    let n = remaining.min(this.buf.len() as u64);
                    let frame = this.data(n as usize);
                    this.framing = Framing::Length(remaining - n);
                    if remaining == n {
                        this.finish();
                    }
                    return Poll::Ready(Some(Ok(frame)));
                }
                Framing::UntilClose if !this.buf.is_empty() => {
                    let n = this.buf.len();
                    return Poll::Ready(Some(Ok(this.data(n))));
                }
                Framing::Chunked(state) => match this.chunked(state) {
                    Some(Ok(Some(frame))) => return Poll::Ready(Some(Ok(frame))),
                    Some(Ok(None)) => continue,
                    Some(Err(e)) => {
                        this.connection = None;
                        this.framing = Framing::Done;
                        return Poll::Ready(Some(Err(e.into())));
                    }
                    None => {}
                },
                Framing::Length(_) | Framing::UntilClose => {}
            }
            match std::task::ready!(this.poll_fill(cx)) {
                Ok(0) if this.framing == Framing::UntilClose => {
                    this.connection = None;
                    this.framing = Framing::Done;
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    this.connection = None;
                    this.framing = Framing::Done;
                    return Poll::Ready(Some(Err(
                        "the target closed the connection before the end of the body".into(),
                    )));
                }
                Ok(_) => {}
                Err(e) => {
                    this.connection = None;
                    this.framing = Framing::Done;
                    return Poll::Ready(Some(Err(Box::new(e))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ready.is_none() && self.framing == Framing::Done
    }

    fn size_hint(&self) -> SizeHint {
        let ready = self.ready.as_ref().map_or(0, |b| b.len() as u64);
        match self.framing {
            Framing::Done => SizeHint::with_exact(ready),
            Framing::Length(n) => SizeHint::with_exact(ready + n),
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use http_body_util::BodyExt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// What the test target answers to its n-th request: the parts written one after another, and
    /// whether it closes the connection afterwards.
    type Script = fn(usize) -> (Vec<&'static [u8]>, bool);

    struct Target {
        addr: SocketAddr,
        accepts: Arc<AtomicUsize>,
        requests: Arc<Mutex<Vec<Vec<u8>>>>,
    }

    async fn target(script: Script) -> Target {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepts = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (a, r) = (accepts.clone(), requests.clone());
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                a.fetch_add(1, Ordering::SeqCst);
                let r = r.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        let mut chunk = [0u8; 4096];
                        let n = match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        buf.extend_from_slice(&chunk[..n]);
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let request: Vec<u8> = buf.drain(..end + 4).collect();
                            let index = {
                                let mut all = r.lock().unwrap();
                                all.push(request);
                                all.len() - 1
                            };
                            let (parts, close) = script(index);
                            for part in parts {
                                stream.write_all(part).await.unwrap();
                                tokio::time::sleep(Duration::from_millis(5)).await;
                            }
                            if close {
                                return;
                            }
                        }
                    }
                });
            }
        });
        Target {
            addr,
            accepts,
            requests,
        }
    }

    fn get(path: &str) -> RequestHead {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("example.com"));
        RequestHead::new(&Method::GET, path, &headers)
    }

    fn pool() -> Arc<Pool> {
        Arc::new(Pool::new(Duration::from_secs(60), 4))
    }

    async fn send(pool: &Arc<Pool>, t: &Target, head: &RequestHead) -> Attempt<Response<H1Body>> {
        exchange(pool, t.addr, "target:80", head, Duration::from_secs(5)).await
    }

    /// The body's data and trailers.
    async fn read(attempt: Attempt<Response<H1Body>>) -> (StatusCode, Bytes, Option<HeaderMap>) {
        let Attempt::Answered(response) = attempt else {
            panic!("no answer");
        };
        let status = response.status();
        let collected = response.into_body().collect().await.unwrap();
        let trailers = collected.trailers().cloned();
        (status, collected.to_bytes(), trailers)
    }

    fn error(attempt: Attempt<Response<H1Body>>) -> (&'static str, String) {
        match attempt {
            Attempt::Answered(_) => panic!("answered"),
            Attempt::Refused(e) => ("refused", e.to_string()),
            Attempt::Unanswered(e) => ("unanswered", e.to_string()),
            Attempt::Failed(e) => ("failed", e.to_string()),
        }
    }

    #[tokio::test]
    async fn a_connection_is_reused_after_a_body_of_known_length() {
        let t = target(|_| {
            (
                vec![b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"],
                false,
            )
        })
        .await;
        let pool = pool();
        for _ in 0..3 {
            let (status, body, _) = read(send(&pool, &t, &get("/a?b=c")).await).await;
            assert_eq!((status, &body[..]), (StatusCode::OK, &b"hello"[..]));
        }
        assert_eq!(t.accepts.load(Ordering::SeqCst), 1);
        assert_eq!(pool.idle_count(), 1);
        let requests = t.requests.lock().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&requests[0]),
            "GET /a?b=c HTTP/1.1\r\nhost: example.com\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn a_body_arriving_in_parts_is_streamed_whole() {
        let t = target(|_| {
            (
                vec![
                    b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\nhel",
                    b"lo wo",
                    b"rld",
                ],
                false,
            )
        })
        .await;
        let pool = pool();
        let (_, body, _) = read(send(&pool, &t, &get("/")).await).await;
        assert_eq!(&body[..], b"hello world");
        assert_eq!(pool.idle_count(), 1);
    }

    #[tokio::test]
    async fn chunked_bodies_are_decoded_with_their_trailers() {
        let t = target(|_| {
            (
                vec![
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhel",
                    b"lo\r\n6\r\n world\r\n0\r\n",
                    b"grpc-status: 0\r\n\r\n",
                ],
                false,
            )
        })
        .await;
        let pool = pool();
        for _ in 0..2 {
            let (_, body, trailers) = read(send(&pool, &t, &get("/")).await).await;
            assert_eq!(&body[..], b"hello world");
            assert_eq!(trailers.unwrap()["grpc-status"], "0");
        }
        assert_eq!(t.accepts.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_body_without_length_ends_with_the_connection() {
        let t = target(|_| (vec![b"HTTP/1.1 200 OK\r\n\r\nuntil", b" close"], true)).await;
        let pool = pool();
        let (_, body, _) = read(send(&pool, &t, &get("/")).await).await;
        assert_eq!(&body[..], b"until close");
        assert_eq!(pool.idle_count(), 0);
    }

    #[tokio::test]
    async fn interim_responses_are_skipped() {
        let t = target(|_| {
            (
                vec![b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok"],
                false,
            )
        })
        .await;
        let (status, body, _) = read(send(&pool(), &t, &get("/")).await).await;
        assert_eq!((status, &body[..]), (StatusCode::CREATED, &b"ok"[..]));
    }

    #[tokio::test]
    async fn head_requests_and_204_have_no_body_and_keep_the_connection() {
        let t = target(|i| match i {
            0 => (
                vec![b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n"],
                false,
            ),
            _ => (vec![b"HTTP/1.1 204 No Content\r\n\r\n"], false),
        })
        .await;
        let pool = pool();
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("h"));
        let head = RequestHead::new(&Method::HEAD, "/", &headers);
        let (status, body, _) = read(send(&pool, &t, &head).await).await;
        assert_eq!((status, body.len()), (StatusCode::OK, 0));
        let (status, body, _) = read(send(&pool, &t, &get("/")).await).await;
        assert_eq!((status, body.len()), (StatusCode::NO_CONTENT, 0));
        assert_eq!(t.accepts.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_connection_the_target_closed_is_not_reused() {
        let t = target(|_| {
            (
                vec![b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"],
                true,
            )
        })
        .await;
        let pool = pool();
        read(send(&pool, &t, &get("/")).await).await;
        assert_eq!(pool.idle_count(), 1);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (status, _, _) = read(send(&pool, &t, &get("/")).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(t.accepts.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn connection_close_is_honoured() {
        let t = target(|_| {
            (
                vec![b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"],
                false,
            )
        })
        .await;
        let pool = pool();
        read(send(&pool, &t, &get("/")).await).await;
        assert_eq!(pool.idle_count(), 0);
    }

    #[tokio::test]
    async fn failures_say_whether_the_request_may_have_been_seen() {
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let refused = exchange(&pool(), addr, "x", &get("/"), Duration::from_secs(5)).await;
        assert_eq!(error(refused).0, "refused");

        let t = target(|_| (vec![], true)).await;
        assert_eq!(error(send(&pool(), &t, &get("/")).await).0, "unanswered");

        let t = target(|_| (vec![b"HTTP/1.1 200 OK\r\ncontent-le"], true)).await;
        let (kind, message) = error(send(&pool(), &t, &get("/")).await);
        assert_eq!(kind, "failed");
        assert!(message.contains("middle of the response head"), "{message}");

        let t = target(|_| (vec![b"SMTP ready\r\n\r\n"], false)).await;
        let (kind, message) = error(send(&pool(), &t, &get("/")).await);
        assert_eq!(kind, "failed");
        assert!(message.contains("malformed response head"), "{message}");

        let t = target(|_| {
            (
                vec![b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok"],
                false,
            )
        })
        .await;
        let (kind, message) = error(send(&pool(), &t, &get("/")).await);
        assert_eq!(kind, "failed");
        assert!(message.contains("conflicting Content-Length"), "{message}");
    }

    #[tokio::test]
    async fn a_body_cut_short_is_an_error() {
        let t = target(|_| {
            (
                vec![b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort"],
                true,
            )
        })
        .await;
        let Attempt::Answered(response) = send(&pool(), &t, &get("/")).await else {
            panic!("no answer");
        };
        let e = response.into_body().collect().await.err().unwrap();
        assert!(e.to_string().contains("before the end of the body"), "{e}");
    }

    #[tokio::test]
    async fn requests_without_host_name_the_target_and_empty_posts_say_so() {
        let t = target(|_| (vec![b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"], false)).await;
        let pool = pool();
        let head = RequestHead::new(&Method::POST, "/submit", &HeaderMap::new());
        read(send(&pool, &t, &head).await).await;
        let requests = t.requests.lock().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&requests[0]),
            "POST /submit HTTP/1.1\r\ncontent-length: 0\r\nhost: target:80\r\n\r\n"
        );
    }
}
