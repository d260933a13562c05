use super::write::write_response;
use super::*;
use crate::message::full;
use crate::message::Body;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode, Version};
use hyper::body::Frame;
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
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
    type Error = crate::message::BoxError;

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
    let fixed = || crate::message::answer::fixed(404, "text/plain", Bytes::from_static(b"nope"));
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
        Response::new(crate::message::boxed(Pieces(VecDeque::from([
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
