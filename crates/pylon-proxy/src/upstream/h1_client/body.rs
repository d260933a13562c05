//! A response body read from a target's connection by the client connection's own task.

use super::framing::{Chunk, Framing};
use super::parse_head;
use super::{Pool, MAX_HEADERS, READ_CHUNK};
use crate::message::{h1_head, BoxError, MAX_HEAD_BYTES};
use bytes::{Buf, Bytes, BytesMut};
use hyper::body::{Frame, SizeHint};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// The longest chunk-size line (with extensions) of a chunked body.
const MAX_CHUNK_LINE: usize = 4096;

pub struct Connection {
    pub stream: TcpStream,
    pub pool: Arc<Pool>,
    pub target: SocketAddr,
}

/// A response body read from a target's connection; the connection goes back to the pool when
/// the body ends cleanly and is closed when it is dropped before that.
pub struct H1Body {
    pub connection: Option<Connection>,
    pub buf: BytesMut,
    pub framing: Framing,
    pub keep_alive: bool,
    /// Data already read, handed out first.
    pub ready: Option<Bytes>,
}

impl H1Body {
    pub fn empty() -> Self {
        H1Body {
            connection: None,
            buf: BytesMut::new(),
            framing: Framing::Done,
            keep_alive: false,
            ready: None,
        }
    }

    /// The body is over: the connection is reused when nothing unexpected follows it.
    pub fn finish(&mut self) {
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
    pub fn chunked(&mut self, state: Chunk) -> Option<Result<Option<Frame<Bytes>>, String>> {
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
pub fn decode_response(buf: &[u8], head_request: bool) -> Result<(u16, usize, bool), String> {
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
