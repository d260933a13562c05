//! End to end for the Gateway API: Pylon's own GatewayClass, real backends, real HTTP. Match
//! precedence across routes, weights, redirects, rewrites, header modifiers, mirroring,
//! cross-namespace attachment and backends with and without ReferenceGrant, and the statuses.

mod support;

use std::net::SocketAddr;
use std::time::Duration;
use support::*;

const CLASS_AND_GATEWAY: &str = r#"apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: pylon
spec:
  controllerName: pylon-project.github.io/gateway-controller
---
apiVersion: v1
kind: Namespace
metadata:
  name: infra
---
apiVersion: v1
kind: Namespace
metadata:
  name: apps
  labels: {team: apps}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: infra
spec:
  gatewayClassName: pylon
  listeners:
  - name: http
    protocol: HTTP
    port: 8080
    allowedRoutes:
      namespaces:
        from: Selector
        selector:
          matchExpressions:
          - {key: kubernetes.io/metadata.name, operator: In, values: [infra, apps]}
"#;

const ROUTES: &str = r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: a
  namespace: infra
spec:
  parentRefs: [{name: gw}]
  hostnames: [example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /v1}}]
    backendRefs: [{name: v1, port: 80}]
  - matches: [{path: {type: Exact, value: /v1/exact}}]
    backendRefs: [{name: v2, port: 80}]
  - matches:
    - path: {type: PathPrefix, value: /hdr}
      headers: [{name: X-Version, value: "2"}]
    backendRefs: [{name: v2, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /hdr}}]
    backendRefs: [{name: v1, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /weighted}}]
    backendRefs: [{name: v1, port: 80, weight: 3}, {name: v2, port: 80, weight: 1}]
  - matches: [{path: {type: PathPrefix, value: /redirect}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {hostname: other.example.com, statusCode: 301}
  - matches: [{path: {type: PathPrefix, value: /secure}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https}
  - matches: [{path: {type: PathPrefix, value: /moved}}]
    filters:
    - type: RequestRedirect
      requestRedirect:
        port: 9443
        path: {type: ReplacePrefixMatch, replacePrefixMatch: /new-home}
        statusCode: 308
  - matches: [{path: {type: PathPrefix, value: /sleep}}]
    timeouts: {request: 1s}
    backendRefs: [{name: v1, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /rewrite}}]
    filters:
    - type: URLRewrite
      urlRewrite:
        hostname: rewritten.example.com
        path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}
    backendRefs: [{name: v1, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /headers}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Added, value: "yes"}]
        remove: [X-Remove]
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        add: [{name: X-Resp, value: done}]
    backendRefs: [{name: v1, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /cors}}]
    filters:
    - type: CORS
      cors:
        allowOrigins: ["https://www.foo.com", "https://*.bar.com"]
        allowMethods: [GET, OPTIONS]
        allowHeaders: [x-header-1]
        exposeHeaders: [x-header-3]
        allowCredentials: true
        maxAge: 3600
    backendRefs: [{name: v1, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /mirror}}]
    filters:
    - type: RequestMirror
      requestMirror:
        backendRef: {name: mirror, port: 80}
    backendRefs: [{name: v1, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: b
  namespace: infra
spec:
  parentRefs: [{name: gw, sectionName: http}]
  hostnames: [example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /v1/longer}}]
    backendRefs: [{name: v2, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: app
  namespace: apps
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: [apps.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /own}}]
    backendRefs: [{name: app, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /borrowed}}]
    backendRefs: [{name: v2, namespace: infra, port: 80}]
"#;

const GRANT: &str = r#"apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: apps-to-v2
  namespace: infra
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: apps}]
  to: [{group: "", kind: Service, name: v2}]
"#;

fn in_namespace(text: &str, namespace: &str) -> String {
    text.replace("namespace: demo", &format!("namespace: {namespace}"))
}

fn location(r: &Reply) -> Option<String> {
    r.headers
        .iter()
        .find(|(k, _)| k == "location")
        .map(|(_, v)| v.clone())
}

