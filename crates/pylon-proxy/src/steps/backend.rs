//! The steps of one backend of a forward: the rule's and the backend's filters, hop-by-hop
//! fields, the forwarding headers and mirrors, before the request goes to the upstream.

use super::forwarded::Forwarded;
use super::headers::{RequestHeaders, ResponseHeaders};
use super::hop::HopByHop;
use super::mirror::Mirror;
use super::rewrite::UrlRewrite;
use super::step::step_enum;

step_enum! {
    /// The steps of one backend of a forward, before the upstream.
    pub enum BackendStep {
        RequestHeaders(RequestHeaders),
        ResponseHeaders(ResponseHeaders),
        Rewrite(UrlRewrite),
        Hop(HopByHop),
        Forwarded(Forwarded),
        Mirror(Mirror),
    }
}
