//! End to end: the real `pylon` binary on a manifest directory, real backend processes, real HTTP.
//! Routing by host and path, rule priorities, round robin, the ALB's headers and error codes.

mod support;

use std::collections::BTreeMap;
use support::*;

/// The shipped example (the seed's Ingress and Gateway unchanged), with its two backends moved
/// onto this test's network: `pylon plan` shows what the seed promises, and traffic alternates on
/// both load balancers.
#[test]
fn seed_ingress_and_gateway_round_robin_over_both_pods() {
    let env = Env::new(11);
    env.write_example(&[
        "00-nginx-backend.yaml",
        "01-ingress-alb.yaml",
        "02-gateway-alb.yaml",
    ]);
    let (code, plan) = env.pylon_command("plan", &[]);
    assert_eq!(code, 0);
    assert!(plan.contains("(Gateway demo/nginx-gateway-ip)"), "{plan}");
    assert!(plan.contains("IF path starts with /"), "{plan}");
    for expected in [
        "scheme internet-facing",
        "Listener HTTP:80",
        "1  IF path is /*",
        "default  THEN return fixed response 404",
        "target type ip, protocol HTTP, port 8080",
        &format!("target {}:8080", env.backend_ip(1)),
        &format!("target {}:8080", env.backend_ip(2)),
    ] {
        assert!(plan.contains(expected), "plan lacks {expected:?}:\n{plan}");
    }
    let _a = env.backend(1, 8080, "pod-a");
    let _b = env.backend(2, 8080, "pod-b");
    let _pylon = env.pylon();
    let ingress = env.wait_for_address("demo", "nginx-ingress");
    let gateway = env.wait_for_gateway("demo", "nginx-gateway-ip", 80);
    assert_ne!(
        ingress.ip(),
        gateway.ip(),
        "each load balancer has its own address"
    );
    for lb in [ingress, gateway] {
        assert_eq!(lb.port(), 80);
        assert!(
            lb.ip()
                .to_string()
                .starts_with(&format!("127.{}.1.", env.net)),
            "internet-facing pool: {lb}"
        );
        let answers: Vec<String> = (0..6)
            .map(|_| http_get(lb, "/", None).unwrap().backend())
            .collect();
        let mut counts = BTreeMap::new();
        for a in &answers {
            *counts.entry(a.as_str()).or_insert(0) += 1;
        }
        assert_eq!(counts.get("pod-a"), Some(&3), "{answers:?}");
        assert_eq!(counts.get("pod-b"), Some(&3), "{answers:?}");
        assert!(
            answers.windows(2).all(|w| w[0] != w[1]),
            "alternating: {answers:?}"
        );
        assert_eq!(
            http_get(lb, "/any/deep/path?q=1", None).unwrap().status,
            200
        );
    }
    // The statuses, as `pylon status` prints them.
    let out = std::process::Command::new(PYLON)
        .args(["status", "--admin", &env.admin().to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "Gateway demo/nginx-gateway-ip: {}; Accepted, Programmed",
            gateway.ip()
        )),
        "{text}"
    );
    assert!(
        text.contains("listener http: 1 route(s), Accepted, ResolvedRefs, Programmed"),
        "{text}"
    );
    assert!(
        text.contains("parent nginx-gateway-ip (http): Accepted, ResolvedRefs"),
        "{text}"
    );
    assert!(
        text.contains("GatewayClass aws-alb-gateway-class: Accepted"),
        "{text}"
    );
}