#[test]
fn gateway_api_routing_filters_and_references() {
    let env = Env::new(41);
    env.write("gateway.yaml", CLASS_AND_GATEWAY);
    env.write(
        "v1.yaml",
        &in_namespace(&service("v1", 9000, &[env.backend_ip(1)]), "infra"),
    );
    env.write(
        "v2.yaml",
        &in_namespace(&service("v2", 9000, &[env.backend_ip(2)]), "infra"),
    );
    env.write(
        "mirror.yaml",
        &in_namespace(&service("mirror", 9000, &[env.backend_ip(3)]), "infra"),
    );
    env.write(
        "app.yaml",
        &in_namespace(&service("app", 9000, &[env.backend_ip(4)]), "apps"),
    );
    env.write("routes.yaml", ROUTES);
    let _v1 = env.backend(1, 9000, "v1");
    let _v2 = env.backend(2, 9000, "v2");
    let _mirror = env.backend(3, 9000, "mirror");
    let _app = env.backend(4, 9000, "app");
    let _pylon = env.pylon();
    let lb = env.wait_for_gateway("infra", "gw", 8080);
    let get = |path: &str, headers: &[(&str, &str)]| {
        http_request(lb, "GET", path, Some("example.com"), headers).unwrap()
    };
    let to = |path: &str| {
        let r = get(path, &[]);
        if r.status == 200 {
            r.backend()
        } else {
            r.status.to_string()
        }
    };

    // Precedence across rules and routes: Exact over PathPrefix, the longer prefix first (even
    // from another route), more header matches first.
    assert_eq!(to("/v1/x"), "v1");
    assert_eq!(to("/v1/exact"), "v2");
    assert_eq!(to("/v1/longer/x"), "v2");
    assert_eq!(to("/v1longer"), "404", "PathPrefix matches whole segments");
    assert_eq!(get("/hdr", &[("X-Version", "2")]).backend(), "v2");
    assert_eq!(get("/hdr", &[("X-Version", "3")]).backend(), "v1");
    assert_eq!(
        http_get(lb, "/v1/x", Some("other.example.com"))
            .unwrap()
            .status,
        404,
        "hostnames must match"
    );

    // Weights 3:1 over 400 requests, within 5 points.
    let picks: Vec<String> = (0..400).map(|_| to("/weighted")).collect();
    let v1 = picks.iter().filter(|b| *b == "v1").count();
    assert!((280..=320).contains(&v1), "v1 got {v1} of 400");
    assert_eq!(picks.iter().filter(|b| *b == "v2").count(), 400 - v1);

    // Redirects: an unchanged scheme keeps the listener port; https drops its well-known port.
    let r = get("/redirect/page?x=1", &[]);
    assert_eq!(r.status, 301);
    assert_eq!(
        location(&r).as_deref(),
        Some("http://other.example.com:8080/redirect/page?x=1")
    );
    let r = get("/secure", &[]);
    assert_eq!(r.status, 302);
    assert_eq!(location(&r).as_deref(), Some("https://example.com/secure"));

    let r = get("/moved/a/b?c=d", &[]);
    assert_eq!(r.status, 308);
    assert_eq!(
        location(&r).as_deref(),
        Some("http://example.com:9443/new-home/a/b?c=d")
    );

    // timeouts.request: a target slower than the route allows gets 504.
    assert_eq!(to("/sleep/100"), "v1");
    assert_eq!(to("/sleep/3000"), "504");

    // Rewrites: the matched prefix and the host.
    let seen = get("/rewrite/x?q=1", &[]).json();
    assert_eq!(seen["uri"], "/new/x?q=1");
    assert_eq!(seen["headers"]["host"], "rewritten.example.com");

    // Header modifiers, both ways.
    let r = get("/headers", &[("X-Remove", "gone"), ("X-Added", "no")]);
    let seen = r.json();
    assert_eq!(seen["headers"]["x-added"], "yes");
    assert!(seen["headers"].get("x-remove").is_none());
    assert!(
        r.headers
            .contains(&("x-resp".to_string(), "done".to_string())),
        "{:?}",
        r.headers
    );

    // CORS: preflights are answered by Pylon, actual requests get the headers; other origins none.
    let header = |r: &Reply, name: &str| {
        r.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let preflight = |origin: &str| {
        http_request(
            lb,
            "OPTIONS",
            "/cors",
            Some("example.com"),
            &[("Origin", origin), ("Access-Control-Request-Method", "GET")],
        )
        .unwrap()
    };
    let r = preflight("https://xpto.www.bar.com");
    assert_eq!(r.status, 204);
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("https://xpto.www.bar.com")
    );
    assert_eq!(
        header(&r, "access-control-allow-methods").as_deref(),
        Some("GET, OPTIONS")
    );
    assert_eq!(
        header(&r, "access-control-allow-headers").as_deref(),
        Some("x-header-1")
    );
    assert_eq!(
        header(&r, "access-control-max-age").as_deref(),
        Some("3600")
    );
    assert_eq!(
        header(&r, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert_eq!(
        header(
            &preflight("https://foobar.com"),
            "access-control-allow-origin"
        ),
        None
    );
    let r = get("/cors", &[("Origin", "https://www.foo.com")]);
    assert_eq!((r.status, r.backend()), (200, "v1".to_string()));
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("https://www.foo.com")
    );
    assert_eq!(
        header(&r, "access-control-expose-headers").as_deref(),
        Some("x-header-3")
    );
    assert_eq!(
        header(
            &get("/cors", &[("Origin", "https://evil.com")]),
            "access-control-allow-origin"
        ),
        None
    );

    // Mirroring: the mirror sees the request, the client gets the primary's answer.
    assert_eq!(to("/mirror/m1"), "v1");
    let mirror: SocketAddr = format!("{}:9000", env.backend_ip(3)).parse().unwrap();
    wait_until(
        Duration::from_secs(3),
        || {
            http_get(mirror, "/__requests", None)
                .unwrap()
                .body
                .contains("GET /mirror/m1")
        },
        || "the mirror never saw the request".into(),
    );

    // Cross-namespace: the apps route attaches (the Gateway selects its namespace) and reaches its
    // own Service; a Service in infra needs a ReferenceGrant, 500 until then.
    let apps = |path: &str| http_get(lb, path, Some("apps.example.com")).unwrap();
    assert_eq!(apps("/own").backend(), "app");
    assert_eq!(apps("/borrowed").status, 500);
    let status = env.status().to_string();
    assert!(status.contains("RefNotPermitted"), "{status}");
    env.write("grant.yaml", GRANT);
    wait_until(
        Duration::from_secs(3),
        || apps("/borrowed").status == 200,
        || "the ReferenceGrant was never honoured".into(),
    );
    assert_eq!(apps("/borrowed").backend(), "v2");

    // Statuses: attachedRoutes counts the three routes.
    let out = std::process::Command::new(PYLON)
        .args(["status", "--admin", &env.admin().to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("listener http: 3 route(s), Accepted, ResolvedRefs, Programmed"),
        "{text}"
    );
    assert!(text.contains("GatewayClass pylon: Accepted"), "{text}");
}

#[test]
fn routes_that_do_not_attach_say_why() {
    let env = Env::new(42);
    env.write("gateway.yaml", CLASS_AND_GATEWAY);
    env.write(
        "v1.yaml",
        &in_namespace(&service("v1", 9000, &[env.backend_ip(1)]), "infra"),
    );
    env.write(
        "routes.yaml",
        r#"apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: outsider, namespace: other}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  rules: [{backendRefs: [{name: v1, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: wrong-section, namespace: infra}
spec:
  parentRefs: [{name: gw, sectionName: https}]
  rules: [{backendRefs: [{name: v1, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: missing-backend, namespace: infra}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: nowhere, port: 80}]}]
"#,
    );
    let _pylon = env.pylon();
    let lb = env.wait_for_gateway("infra", "gw", 8080);
    wait_until(
        Duration::from_secs(3),
        || env.status().to_string().contains("NotAllowedByListeners"),
        || format!("{}", env.status()),
    );
    let status = env.status().to_string();
    assert!(status.contains("NoMatchingParent"), "{status}");
    assert!(status.contains("BackendNotFound"), "{status}");
    // The route with a missing backend is attached and answers 500.
    assert_eq!(http_get(lb, "/", None).unwrap().status, 500);
}

#[test]
fn a_host_named_by_a_listener_is_served_only_by_its_routes() {
    let env = Env::new(43);
    env.write(
        "gateway.yaml",
        &CLASS_AND_GATEWAY.replace(
            "  - name: http\n    protocol: HTTP\n    port: 8080\n",
            "  - name: specific\n    protocol: HTTP\n    port: 8080\n    hostname: a.example.com\n  - name: http\n    protocol: HTTP\n    port: 8080\n",
        ),
    );
    env.write(
        "v1.yaml",
        &in_namespace(&service("v1", 9000, &[env.backend_ip(1)]), "infra"),
    );
    env.write(
        "v2.yaml",
        &in_namespace(&service("v2", 9000, &[env.backend_ip(2)]), "infra"),
    );
    env.write(
        "routes.yaml",
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: any-host, namespace: infra}
spec:
  parentRefs: [{name: gw, sectionName: http}]
  rules: [{backendRefs: [{name: v1, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: specific, namespace: infra}
spec:
  parentRefs: [{name: gw, sectionName: specific}]
  rules: [{matches: [{path: {type: PathPrefix, value: /only}}], backendRefs: [{name: v2, port: 80}]}]
"#,
    );
    let _v1 = env.backend(1, 9000, "v1");
    let _v2 = env.backend(2, 9000, "v2");
    let _pylon = env.pylon();
    let lb = env.wait_for_gateway("infra", "gw", 8080);
    let to = |host: &str, path: &str| {
        let r = http_get(lb, path, Some(host)).unwrap();
        if r.status == 200 {
            r.backend()
        } else {
            r.status.to_string()
        }
    };
    assert_eq!(to("a.example.com", "/only/x"), "v2");
    assert_eq!(
        to("a.example.com", "/other"),
        "404",
        "the wider listener's route must not answer"
    );
    assert_eq!(to("b.example.com", "/other"), "v1");
}
