//! Responses written on the own HTTP/1.1 path: the head encoded once, the body delimited as the
//! client's version allows.

use crate::message::{h1_head, Body};
use bytes::Buf;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Body as _;
use std::cell::RefCell;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;
use std::time::SystemTime;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

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
pub async fn write_response(
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
