//! HTTP/1.1 from clients on plaintext listeners, for requests without a body (most requests):
//! the request head is parsed here into a request whose fields share the bytes read, routed and
//! forwarded like any other, and the response is written back on the same task. An idle
//! connection holds no buffer. The first request this path does not take — one with a body, an
//! upgrade, `Expect`, a malformed or oversized head, or the HTTP/2 preface — hands the connection,
//! with every byte read so far, to hyper's server for the rest of its life, which also answers
//! malformed requests (400) and oversized heads (431).

use crate::forward::{self, Client, Context};
use crate::h1_head;
use crate::route::CompiledListener;
use crate::upstream::Body;
use crate::MAX_HEAD_BYTES;
use arc_swap::ArcSwap;
use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{BodyExt, Empty};
use hyper::body::Body as _;
use std::cell::RefCell;
use std::future::poll_fn;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::SystemTime;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// The most header fields a request handled here may have.
const MAX_HEADERS: usize = 100;
/// What is read at a time while a request head arrives.
const READ_CHUNK: usize = 4096;

/// The answer to a request head that did not arrive within the header read timeout.
pub const REQUEST_TIMEOUT: &[u8] = b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\ncontent-length: 20\r\nconnection: close\r\n\r\n408 Request Timeout\n";

/// A connection this path gave up on, with the bytes it had read and not used.
pub struct Handoff {
    pub stream: TcpStream,
    pub buffered: Bytes,
}

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
        let handled = forward::handle(request, listener, context.clone(), client.clone());
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
            || crate::hop_by_hop::has_connection_option(response.headers(), "close")
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
pub(crate) fn decode_requests(buf: &[u8]) -> Vec<bool> {
    let mut buf = BytesMut::from(buf);
    let mut refused = Vec::new();
    while let Next::Request(Parsed { mut request, .. }) = parse(&mut buf) {
        refused.push(crate::request_head::check(&mut request).is_err());
        if buf.is_empty() {
            break;
        }
    }
    refused
}

thread_local! {
    /// The `Date` value of the current second.
    static DATE: RefCell<(u64, HeaderValue)> = const { RefCell::new((0, HeaderValue::from_static(""))) };
}

fn date() -> HeaderValue {
    let now = SystemTime::now();
    let second = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != second {
            let formatted = httpdate::fmt_http_date(now);
            cached.1 = HeaderValue::from_str(&formatted).unwrap_or(HeaderValue::from_static(""));
            cached.0 = second;
        }
        cached.1.clone()
    })
}

/// How the response body is delimited on the wire.
#[derive(PartialEq, Eq)]
enum Delimit {
    None,
    Length(u64),
    Chunked,
    Close,
}

