//! Each step on its own, and the steps of a rule together, without sockets.

use super::cors::Cors;
use super::fixed::Fixed;
use super::forwarded::Forwarded;
use super::grpc::GrpcErrors;
use super::headers::{Headers, RequestHeaders, ResponseHeaders};
use super::hop::HopByHop;
use super::redirect::{AlbRedirect, RouteRedirect};
use super::rewrite::UrlRewrite;
use super::step::{inward, outward, Exchange, Flow, ListenerFacts, Step, Timeouts};
use super::Pipeline;
use crate::message::answer::{self, Generated};
use crate::message::{full, Body, Client};
use crate::upstream::balance::TargetGroupRuntime;
use crate::upstream::Clients;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use pylon_ir::{Action, Filter, HeaderModifier, PathModifier, Protocol, WeightedTargetGroup};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

fn listener(protocol: Protocol, port: u16) -> ListenerFacts {
    ListenerFacts {
        protocol,
        port,
        idle_timeout: Duration::from_secs(60),
        keyring: Arc::default(),
    }
}

fn request(uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::builder().uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(full(Bytes::new())).unwrap()
}

/// What the steps see for one request from 192.0.2.7.
struct World {
    client: Client,
    clients: Arc<Clients>,
}

impl World {
    fn new() -> Self {
        World {
            client: Client::new("192.0.2.7:40000".parse().unwrap()),
            clients: Arc::default(),
        }
    }

    fn exchange<'a>(&'a self, request: Request<Body>, host: &'a str) -> Exchange<'a> {
        Exchange::new(request, &self.client, host, &self.clients)
    }
}

async fn answered<'a>(step: &'a impl Step, exchange: &mut Exchange<'a>) -> Response<Body> {
    match step.request(exchange).await {
        Flow::Answer(response) => response,
        Flow::Next => panic!("the step passed the request on"),
    }
}

async fn passed<'a>(step: &'a impl Step, exchange: &mut Exchange<'a>) {
    if let Flow::Answer(response) = step.request(exchange).await {
        panic!("the step answered {}", response.status());
    }
}

async fn text(response: Response<Body>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn header<'r>(response: &'r Response<Body>, name: &str) -> Option<&'r str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

fn target_response(status: u16) -> Response<Body> {
    let mut response = Response::new(full(Bytes::from_static(b"from the target")));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
    response
}

#[tokio::test]
async fn a_fixed_response_answers_with_its_status_type_and_body() {
    let world = World::new();
    let step = Fixed::new(418, "application/json", &Some("{\"a\":1}".into()));
    let mut exchange = world.exchange(request("/x", &[]), "example.com");
    let response = answered(&step, &mut exchange).await;
    assert_eq!(response.status(), 418);
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    assert!(response.extensions().get::<Generated>().is_some());
    assert_eq!(text(response).await, "{\"a\":1}");
}

#[tokio::test]
async fn an_alb_redirect_fills_in_the_requests_own_parts() {
    let world = World::new();
    let action = Action::Redirect {
        protocol: "HTTPS".into(),
        port: "443".into(),
        host: "#{host}".into(),
        path: "/new/#{path}".into(),
        query: "#{query}&from=#{port}".into(),
        status_code: 301,
    };
    let step = AlbRedirect::compile(&action, &listener(Protocol::Http, 8080));
    let mut exchange = world.exchange(request("/old/page?a=1", &[]), "shop.example.com");
    let response = answered(&step, &mut exchange).await;
    assert_eq!(response.status(), 301);
    assert_eq!(
        header(&response, "location"),
        Some("https://shop.example.com:443/new/old/page?a=1&from=8080")
    );
}

