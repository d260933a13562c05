//! Hop-by-hop fields (RFC 9110 §7.6.1) between the client's connection and the target's: removed
//! both ways, except the one upgrade a request may carry, which becomes a tunnel once the target
//! switches protocols.

use super::step::{Exchange, Flow, Step};
use crate::message::answer::{self, Generated};
use crate::message::hop_by_hop::{strip_hop_by_hop, upgrade_protocol};
use crate::message::Body;
use crate::upstream::tunnel;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

#[derive(Debug)]
pub struct HopByHop {
    /// Whether the target speaks HTTP/2, where `TE: trailers` is the one TE value allowed.
    pub http2: bool,
}

impl Step for HopByHop {
    async fn request<'a>(&'a self, exchange: &mut Exchange<'a>) -> Flow {
        let request = &mut exchange.request;
        // An HTTP/1.1 upgrade (WebSocket) keeps its `Upgrade` and `Connection: upgrade` headers.
        let upgrade = upgrade_protocol(request);
        if upgrade.is_some() {
            exchange.client_upgrade = Some(hyper::upgrade::on(&mut *request));
        }
        let grpc_te =
            request.headers().get(header::TE) == Some(&HeaderValue::from_static("trailers"));
        strip_hop_by_hop(request.headers_mut());
        if let Some(protocol) = upgrade {
            let headers = request.headers_mut();
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, protocol);
        }
        if grpc_te && self.http2 {
            // gRPC servers expect `TE: trailers`.
            request
                .headers_mut()
                .insert(header::TE, HeaderValue::from_static("trailers"));
        }
        Flow::Next
    }

    fn response(
        &self,
        exchange: &mut Exchange<'_>,
        mut response: Response<Body>,
    ) -> Response<Body> {
        if response.extensions().get::<Generated>().is_some() {
            return response;
        }
        let switched = response.status() == StatusCode::SWITCHING_PROTOCOLS;
        let protocol = response.headers().get(header::UPGRADE).cloned();
        strip_hop_by_hop(response.headers_mut());
        match (exchange.client_upgrade.take(), switched, protocol) {
            (Some(client), true, Some(protocol)) => {
                tunnel(client, hyper::upgrade::on(&mut response));
                let headers = response.headers_mut();
                headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
                headers.insert(header::UPGRADE, protocol);
                response
            }
            (_, true, _) => {
                if let Some((target_group, target)) = exchange.upstream {
                    tracing::warn!(%target, %target_group, "target switched protocols unasked");
                }
                answer::error(502, b"502 Bad Gateway\n")
            }
            _ => response,
        }
    }
}