/// Writes `response`; `Ok(true)` when the connection can take another request.
async fn write_response(
    stream: &mut TcpStream,
    response: Response<Body>,
    version: Version,
    head_request: bool,
    mut keep_alive: bool,
) -> std::io::Result<bool> {
    let (parts, mut body) = response.into_parts();
    let status = parts.status;
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut head = Vec::with_capacity(256 + parts.headers.len() * 48);
    head.extend_from_slice(b"HTTP/1.1 ");
    head.extend_from_slice(status.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        if name == header::TRANSFER_ENCODING
            || name == header::CONNECTION
            || (bodiless && name == header::CONTENT_LENGTH)
        {
            continue;
        }
        h1_head::push_field(&mut head, name.as_str(), value.as_bytes());
    }
    if !parts.headers.contains_key(header::DATE) {
        h1_head::push_field(&mut head, "date", date().as_bytes());
    }
    let delimit = if bodiless {
        Delimit::None
    } else if let Some(n) = declared {
        Delimit::Length(n)
    } else if let Some(n) = body.size_hint().exact() {
        h1_head::push_field(&mut head, "content-length", n.to_string().as_bytes());
        Delimit::Length(n)
    } else if version == Version::HTTP_11 {
        h1_head::push_field(&mut head, "transfer-encoding", b"chunked");
        Delimit::Chunked
    } else {
        keep_alive = false;
        Delimit::Close
    };
    if !keep_alive {
        h1_head::push_field(&mut head, "connection", b"close");
    } else if version == Version::HTTP_10 {
        h1_head::push_field(&mut head, "connection", b"keep-alive");
    }
    head.extend_from_slice(b"\r\n");
    if head_request || delimit == Delimit::None || body.is_end_stream() {
        stream.write_all(&head).await?;
        let complete = match delimit {
            Delimit::Length(n) => head_request || n == 0,
            Delimit::Chunked => {
                if !head_request {
                    stream.write_all(b"0\r\n\r\n").await?;
                }
                true
            }
            _ => true,
        };
        return Ok(keep_alive && complete);
    }
    // The head goes out with the first piece of the body when that is ready now.
    let mut head = Some(head);
    let mut sent: u64 = 0;
    loop {
        let frame = if head.is_some() {
            match poll_fn(|cx| Poll::Ready(Pin::new(&mut body).poll_frame(cx))).await {
                Poll::Ready(frame) => frame,
                Poll::Pending => {
                    if let Some(h) = head.take() {
                        stream.write_all(&h).await?;
                    }
                    body.frame().await
                }
            }
        } else {
            body.frame().await
        };
        let data = match frame {
            None => break,
            Some(Err(_)) => {
                // The target's body broke off: the client sees the connection close.
                if let Some(h) = head.take() {
                    stream.write_all(&h).await?;
                }
                return Ok(false);
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue, // trailers: not sent over HTTP/1.1 here
            },
        };
        if data.is_empty() {
            continue;
        }
        sent += data.len() as u64;
        let prefix = head.take().unwrap_or_default();
        match delimit {
            Delimit::Chunked => {
                let size = format!("{:x}\r\n", data.len());
                let out = Buf::chain(prefix.as_slice(), size.as_bytes());
                let mut out = Buf::chain(Buf::chain(out, data), &b"\r\n"[..]);
                stream.write_all_buf(&mut out).await?;
            }
            _ => {
                let mut out = Buf::chain(prefix.as_slice(), data);
                stream.write_all_buf(&mut out).await?;
            }
        }
        if let Delimit::Length(n) = delimit {
            if sent > n {
                return Ok(false);
            }
        }
    }
    if let Some(h) = head.take() {
        stream.write_all(&h).await?;
    }
    match delimit {
        Delimit::Chunked => {
            stream.write_all(b"0\r\n\r\n").await?;
            Ok(keep_alive)
        }
        Delimit::Length(n) => Ok(keep_alive && sent == n),
        _ => Ok(false),
    }
}

/// A connection handed to hyper: the bytes already read come first.
pub struct Rewind {
    buffered: Bytes,
    stream: TcpStream,
}

impl From<Handoff> for Rewind {
    fn from(h: Handoff) -> Self {
        Rewind {
            buffered: h.buffered,
            stream: h.stream,
        }
    }
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.buffered.is_empty() {
            let n = self.buffered.len().min(out.remaining());
            out.put_slice(&self.buffered[..n]);
            self.buffered.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, out)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::full;
    use hyper::body::Frame;
    use std::collections::VecDeque;
    use tokio::net::TcpListener;

    fn parsed(raw: &[u8]) -> (Next, BytesMut) {
        let mut buf = BytesMut::from(raw);
        let next = parse(&mut buf);
        (next, buf)
    }

    fn request(raw: &[u8]) -> (Request<Empty<Bytes>>, bool) {
        match parsed(raw).0 {
            Next::Request(p) => (p.request, p.keep_alive),
            Next::Partial => panic!("partial"),
            Next::Handoff(_) => panic!("handed off"),
        }
    }