#[tokio::test]
async fn a_route_redirect_leaves_out_the_well_known_port_of_a_new_scheme() {
    let world = World::new();
    let action = Action::RouteRedirect {
        scheme: Some("https".into()),
        hostname: None,
        port: None,
        path: Some(PathModifier::ReplacePrefixMatch {
            matched: "/old".into(),
            replacement: "/new".into(),
        }),
        status_code: 302,
    };
    let step = RouteRedirect::compile(&action, &listener(Protocol::Http, 8080));
    let mut exchange = world.exchange(request("/old/a?q=1", &[]), "example.com");
    let response = answered(&step, &mut exchange).await;
    assert_eq!(
        header(&response, "location"),
        Some("https://example.com/new/a?q=1")
    );
    // Without a scheme, the listener's port stays.
    let action = Action::RouteRedirect {
        scheme: None,
        hostname: Some("other.example.com".into()),
        port: None,
        path: None,
        status_code: 302,
    };
    let step = RouteRedirect::compile(&action, &listener(Protocol::Http, 8080));
    let mut exchange = world.exchange(request("/a", &[]), "example.com");
    let response = answered(&step, &mut exchange).await;
    assert_eq!(
        header(&response, "location"),
        Some("http://other.example.com:8080/a")
    );
}

fn modifier(set: &[(&str, &str)], add: &[(&str, &str)], remove: &[&str]) -> HeaderModifier {
    let pairs = |list: &[(&str, &str)]| {
        list.iter()
            .map(|(n, v)| pylon_ir::HeaderValue {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect()
    };
    HeaderModifier {
        set: pairs(set),
        add: pairs(add),
        remove: remove.iter().map(|n| n.to_string()).collect(),
    }
}

#[tokio::test]
async fn request_headers_are_set_added_to_and_removed() {
    let world = World::new();
    let step = RequestHeaders(Headers::compile(&modifier(
        &[("x-set", "new")],
        &[("x-add", "two")],
        &["x-gone"],
    )));
    let original = request("/", &[("x-set", "old"), ("x-add", "one"), ("x-gone", "1")]);
    let mut exchange = world.exchange(original, "example.com");
    passed(&step, &mut exchange).await;
    let headers = exchange.request.headers();
    assert_eq!(headers["x-set"], "new");
    assert_eq!(headers["x-add"], "one,two");
    assert!(!headers.contains_key("x-gone"));
}

#[tokio::test]
async fn response_headers_change_a_targets_response_and_not_pylons_own() {
    let world = World::new();
    let step = ResponseHeaders(Headers::compile(&modifier(
        &[("x-served", "yes")],
        &[],
        &[],
    )));
    let mut exchange = world.exchange(request("/", &[]), "example.com");
    passed(&step, &mut exchange).await;
    let response = step.response(&mut exchange, target_response(200));
    assert_eq!(header(&response, "x-served"), Some("yes"));
    let own = step.response(&mut exchange, answer::error(503, b"503\n"));
    assert_eq!(header(&own, "x-served"), None);
}

#[tokio::test]
async fn a_url_rewrite_replaces_the_prefix_keeps_the_query_and_sets_the_host() {
    let world = World::new();
    let path = PathModifier::ReplacePrefixMatch {
        matched: "/api".into(),
        replacement: "/v2".into(),
    };
    let step = UrlRewrite::new(Some("internal.example.com"), Some(&path));
    let mut exchange = world.exchange(
        request("/api/users?id=7", &[("host", "a.example.com")]),
        "a.example.com",
    );
    passed(&step, &mut exchange).await;
    assert_eq!(exchange.request.uri(), "/v2/users?id=7");
    assert_eq!(exchange.request.headers()["host"], "internal.example.com");
}

fn cors() -> Cors {
    Cors::compile(&Filter::Cors {
        allow_origins: vec!["https://*.example.com".into()],
        allow_methods: vec!["GET".into(), "PUT".into()],
        allow_headers: vec!["*".into()],
        expose_headers: vec!["x-total".into()],
        allow_credentials: true,
        max_age_seconds: 600,
    })
    .expect("a CORS filter")
}

#[tokio::test]
async fn a_cors_preflight_is_answered_here() {
    let world = World::new();
    let step = cors();
    let preflight = Request::builder()
        .method("OPTIONS")
        .uri("/a")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "x-token")
        .body(full(Bytes::new()))
        .unwrap();
    let mut exchange = world.exchange(preflight, "api.example.com");
    let response = answered(&step, &mut exchange).await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        header(&response, "access-control-allow-methods"),
        Some("GET, PUT")
    );
    assert_eq!(
        header(&response, "access-control-allow-headers"),
        Some("x-token")
    );
    assert_eq!(
        header(&response, "access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(header(&response, "access-control-max-age"), Some("600"));
    assert_eq!(header(&response, "content-type"), None);
}

#[tokio::test]
async fn cors_headers_go_on_responses_to_allowed_origins_only() {
    let world = World::new();
    let step = cors();
    let mut exchange = world.exchange(
        request("/a", &[("origin", "https://app.example.com")]),
        "api.example.com",
    );
    passed(&step, &mut exchange).await;
    let response = step.response(&mut exchange, target_response(200));
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        header(&response, "access-control-expose-headers"),
        Some("x-total")
    );
    let mut exchange = world.exchange(
        request("/a", &[("origin", "https://evil.test")]),
        "api.example.com",
    );
    passed(&step, &mut exchange).await;
    let response = step.response(&mut exchange, target_response(200));
    assert_eq!(header(&response, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn pylons_own_errors_to_grpc_calls_become_grpc_statuses() {
    let world = World::new();
    let step = GrpcErrors;
    let call = request("/pkg.Svc/Method", &[("content-type", "application/grpc")]);
    let mut exchange = world.exchange(call, "example.com");
    passed(&step, &mut exchange).await;
    let response = step.response(&mut exchange, answer::error(503, b"503\n"));
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "grpc-status"), Some("14"));
    assert_eq!(header(&response, "content-type"), Some("application/grpc"));
    // Not a gRPC call: left as it is.
    let mut exchange = world.exchange(request("/", &[]), "example.com");
    passed(&step, &mut exchange).await;
    let response = step.response(&mut exchange, answer::error(503, b"503\n"));
    assert_eq!(response.status(), 503);
}

#[tokio::test]
async fn hop_by_hop_fields_stay_on_their_hop() {
    let world = World::new();
    let step = HopByHop { http2: true };
    let original = request(
        "/",
        &[
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("x-kept", "1"),
        ],
    );
    let mut exchange = world.exchange(original, "example.com");
    passed(&step, &mut exchange).await;
    let headers = exchange.request.headers();
    for gone in ["connection", "x-private", "keep-alive"] {
        assert!(!headers.contains_key(gone), "{gone} was forwarded");
    }
    assert_eq!(
        headers["te"], "trailers",
        "an HTTP/2 target gets TE: trailers"
    );
    assert_eq!(headers["x-kept"], "1");
    let mut from_target = target_response(200);
    from_target
        .headers_mut()
        .insert("connection", "close".parse().unwrap());
    let response = step.response(&mut exchange, from_target);
    assert_eq!(header(&response, "connection"), None);
}

#[tokio::test]
async fn an_unasked_protocol_switch_is_a_502() {
    let world = World::new();
    let step = HopByHop { http2: false };
    let mut exchange = world.exchange(request("/", &[]), "example.com");
    passed(&step, &mut exchange).await;
    let mut switched = target_response(101);
    switched
        .headers_mut()
        .insert("upgrade", "websocket".parse().unwrap());
    assert_eq!(step.response(&mut exchange, switched).status(), 502);
}

#[tokio::test]
async fn the_forwarding_headers_name_the_client_and_the_listener() {
    let world = World::new();
    let step = Forwarded::new(&listener(Protocol::Https, 8443));
    let mut exchange = world.exchange(
        request("/", &[("x-forwarded-for", "203.0.113.1")]),
        "example.com",
    );
    passed(&step, &mut exchange).await;
    let headers = exchange.request.headers();
    assert_eq!(headers["x-forwarded-for"], "203.0.113.1, 192.0.2.7");
    assert_eq!(headers["x-forwarded-proto"], "https");
    assert_eq!(headers["x-forwarded-port"], "8443");
    let mut exchange = world.exchange(request("/", &[]), "example.com");
    passed(&step, &mut exchange).await;
    assert_eq!(exchange.request.headers()["x-forwarded-for"], "192.0.2.7");
}

/// A step that writes its name into a response header on the way back, and answers when told.
struct Marker(&'static str, bool);

impl Step for Marker {
    async fn request<'a>(&'a self, _: &mut Exchange<'a>) -> Flow {
        if self.1 {
            Flow::Answer(target_response(200))
        } else {
            Flow::Next
        }
    }

    fn response(&self, _: &mut Exchange<'_>, mut response: Response<Body>) -> Response<Body> {
        let trail = match response.headers().get("x-trail") {
            Some(v) => format!("{},{}", v.to_str().unwrap(), self.0),
            None => self.0.to_string(),
        };
        response
            .headers_mut()
            .insert("x-trail", trail.parse().unwrap());
        response
    }
}

async fn trail(steps: &[Marker], end: &Marker) -> String {
    let world = World::new();
    let mut exchange = world.exchange(request("/", &[]), "example.com");
    let mut seen = 0;
    let response = inward(steps, end, &mut exchange, &mut seen).await;
    let response = outward(steps, end, seen, &mut exchange, response);
    header(&response, "x-trail").unwrap().to_string()
}

#[tokio::test]
async fn responses_go_back_through_the_steps_that_saw_the_request_in_reverse() {
    let end = Marker("end", true);
    let steps = [Marker("a", false), Marker("b", false)];
    assert_eq!(trail(&steps, &end).await, "end,b,a");
    // A step that answers is the last to see the request.
    let steps = [Marker("a", false), Marker("b", true), Marker("c", false)];
    assert_eq!(trail(&steps, &end).await, "b,a");
}

fn groups(names: &[(&str, usize)]) -> HashMap<String, Arc<TargetGroupRuntime>> {
    names
        .iter()
        .map(|(name, targets)| {
            let targets = (0..*targets)
                .map(|i| {
                    let addr = format!("192.0.2.{}:80", i + 1).parse().unwrap();
                    (addr, Arc::new(crate::upstream::health::TargetHealth::new()))
                })
                .collect();
            let group = TargetGroupRuntime::new(name.to_string(), false, targets);
            (name.to_string(), Arc::new(group))
        })
        .collect()
}

fn forward_to(backends: &[(&str, u32)], unusable_weight: u32) -> Action {
    Action::Forward {
        target_groups: backends
            .iter()
            .map(|(id, weight)| WeightedTargetGroup {
                id: id.to_string(),
                weight: *weight,
                filters: vec![],
            })
            .collect(),
        unusable_weight,
    }
}

#[tokio::test]
async fn a_rule_answers_500_for_its_unusable_share_and_503_without_targets() {
    let world = World::new();
    let groups = groups(&[("empty", 0)]);
    let facts = listener(Protocol::Http, 80);
    let all_unusable = Pipeline::compile(
        &[],
        &forward_to(&[], 1),
        Timeouts::default(),
        None,
        &facts,
        &groups,
    );
    let mut exchange = world.exchange(request("/", &[]), "example.com");
    assert_eq!(all_unusable.run(&mut exchange).await.status(), 500);
    let empty = Pipeline::compile(
        &[],
        &forward_to(&[("empty", 1)], 0),
        Timeouts::default(),
        None,
        &facts,
        &groups,
    );
    let mut exchange = world.exchange(request("/", &[]), "example.com");
    let response = empty.run(&mut exchange).await;
    assert_eq!(response.status(), 503);
    assert_eq!(
        text(response).await,
        "503 Service Unavailable: no targets\n"
    );
}

#[tokio::test]
async fn a_rules_cors_answers_preflights_before_its_action() {
    let world = World::new();
    let cors = Filter::Cors {
        allow_origins: vec!["*".into()],
        allow_methods: vec!["GET".into()],
        allow_headers: vec![],
        expose_headers: vec![],
        allow_credentials: false,
        max_age_seconds: 5,
    };
    let fixed = Action::FixedResponse {
        status_code: 200,
        content_type: "text/plain".into(),
        message_body: Some("fixed".into()),
    };
    let facts = listener(Protocol::Http, 80);
    let pipeline = Pipeline::compile(
        &[cors],
        &fixed,
        Timeouts::default(),
        None,
        &facts,
        &HashMap::new(),
    );
    let preflight = Request::builder()
        .method("OPTIONS")
        .uri("/")
        .header("origin", "https://a.test")
        .header("access-control-request-method", "GET")
        .body(full(Bytes::new()))
        .unwrap();
    let mut exchange = world.exchange(preflight, "example.com");
    assert_eq!(pipeline.run(&mut exchange).await.status(), 204);
    let mut exchange = world.exchange(request("/", &[("origin", "https://a.test")]), "example.com");
    let response = pipeline.run(&mut exchange).await;
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some("https://a.test")
    );
    assert_eq!(text(response).await, "fixed");
}