const ROUTING: &str = r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  namespace: demo
  annotations:
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/listen-ports: '[{"HTTP": 8080}]'
spec:
  ingressClassName: alb
  rules:
  - host: api.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: api, port: {number: 80}}}
      - path: /v2
        pathType: Prefix
        backend: {service: {name: v2, port: {number: 80}}}
      - path: /v2/health
        pathType: Exact
        backend: {service: {name: web, port: {name: http}}}
  - host: "*.example.com"
    http:
      paths:
      - path: /static/*.css
        pathType: ImplementationSpecific
        backend: {service: {name: v2, port: {number: 80}}}
      - path: /img/*.png
        pathType: ImplementationSpecific
        backend: {service: {name: v2, port: {number: 80}}}
      - path: /static
        pathType: Prefix
        backend: {service: {name: web, port: {number: 80}}}
"#;

#[test]
fn hosts_paths_and_priorities_route_as_the_alb_does() {
    let env = Env::new(12);
    env.write("ns.yaml", NAMESPACE);
    env.write("api.yaml", &service("api", 9001, &[env.backend_ip(1)]));
    env.write("v2.yaml", &service("v2", 9002, &[env.backend_ip(2)]));
    env.write("web.yaml", &service("web", 9003, &[env.backend_ip(3)]));
    env.write("ingress.yaml", ROUTING);
    let _api = env.backend(1, 9001, "api");
    let _v2 = env.backend(2, 9002, "v2");
    let _web = env.backend(3, 9003, "web");
    let _pylon = env.pylon();
    let lb = env.wait_for_address("demo", "shop");
    let to = |host: &str, path: &str| {
        let r = http_get(lb, path, Some(host)).unwrap();
        if r.status == 200 {
            r.backend()
        } else {
            r.status.to_string()
        }
    };
    // Within a rule: Exact first, then the longest Prefix.
    assert_eq!(to("api.example.com", "/v2/health"), "web");
    assert_eq!(to("api.example.com", "/v2"), "v2");
    assert_eq!(to("api.example.com", "/v2/users"), "v2");
    // Prefix matches whole segments only.
    assert_eq!(to("api.example.com", "/v2beta"), "api");
    assert_eq!(to("api.example.com", "/"), "api");
    // Hosts are case-insensitive and the port is ignored.
    assert_eq!(to("API.Example.COM:8080", "/v2"), "v2");
    // A wildcard host; ImplementationSpecific paths use ALB wildcards.
    // Within a rule, Prefix paths come before ImplementationSpecific ones, whatever the
    // manifest order: `/static` (Prefix) shadows `/static/*.css` for every path under it.
    assert_eq!(to("www.example.com", "/static/site/main.css"), "web");
    assert_eq!(to("www.example.com", "/staticfiles/main.css"), "404");
    assert_eq!(to("www.example.com", "/img/a/b.png"), "v2");
    assert_eq!(to("www.example.com", "/img/a/b.gif"), "404");
    assert_eq!(to("www.example.com", "/x/static/main.css"), "404");
    // The first rule's host wins over the wildcard, in manifest order.
    assert_eq!(to("api.example.com", "/static/a.css"), "api");
    // No rule matches: the listener's default action.
    assert_eq!(to("example.org", "/"), "404");
}

#[test]
fn forwarded_headers_are_added_as_an_alb_adds_them() {
    let env = Env::new(13);
    env.write("ns.yaml", NAMESPACE);
    env.write("svc.yaml", &service("web", 9000, &[env.backend_ip(1)]));
    env.write(
        "ingress.yaml",
        &ROUTING
            .replace("name: api", "name: web")
            .replace("name: v2", "name: web"),
    );
    let _web = env.backend(1, 9000, "web");
    let _pylon = env.pylon();
    let lb = env.wait_for_address("demo", "shop");
    let r = http_request(
        lb,
        "GET",
        "/x?y=1",
        Some("api.example.com"),
        &[
            ("X-Forwarded-For", "203.0.113.7"),
            ("Connection", "close, X-Drop-Me"),
            ("X-Drop-Me", "1"),
        ],
    )
    .unwrap();
    let json = r.json();
    let headers = &json["headers"];
    assert_eq!(headers["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["x-forwarded-port"], "8080");
    assert_eq!(headers["host"], "api.example.com");
    assert!(
        headers.get("x-drop-me").is_none(),
        "headers named in Connection are hop-by-hop"
    );
    assert_eq!(json["uri"], "/x?y=1");
}

#[test]
fn missing_services_empty_groups_dead_and_slow_targets() {
    let env = Env::new(14);
    env.write("ns.yaml", NAMESPACE);
    // `dead` points at an address where nothing listens; `empty` has no endpoints.
    env.write("dead.yaml", &service("dead", 9000, &[env.backend_ip(9)]));
    env.write(
        "empty.yaml",
        &service("empty", 9000, &[]).replace("endpoints:\n", "endpoints: []\n"),
    );
    env.write("slow.yaml", &service("slow", 9000, &[env.backend_ip(1)]));
    env.write(
        "ingress.yaml",
        r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: errors
  namespace: demo
  annotations:
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/listen-ports: '[{"HTTP": 8080}]'
    alb.ingress.kubernetes.io/load-balancer-attributes: idle_timeout.timeout_seconds=1
spec:
  ingressClassName: alb
  rules:
  - http:
      paths:
      - {path: /missing, pathType: Prefix, backend: {service: {name: nowhere, port: {number: 80}}}}
      - {path: /dead, pathType: Prefix, backend: {service: {name: dead, port: {number: 80}}}}
      - {path: /empty, pathType: Prefix, backend: {service: {name: empty, port: {number: 80}}}}
      - {path: /sleep, pathType: Prefix, backend: {service: {name: slow, port: {number: 80}}}}
"#,
    );
    let _slow = env.backend(1, 9000, "slow");
    let _pylon = env.pylon();
    let lb = env.wait_for_address("demo", "errors");
    let missing = http_get(lb, "/missing", None).unwrap();
    assert_eq!(missing.status, 503);
    assert_eq!(missing.body, "Backend service does not exist");
    assert_eq!(http_get(lb, "/empty", None).unwrap().status, 503);
    assert_eq!(http_get(lb, "/dead", None).unwrap().status, 502);
    assert_eq!(http_get(lb, "/sleep/100", None).unwrap().status, 200);
    assert_eq!(http_get(lb, "/sleep/3000", None).unwrap().status, 504);
    assert_eq!(http_get(lb, "/other", None).unwrap().status, 404);
    // The status names the missing Service.
    let status = env.status();
    let object = status["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "errors")
        .unwrap();
    let problems = object["problems"].to_string();
    assert!(
        problems.contains("Service demo/nowhere does not exist"),
        "{problems}"
    );
    let (_, text) = (
        0,
        std::process::Command::new(PYLON)
            .args(["status", "--admin", &env.admin().to_string()])
            .output()
            .unwrap(),
    );
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Ingress demo/errors: 127.14.2."), "{text}");
    assert!(text.contains("demo/nowhere"), "{text}");
}

#[test]
fn validate_lists_every_problem_and_fails() {
    let env = Env::new(15);
    env.write("ns.yaml", NAMESPACE);
    env.write(
        "broken.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: demo}\nspec:\n  portz: []\n",
    );
    env.write(
        "ingress.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: bad\n  namespace: demo\n  annotations:\n    alb.ingress.kubernetes.io/scheme: public\nspec:\n  ingressClassName: alb\n",
    );
    let (code, out) = env.pylon_command("validate", &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("field spec.portz"), "{out}");
    assert!(out.contains("alb.ingress.kubernetes.io/scheme"), "{out}");
    assert!(out.contains("2 error(s) found."), "{out}");
    std::fs::remove_file(env.manifests().join("broken.yaml")).unwrap();
    std::fs::remove_file(env.manifests().join("ingress.yaml")).unwrap();
    let (code, out) = env.pylon_command("validate", &[]);
    assert_eq!(code, 0, "{out}");
}

const ANNOTATED: &str = r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: annotated
  namespace: demo
  annotations:
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/listen-ports: '[{"HTTP": 8080}]'
    alb.ingress.kubernetes.io/conditions.beta: >
      [{"field": "http-header", "httpHeaderConfig": {"httpHeaderName": "X-Env", "values": ["beta*"]}},
       {"field": "source-ip", "sourceIpConfig": {"values": ["127.0.0.0/8"]}}]
    alb.ingress.kubernetes.io/conditions.posts: >
      [{"field": "http-request-method", "httpRequestMethodConfig": {"values": ["POST"]}},
       {"field": "query-string", "queryStringConfig": {"values": [{"key": "mode", "value": "fast*"}]}}]
    alb.ingress.kubernetes.io/actions.old: >
      {"Type": "redirect", "RedirectConfig": {"Host": "new.example.com", "Path": "/v2/#{path}", "StatusCode": "HTTP_302"}}
    alb.ingress.kubernetes.io/actions.maintenance: >
      {"type": "fixed-response", "fixedResponseConfig": {"contentType": "text/plain", "statusCode": "503", "messageBody": "back soon"}}
    alb.ingress.kubernetes.io/actions.split: >
      {"type": "forward", "forwardConfig": {"targetGroups": [
        {"serviceName": "a", "servicePort": 80, "weight": 3}, {"serviceName": "b", "servicePort": "80", "weight": 1}]}}
spec:
  ingressClassName: alb
  rules:
  - http:
      paths:
      - {path: /app, pathType: Prefix, backend: {service: {name: beta, port: {number: 80}}}}
      - {path: /app, pathType: Prefix, backend: {service: {name: posts, port: {number: 80}}}}
      - {path: /app, pathType: Prefix, backend: {service: {name: a, port: {number: 80}}}}
      - {path: /old, pathType: Prefix, backend: {service: {name: old, port: {name: use-annotation}}}}
      - {path: /maintenance, pathType: Exact, backend: {service: {name: maintenance, port: {name: use-annotation}}}}
      - {path: /split, pathType: Exact, backend: {service: {name: split, port: {name: use-annotation}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: secure
  namespace: demo
  annotations:
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/listen-ports: '[{"HTTP": 8081}, {"HTTPS": 8443}]'
    alb.ingress.kubernetes.io/ssl-redirect: "8443"
spec:
  ingressClassName: alb
  defaultBackend:
    service: {name: a, port: {number: 80}}
"#;

#[test]
fn annotation_actions_conditions_and_ssl_redirect() {
    let env = Env::new(16);
    env.write("ns.yaml", NAMESPACE);
    for (i, name) in ["a", "b", "beta", "posts"].iter().enumerate() {
        env.write(
            &format!("{name}.yaml"),
            &service(name, 9000, &[env.backend_ip(i as u8 + 1)]),
        );
    }
    env.write("ingress.yaml", ANNOTATED);
    let _backends: Vec<_> = ["a", "b", "beta", "posts"]
        .iter()
        .enumerate()
        .map(|(i, name)| env.backend(i as u8 + 1, 9000, name))
        .collect();
    let _pylon = env.pylon();
    let lb = env.wait_for_address("demo", "annotated");
    let get = |path: &str, headers: &[(&str, &str)]| {
        http_request(lb, "GET", path, Some("shop.example.com"), headers).unwrap()
    };

    // Header (with a wildcard, case-insensitive) and source-ip conditions.
    assert_eq!(get("/app", &[("X-Env", "BETA-2")]).backend(), "beta");
    assert_eq!(get("/app", &[("X-Env", "prod")]).backend(), "a");
    // Method and query-string conditions (percent-decoded).
    let post = http_request(
        lb,
        "POST",
        "/app?mode=fast%20lane",
        Some("shop.example.com"),
        &[],
    )
    .unwrap();
    assert_eq!(post.backend(), "posts");
    let post = http_request(lb, "POST", "/app?mode=slow", Some("shop.example.com"), &[]).unwrap();
    assert_eq!(post.backend(), "a");
    // A redirect keeps what it does not replace.
    let r = get("/old/page?x=1", &[]);
    assert_eq!(r.status, 302);
    let location = r
        .headers
        .iter()
        .find(|(k, _)| k == "location")
        .map(|(_, v)| v.as_str());
    assert_eq!(
        location,
        Some("http://new.example.com:8080/v2/old/page?x=1")
    );
    // A fixed response.
    let r = get("/maintenance", &[]);
    assert_eq!((r.status, r.body.as_str()), (503, "back soon"));
    // Weighted forward: 3 to 1.
    let picks: Vec<String> = (0..8).map(|_| get("/split", &[]).backend()).collect();
    assert_eq!(picks.iter().filter(|b| *b == "a").count(), 6, "{picks:?}");
    assert_eq!(picks.iter().filter(|b| *b == "b").count(), 2, "{picks:?}");

    // ssl-redirect: the HTTP listener only redirects to the HTTPS port.
    let secure = env.wait_for_address("demo", "secure");
    assert_eq!(secure.port(), 8081);
    let r = http_get(secure, "/cart?item=1", Some("shop.example.com")).unwrap();
    assert_eq!(r.status, 301);
    let location = r
        .headers
        .iter()
        .find(|(k, _)| k == "location")
        .map(|(_, v)| v.as_str());
    assert_eq!(location, Some("https://shop.example.com:8443/cart?item=1"));
}

/// `ip-address-type: dualstack`: the load balancer answers on its IPv4 address and on an IPv6
/// one (`--ipv6-pool`, default `::1/128`), both in the Ingress status, and reaches an IPv6
/// Service's pods over IPv6.
#[test]
fn dualstack_ingress_is_served_on_ipv4_and_ipv6() {
    let env = Env::new(88);
    env.write(
        "app.yaml",
        "apiVersion: v1
kind: Service
metadata: {name: app, namespace: demo}
spec:
  ipFamilies: [IPv6]
  ports: [{name: http, port: 80, targetPort: 9881}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: app-1
  namespace: demo
  labels: {kubernetes.io/service-name: app}
addressType: IPv6
ports: [{name: http, port: 9881}]
endpoints:
- addresses: [\"::1\"]
  conditions: {ready: true}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: dual
  namespace: demo
  annotations:
    alb.ingress.kubernetes.io/ip-address-type: dualstack
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/listen-ports: '[{\"HTTP\": 8881}]'
spec:
  ingressClassName: alb
  defaultBackend:
    service: {name: app, port: {number: 80}}
",
    );
    let _app = env.peer(
        "app",
        BACKEND,
        &["--listen", "[::1]:9881", "--name", "six"],
        "[::1]:9881",
    );
    let _pylon = env.pylon();
    let v4 = env.wait_for_address("demo", "dual");
    let status = env.status();
    let ingress = status["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "Ingress" && o["name"] == "dual")
        .unwrap()["status"]["loadBalancer"]["ingress"]
        .clone();
    let ips: Vec<&str> = ingress
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["ip"].as_str())
        .collect();
    assert_eq!(ips, [v4.ip().to_string().as_str(), "::1"], "{ingress}");
    for addr in [v4, "[::1]:8881".parse().unwrap()] {
        let reply = http_get(addr, "/hello", Some("dual.example.com")).expect("GET");
        assert_eq!(reply.status, 200, "{addr}: {}", reply.body);
        assert!(reply.body.contains("\"six\""), "{addr}: {}", reply.body);
    }
}