    #[test]
    fn requests_without_a_body_are_parsed_here() {
        let (r, keep_alive) =
            request(b"GET /a/b?c=d HTTP/1.1\r\nHost: Example.com\r\nX-Two: 1\r\nx-two: 2\r\n\r\n");
        assert_eq!(r.method(), Method::GET);
        assert_eq!(r.uri().path(), "/a/b");
        assert_eq!(r.uri().query(), Some("c=d"));
        assert_eq!(r.headers()["host"], "Example.com");
        assert_eq!(r.headers().get_all("x-two").iter().count(), 2);
        assert!(keep_alive);
        let (_, keep_alive) = request(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(!keep_alive);
        let (r, keep_alive) = request(b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!((r.version(), keep_alive), (Version::HTTP_10, false));
        let (_, keep_alive) = request(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert!(keep_alive);
        let (_, keep_alive) = request(b"POST /empty HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert!(keep_alive);
    }

    #[test]
    fn pipelined_requests_are_taken_one_at_a_time() {
        let (next, rest) = parsed(b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
        assert!(matches!(next, Next::Request(p) if p.request.uri() == "/1"));
        assert_eq!(&rest[..], b"GET /2 HTTP/1.1\r\n\r\n");
        assert!(matches!(
            parsed(b"GET /1 HTTP/1.1\r\nHost: a").0,
            Next::Partial
        ));
    }

    #[test]
    fn everything_else_goes_to_hyper_with_every_byte() {
        for raw in [
            &b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"[..],
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
            b"PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
            b"CONNECT example.com:443 HTTP/1.1\r\n\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"NOT HTTP AT ALL\r\n\r\n",
            b"GET /a b HTTP/1.1\r\n\r\n",
        ] {
            match parsed(raw).0 {
                Next::Handoff(bytes) => assert_eq!(&bytes[..], raw),
                _ => panic!("kept {}", String::from_utf8_lossy(raw)),
            }
        }
        let mut big = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_HEAD_BYTES));
        assert!(matches!(parsed(&big).0, Next::Handoff(b) if b.len() == big.len()));
    }

    /// A body of unknown length, in pieces.
    struct Pieces(VecDeque<&'static [u8]>);

    impl hyper::body::Body for Pieces {
        type Data = Bytes;
        type Error = crate::upstream::BoxError;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut TaskContext<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(
                self.0
                    .pop_front()
                    .map(|p| Ok(Frame::data(Bytes::from_static(p)))),
            )
        }
    }

    /// What a client receives for `response`, and whether the connection stays open.
    async fn written(response: Response<Body>, version: Version, head: bool) -> (String, bool) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let reusable = write_response(&mut server, response, version, head, true)
            .await
            .unwrap();
        drop(server);
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.unwrap();
        (String::from_utf8(out).unwrap(), reusable)
    }

    #[tokio::test]
    async fn responses_are_framed_for_the_client() {
        let fixed = || forward::fixed(404, "text/plain", Bytes::from_static(b"nope"));
        let (out, reusable) = written(fixed(), Version::HTTP_11, false).await;
        assert!(out.starts_with("HTTP/1.1 404 Not Found\r\n"), "{out}");
        assert!(
            out.contains("content-length: 4\r\n") && out.contains("date: "),
            "{out}"
        );
        assert!(out.ends_with("\r\n\r\nnope") && reusable, "{out}");

        let (out, reusable) = written(fixed(), Version::HTTP_11, true).await;
        assert!(
            out.ends_with("\r\n\r\n") && !out.contains("nope") && reusable,
            "{out}"
        );

        let pieces = || {
            Response::new(crate::upstream::boxed(Pieces(VecDeque::from([
                &b"hello "[..],
                b"world",
            ]))))
        };
        let (out, reusable) = written(pieces(), Version::HTTP_11, false).await;
        assert!(out.contains("transfer-encoding: chunked\r\n"), "{out}");
        assert!(
            out.ends_with("\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n") && reusable,
            "{out}"
        );

        // An HTTP/1.0 client cannot read chunks: the body ends with the connection.
        let (out, reusable) = written(pieces(), Version::HTTP_10, false).await;
        assert!(
            out.contains("connection: close\r\n") && !out.contains("chunked"),
            "{out}"
        );
        assert!(out.ends_with("\r\n\r\nhello world") && !reusable, "{out}");

        // A body shorter than its declared length closes the connection.
        let mut short = Response::new(full(Bytes::from_static(b"abc")));
        short
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from_static("10"));
        let (_, reusable) = written(short, Version::HTTP_11, false).await;
        assert!(!reusable);

        let mut no_content = Response::new(full(Bytes::new()));
        *no_content.status_mut() = StatusCode::NO_CONTENT;
        let (out, reusable) = written(no_content, Version::HTTP_11, false).await;
        assert!(
            !out.contains("content-length") && !out.contains("chunked") && reusable,
            "{out}"
        );
    }
}
