use super::*;
use bytes::Bytes;
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
