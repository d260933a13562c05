//! The route tables on their own: which rule a request gets, without sockets.

use super::*;
use http::HeaderMap;
use pylon_ir::{Listener, LoadBalancer};
use serde_json::{json, Value};

fn rule(priority: u32, conditions: Value) -> Value {
    json!({
        "priority": priority,
        "origin": {"object": {"kind": "Ingress", "namespace": "t", "name": "web"},
                   "field": format!("spec.rules[{priority}]")},
        "conditions": conditions,
        "action": {"type": "fixed-response", "statusCode": 200, "contentType": "text/plain"},
    })
}

fn compiled(rules: Vec<Value>) -> CompiledListener {
    let listener: Listener = serde_json::from_value(json!({
        "id": "lb/listener/80",
        "protocol": "HTTP",
        "port": 80,
        "rules": rules,
        "defaultAction": {"type": "fixed-response", "statusCode": 404, "contentType": "text/plain"},
    }))
    .expect("a listener");
    let lb: LoadBalancer = serde_json::from_value(json!({
        "id": "lb",
        "name": "k8s-t-web-0123456789",
        "origin": {"kind": "Ingress", "namespace": "t", "name": "web"},
        "scheme": "internal",
        "attributes": {"idleTimeoutSeconds": 60},
        "listeners": [],
        "targetGroups": {},
    }))
    .expect("a load balancer");
    CompiledListener::compile(&lb, &listener, &HashMap::new(), &Arc::default())
}

struct Request<'a> {
    host: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    method: &'a str,
    headers: HeaderMap,
    client: &'a str,
}

impl Default for Request<'_> {
    fn default() -> Self {
        Request {
            host: "example.com",
            path: "/",
            query: None,
            method: "GET",
            headers: HeaderMap::new(),
            client: "10.0.0.1",
        }
    }
}

/// The priority of the rule the request gets (0: the default action).
fn routed(listener: &CompiledListener, request: &Request<'_>) -> u32 {
    let facts = RequestFacts {
        host: request.host.as_bytes(),
        path: request.path.as_bytes(),
        query: request.query,
        method: request.method,
        headers: &request.headers,
        client: request.client.parse().unwrap(),
    };
    listener.route(&facts).rule
}

#[test]
fn the_first_rule_whose_conditions_all_hold_wins() {
    let listener = compiled(vec![
        rule(
            1,
            json!([{"field": "path-pattern", "values": ["/api/*"]},
                       {"field": "http-request-method", "values": ["POST"]}]),
        ),
        rule(2, json!([{"field": "path-pattern", "values": ["/api/*"]}])),
        rule(3, json!([])),
    ]);
    let post = Request {
        path: "/api/users",
        method: "POST",
        ..Request::default()
    };
    assert_eq!(routed(&listener, &post), 1);
    let get = Request {
        path: "/api/users",
        ..Request::default()
    };
    assert_eq!(routed(&listener, &get), 2, "one condition of rule 1 fails");
    assert_eq!(
        routed(&listener, &Request::default()),
        3,
        "no conditions: every request"
    );
}

#[test]
fn a_request_no_rule_matches_gets_the_default_action() {
    let listener = compiled(vec![rule(
        1,
        json!([{"field": "host-header", "values": ["*.example.com"]}]),
    )]);
    let other = Request {
        host: "example.org",
        ..Request::default()
    };
    assert_eq!(routed(&listener, &other), 0);
    let route = listener.route(&RequestFacts {
        host: b"example.org",
        path: b"/",
        query: None,
        method: "GET",
        headers: &HeaderMap::new(),
        client: "10.0.0.1".parse().unwrap(),
    });
    assert_eq!(&*route.origin, "default action");
    let sub = Request {
        host: "api.example.com",
        ..Request::default()
    };
    assert_eq!(routed(&listener, &sub), 1);
}

#[test]
fn headers_queries_and_source_addresses_are_conditions_too() {
    let listener = compiled(vec![
        rule(
            1,
            json!([{"field": "http-header", "httpHeaderName": "x-canary", "values": ["Y*"]}]),
        ),
        rule(
            2,
            json!([{"field": "query-string", "values": [{"key": "v", "value": "2"}]}]),
        ),
        rule(
            3,
            json!([{"field": "source-ip", "values": ["192.0.2.0/24"]}]),
        ),
    ]);
    let mut headers = HeaderMap::new();
    headers.insert("x-canary", "yes".parse().unwrap());
    let canary = Request {
        headers,
        ..Request::default()
    };
    assert_eq!(
        routed(&listener, &canary),
        1,
        "header values match case-insensitively"
    );
    let v2 = Request {
        query: Some("a=1&v=2"),
        ..Request::default()
    };
    assert_eq!(routed(&listener, &v2), 2);
    let office = Request {
        client: "192.0.2.44",
        ..Request::default()
    };
    assert_eq!(routed(&listener, &office), 3);
    assert_eq!(routed(&listener, &Request::default()), 0);
}
