//! End to end: the VPC Lattice GatewayClass through the real `pylon` binary with real backends.
//! The seed's Lattice Gateway and route served at the service network's address by the service's
//! generated DNS name, with the headers Lattice gives targets and none a client forged.

mod support;

use pylon_dns::RecordType;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use support::*;

/// The service network `name` as `/config` shows it, once it has an address.
fn network(env: &Env, name: &str) -> Value {
    let mut found = Value::Null;
    wait_until(
        Duration::from_secs(10),
        || {
            found = env.config()["ir"]["serviceNetworks"]
                .as_array()
                .and_then(|a| a.iter().find(|sn| sn["name"] == name).cloned())
                .unwrap_or(Value::Null);
            found["address"].is_string()
        },
        || {
            format!(
                "service network {name} never got an address: {}",
                env.config()
            )
        },
    );
    found
}

fn address(sn: &Value, port: u16) -> SocketAddr {
    SocketAddr::new(sn["address"].as_str().unwrap().parse().unwrap(), port)
}

/// What Pylon's DNS answers for `name` (A records), over UDP or TCP: (response code, addresses).
fn resolve(env: &Env, name: &str, tcp: bool) -> (String, Vec<std::net::IpAddr>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answer = runtime
        .block_on(pylon_dns::client::ask(env.dns(), tcp, name, RecordType::A))
        .unwrap();
    (
        answer.metadata.response_code.to_string(),
        pylon_dns::client::addresses(&answer),
    )
}

fn header<'a>(reply: &'a Value, name: &str) -> Option<&'a str> {
    reply["headers"][name].as_str()
}

#[test]
fn seed_lattice_route_answers_by_its_dns_name_with_lattice_headers() {
    let env = Env::new(78);
    env.write_example(&["00-nginx-backend.yaml", "03-gateway-lattice.yaml"]);
    let (code, plan) = env.pylon_command("plan", &[]);
    assert_eq!(code, 0, "{plan}");
    for expected in [
        "Service network nginx-lattice-gateway",
        "Service nginx-lattice-route-demo",
        ".7d67968.vpc-lattice-svcs.us-west-2.on.aws",
        "Listener HTTP:80",
        "1  IF path starts with /",
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
    let sn = network(&env, "nginx-lattice-gateway");
    let lb = address(&sn, 80);
    assert!(
        lb.ip()
            .to_string()
            .starts_with(&format!("127.{}.4.", env.net)),
        "the Lattice pool: {lb}"
    );
    let service = &sn["services"][0];
    let dns = service["dnsName"].as_str().unwrap();
    assert!(
        dns.starts_with("nginx-lattice-route-demo-"),
        "generated name: {dns}"
    );
    // The generated name resolves, through Pylon, to the service network's address.
    for tcp in [false, true] {
        let (code, addresses) = resolve(&env, dns, tcp);
        assert_eq!((code.as_str(), addresses), ("No Error", vec![lb.ip()]));
    }
    let (code, _) = resolve(
        &env,
        "gone-0123.7d67968.vpc-lattice-svcs.us-west-2.on.aws",
        false,
    );
    assert_eq!(code, "Non-Existent Domain");
    let (code, _) = resolve(&env, "example.com", true);
    assert_eq!(code, "Query Refused");
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..4 {
        let reply = http_request(
            lb,
            "GET",
            "/anything",
            Some(dns),
            &[
                ("x-amzn-lattice-identity", "Principal=arn:aws:iam::1:root"),
                ("x-amzn-lattice-target", "ServiceArn=forged"),
                ("x-amzn-source-vpc", "vpc-forged"),
            ],
        )
        .unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
        let json = reply.json();
        seen.insert(reply.backend());
        let tg = service["targetGroups"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap();
        assert_eq!(
            header(&json, "x-amzn-lattice-target"),
            Some(
                format!(
                    "ServiceArn={}; ServiceNetworkArn={}; TargetGroupArn={}",
                    service["arn"].as_str().unwrap(),
                    sn["arn"].as_str().unwrap(),
                    tg["arn"].as_str().unwrap()
                )
                .as_str()
            ),
            "{json}"
        );
        assert_eq!(
            header(&json, "x-amzn-lattice-network"),
            Some(format!("SourceVpcArn={}", sn["sourceVpcArn"].as_str().unwrap()).as_str())
        );
        assert_eq!(header(&json, "x-amzn-source-vpc"), sn["sourceVpc"].as_str());
        assert_eq!(
            header(&json, "x-amzn-lattice-identity"),
            None,
            "anonymous requests carry no identity: {json}"
        );
        assert_eq!(header(&json, "x-forwarded-for"), Some("127.0.0.1"));
        assert_eq!(header(&json, "x-forwarded-proto"), Some("http"));
        assert_eq!(header(&json, "x-forwarded-port"), Some("80"));
    }
    assert_eq!(seen.len(), 2, "both pods answer: {seen:?}");
    // The route's status and the annotations the controller writes, on the admin endpoint.
    let status = env.status();
    let route = status["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "HTTPRoute" && o["name"] == "nginx-lattice-route")
        .unwrap_or_else(|| panic!("no route status: {status}"));
    let annotations = &route["metadata"]["annotations"];
    assert_eq!(
        annotations["application-networking.k8s.aws/lattice-assigned-domain-name"],
        dns
    );
    assert_eq!(
        annotations["application-networking.k8s.aws/lattice-service-arn"],
        service["arn"]
    );
    let parent = &route["status"]["parents"][0];
    assert_eq!(
        parent["controllerName"],
        "application-networking.k8s.aws/gateway-api-controller"
    );
    assert!(
        parent["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Accepted" && c["status"] == "True"),
        "{parent}"
    );
    // A name no service of the network has.
    let other = http_get(
        lb,
        "/",
        Some("nobody.7d67968.vpc-lattice-svcs.us-west-2.on.aws"),
    )
    .unwrap();
    assert_eq!(other.status, 404);
    assert!(other.body.contains("Not Found"), "{}", other.body);
}

/// Three pods behind two Services, a Lattice route with a custom domain and path, header,
/// method and weighted rules, a TargetGroupPolicy health check and an AccessLogPolicy on the
/// Gateway.
fn mesh(env: &Env, route_rules: &str) -> String {
    let mut text = String::new();
    text.push_str(NAMESPACE);
    text.push_str("---\n");
    text.push_str(&service(
        "web",
        8080,
        &[env.backend_ip(1), env.backend_ip(2)],
    ));
    text.push_str("---\n");
    text.push_str(&service("api", 8080, &[env.backend_ip(3)]));
    text.push_str(&format!(
        "---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: amazon-vpc-lattice}}
spec: {{controllerName: application-networking.k8s.aws/gateway-api-controller}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: mesh, namespace: demo}}
spec:
  gatewayClassName: amazon-vpc-lattice
  listeners: [{{name: http, protocol: HTTP, port: 80}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: inventory, namespace: demo}}
spec:
  parentRefs: [{{name: mesh}}]
  hostnames: [inventory.example.com]
  rules:
{route_rules}---
apiVersion: application-networking.k8s.aws/v1alpha1
kind: TargetGroupPolicy
metadata: {{name: web-health, namespace: demo}}
spec:
  targetRef: {{group: \"\", kind: Service, name: web}}
  healthCheck:
    enabled: true
    intervalSeconds: 5
    timeoutSeconds: 1
    healthyThresholdCount: 2
    unhealthyThresholdCount: 2
    path: /healthz
---
apiVersion: application-networking.k8s.aws/v1alpha1
kind: AccessLogPolicy
metadata: {{name: mesh-logs, namespace: demo}}
spec:
  targetRef: {{group: gateway.networking.k8s.io, kind: Gateway, name: mesh}}
  destinationArn: arn:aws:logs:us-west-2:123456789012:log-group:/lattice/mesh
"
    ));
    text
}

const RULES: &str = "  - matches:
    - path: {type: PathPrefix, value: /api}
    backendRefs: [{name: api, port: 80}]
  - matches:
    - headers: [{name: x-canary, value: \"true\"}]
    backendRefs: [{name: api, port: 80}]
  - matches:
    - method: DELETE
    backendRefs: [{name: api, port: 80}]
  - backendRefs:
    - {name: web, port: 80, weight: 3}
    - {name: api, port: 80, weight: 1}
";

#[test]
fn lattice_rules_weights_health_checks_and_access_logs() {
    let env = Env::new(79);
    env.write("mesh.yaml", &mesh(&env, RULES));
    let _a = env.backend(1, 8080, "pod-a");
    let _b = env.backend(2, 8080, "pod-b");
    let _c = env.backend(3, 8080, "pod-c");
    let _pylon = env.pylon();
    let sn = network(&env, "mesh");
    let lb = address(&sn, 80);
    let dns = sn["services"][0]["dnsName"].as_str().unwrap().to_string();
    // Both names resolve to the network, and both reach the service.
    let (_, by_domain) = resolve(&env, "inventory.example.com", false);
    assert_eq!(by_domain, vec![lb.ip()]);
    let ask = |method: &str, path: &str, host: &str, headers: &[(&str, &str)]| {
        http_request(lb, method, path, Some(host), headers).unwrap()
    };
    for host in [dns.as_str(), "inventory.example.com"] {
        assert_eq!(ask("GET", "/api/items", host, &[]).backend(), "pod-c");
        assert_eq!(
            ask("GET", "/", host, &[("x-canary", "TRUE")]).backend(),
            "pod-c",
            "header values without regard to case"
        );
        assert_eq!(ask("DELETE", "/items/1", host, &[]).backend(), "pod-c");
    }
    // Path matches are case-sensitive: /API is not /api.
    let mut counts = std::collections::BTreeMap::new();
    for _ in 0..40 {
        *counts
            .entry(ask("GET", "/API", "inventory.example.com", &[]).backend())
            .or_insert(0) += 1;
    }
    assert_eq!(counts.values().sum::<i32>(), 40);
    assert_eq!(counts.get("pod-c"), Some(&10), "weight 1 of 4: {counts:?}");
    assert_eq!(
        counts.get("pod-a").copied().unwrap_or(0) + counts.get("pod-b").copied().unwrap_or(0),
        30,
        "weight 3 of 4 over both web pods: {counts:?}"
    );
    assert_eq!(ask("GET", "/", "other.example.com", &[]).status, 404);

    // The access log: Lattice's fields, one line per request, in the log group's file.
    let log = env.state().join("access-logs/cloudwatch/lattice/mesh.log");
    let mut lines = Vec::new();
    wait_until(
        Duration::from_secs(5),
        || {
            lines = std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect();
            lines.len() >= 46
        },
        || {
            format!(
                "too few access-log lines in {}:\n{}",
                log.display(),
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        },
    );
    let delete = lines
        .iter()
        .find(|l| l["requestMethod"] == "DELETE")
        .expect("the DELETE request is logged");
    assert_eq!(delete["requestPath"], "/items/1");
    assert_eq!(delete["responseCode"], 200);
    assert_eq!(delete["serviceArn"], sn["services"][0]["arn"]);
    assert_eq!(delete["serviceNetworkArn"], sn["arn"]);
    assert_eq!(delete["listenerType"], "HTTP");
    assert_eq!(
        delete["targetIpPort"],
        format!("{}:8080", env.backend_ip(3))
    );
    assert!(delete["targetGroupArn"]
        .as_str()
        .unwrap()
        .contains(":targetgroup/tg-"));
    assert!(delete["startTime"].as_str().unwrap().ends_with('Z'));
    assert!(delete["bytesSent"].as_u64().unwrap() > 0);
    assert_eq!(delete["sourceVpcArn"], sn["sourceVpcArn"]);
    assert_eq!(delete["tlsVersion"], "-");
    // The policy's status and the subscription ARN, as the controller writes them.
    let status = env.status();
    let policy = status["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "AccessLogPolicy")
        .unwrap();
    assert_eq!(policy["status"]["conditions"][0]["reason"], "Accepted");
    assert!(policy["metadata"]["annotations"]
        ["application-networking.k8s.aws/accessLogSubscription"]
        .as_str()
        .unwrap()
        .contains(":accesslogsubscription/als-"));

    // pod-b fails its health check (TargetGroupPolicy: every 5 s, unhealthy after 2): the
    // web target group sends everything to pod-a.
    http_request(
        format!("{}:8080", env.backend_ip(2)).parse().unwrap(),
        "POST",
        "/health/503",
        None,
        &[],
    )
    .unwrap();
    wait_until(
        Duration::from_secs(20),
        || (0..8).all(|_| ask("GET", "/", "inventory.example.com", &[]).backend() != "pod-b"),
        || "pod-b kept getting requests after failing its health checks".into(),
    );
    // /config shows the Lattice target group's target states.
    let config = env.config();
    let groups = &config["ir"]["serviceNetworks"][0]["services"][0]["targetGroups"];
    let web = groups
        .as_object()
        .unwrap()
        .values()
        .find(|tg| tg["service"]["name"] == "web")
        .unwrap();
    let state = |ip: String| {
        web["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["ip"] == ip)
            .map(|t| t["health"]["state"].clone())
    };
    assert_eq!(state(env.backend_ip(2)), Some("unhealthy".into()), "{web}");
    let a = state(env.backend_ip(1));
    assert!(
        a == Some("healthy".into()) || a == Some("initial".into()),
        "{web}"
    );

    // A route edit is served without a restart: /api now goes to web.
    env.write(
        "mesh.yaml",
        &mesh(
            &env,
            &RULES.replace(
                "backendRefs: [{name: api, port: 80}]\n  - matches:\n    - headers",
                "backendRefs: [{name: web, port: 80}]\n  - matches:\n    - headers",
            ),
        ),
    );
    wait_until(
        Duration::from_secs(5),
        || ask("GET", "/api/items", "inventory.example.com", &[]).backend() == "pod-a",
        || "the edited route was never served".into(),
    );
}

/// An HTTPS Lattice listener: an HTTPRoute and a GRPCRoute, told apart by their custom domains
/// (SNI chooses the certificate, `Host`/`:authority` the service); gRPC over TLS with ALPN h2 to
/// a real gRPC server over h2c; the access log names the TLS version.
#[test]
fn lattice_https_listener_serves_http_and_grpc_routes() {
    let env = Env::new(80);
    let dir = env.dir.path();
    support::certs::issue(dir, "ca", "mesh", &["web.example.com", "echo.example.com"]);
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let secret = support::certs::secret("mesh", &read("mesh.crt"), &read("mesh.key"))
        .replace("namespace: infra", "namespace: demo");
    env.write("secret.yaml", &secret);
    let mut text = String::from(NAMESPACE);
    text.push_str("---\n");
    text.push_str(&service("web", 8080, &[env.backend_ip(1)]));
    text.push_str("---\n");
    text.push_str(&service("grpc", 9100, &[env.backend_ip(2)]));
    text.push_str(
        "---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: amazon-vpc-lattice}
spec: {controllerName: application-networking.k8s.aws/gateway-api-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: mesh, namespace: demo}
spec:
  gatewayClassName: amazon-vpc-lattice
  listeners:
  - name: https
    protocol: HTTPS
    port: 443
    tls: {mode: Terminate, certificateRefs: [{name: mesh}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: demo}
spec:
  parentRefs: [{name: mesh}]
  hostnames: [web.example.com]
  rules: [{backendRefs: [{name: web, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: echo, namespace: demo}
spec:
  parentRefs: [{name: mesh}]
  hostnames: [echo.example.com]
  rules:
  - matches: [{method: {service: pylon.test.Echo}}]
    backendRefs: [{name: grpc, port: 80}]
---
apiVersion: application-networking.k8s.aws/v1alpha1
kind: AccessLogPolicy
metadata: {name: web-logs, namespace: demo}
spec:
  targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: web}
  destinationArn: arn:aws:s3:::mesh-logs
",
    );
    env.write("mesh.yaml", &text);
    let _web = env.backend(1, 8080, "web-1");
    let grpc_addr = format!("{}:9100", env.backend_ip(2));
    let grpc_echo = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/grpc_echo.py");
    let _grpc = env.peer(
        "grpc",
        "python3",
        &[grpc_echo, "serve", &grpc_addr, "grpc-1"],
        &grpc_addr,
    );
    let _pylon = env.pylon();
    let sn = network(&env, "mesh");
    let https = address(&sn, 443);
    let (_, resolved) = resolve(&env, "web.example.com", true);
    assert_eq!(resolved, vec![https.ip()]);

    // HTTPS by the custom domain, the certificate checked by curl.
    let ca = dir.join("ca.crt").display().to_string();
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "--cacert",
            &ca,
            "--resolve",
            &format!("web.example.com:443:{}", https.ip()),
            "https://web.example.com/secure?x=1",
        ])
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&out.stdout);
    let reply: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(reply["backend"], "web-1", "{reply}");
    assert_eq!(header(&reply, "x-forwarded-proto"), Some("https"));
    assert_eq!(header(&reply, "x-forwarded-port"), Some("443"));
    assert!(header(&reply, "x-amzn-lattice-target").is_some_and(|t| t.contains(":service/svc-")));

    // gRPC over TLS: only the GRPCRoute's domain reaches the gRPC server.
    let out = std::process::Command::new("python3")
        .args([
            grpc_echo,
            "call-tls",
            &https.to_string(),
            "echo.example.com",
            &ca,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let calls: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(calls["unary"]["answer"], "grpc-1:hello", "{calls}");
    assert_eq!(
        calls["streaming"],
        serde_json::json!(["0", "1", "2", "3", "4"]),
        "{calls}"
    );
    assert_eq!(
        calls["bidirectional"],
        serde_json::json!(["a", "b", "c"]),
        "{calls}"
    );
    assert_eq!(calls["error"]["code"], "NOT_FOUND", "{calls}");

    // The web route's access log, with the TLS facts of the connection.
    let log = env.state().join("access-logs/s3/mesh-logs/access.log");
    let mut line = Value::Null;
    wait_until(
        Duration::from_secs(5),
        || {
            line = std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .next()
                .map_or(Value::Null, |l| serde_json::from_str(l).unwrap());
            !line.is_null()
        },
        || format!("no access-log line in {}", log.display()),
    );
    assert_eq!(line["requestPath"], "/secure?x=1");
    assert_eq!(line["listenerType"], "HTTPS");
    assert_eq!(line["serverNameIndication"], "web.example.com");
    assert!(
        line["tlsVersion"].as_str().unwrap().starts_with("TLSv1."),
        "{line}"
    );
    assert_ne!(line["sslCipher"], "-");
}

/// An IAMAuthPolicy on a route: anonymous requests decided by it (path, method, header, an
/// explicit Deny), Lattice's 403 text for the others, signed requests refused until signatures
/// are verified, and a policy edit applied without a restart.
#[test]
fn lattice_auth_policies_decide_anonymous_requests() {
    let env = Env::new(81);
    let policy = |statements: &str| {
        format!(
            "---
apiVersion: application-networking.k8s.aws/v1alpha1
kind: IAMAuthPolicy
metadata: {{name: inventory-auth, namespace: demo}}
spec:
  targetRef: {{group: gateway.networking.k8s.io, kind: HTTPRoute, name: inventory}}
  policy: '{{\"Version\":\"2012-10-17\",\"Statement\":[{statements}]}}'
"
        )
    };
    let allow_public = "{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"vpc-lattice-svcs:Invoke\",\"Resource\":\"*/public*\",\"Condition\":{\"StringEquals\":{\"vpc-lattice-svcs:RequestMethod\":\"GET\"}}},{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"vpc-lattice-svcs:Invoke\",\"Resource\":\"*\",\"Condition\":{\"StringEquals\":{\"vpc-lattice-svcs:RequestHeader/x-team\":\"ops\"}}},{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"vpc-lattice-svcs:Invoke\",\"Resource\":\"*/public/secret\"}";
    let mesh = |statements: &str| format!("{}{}", mesh(&env, RULES), policy(statements));
    env.write("mesh.yaml", &mesh(allow_public));
    let _a = env.backend(1, 8080, "pod-a");
    let _b = env.backend(2, 8080, "pod-b");
    let _c = env.backend(3, 8080, "pod-c");
    let _pylon = env.pylon();
    let sn = network(&env, "mesh");
    let lb = address(&sn, 80);
    let service_arn = sn["services"][0]["arn"].as_str().unwrap().to_string();
    let ask = |method: &str, path: &str, headers: &[(&str, &str)]| {
        http_request(lb, method, path, Some("inventory.example.com"), headers).unwrap()
    };
    assert_eq!(ask("GET", "/public/items", &[]).status, 200);
    assert_eq!(
        ask("GET", "/private", &[("x-team", "ops")]).status,
        200,
        "the header allows"
    );
    let denied = ask("DELETE", "/public/items", &[]);
    assert_eq!(denied.status, 403);
    assert_eq!(
        denied.body.trim(),
        format!("AccessDeniedException: User: anonymous is not authorized to perform: vpc-lattice-svcs:Invoke on resource: {service_arn}/public/items because no service-based policy allows the vpc-lattice-svcs:Invoke action")
    );
    let secret = ask("GET", "/public/secret", &[("x-team", "ops")]);
    assert_eq!(secret.status, 403);
    assert!(
        secret
            .body
            .contains("with an explicit deny in a service-based policy"),
        "{}",
        secret.body
    );
    // A signed request is never served as anonymous.
    let signed = ask(
        "GET",
        "/public/items",
        &[(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261203/us-west-2/vpc-lattice-svcs/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=00",
        )],
    );
    assert_eq!(signed.status, 403);
    assert!(
        signed.body.starts_with("InvalidSignatureException"),
        "{}",
        signed.body
    );
    // The requests denied never reached a target.
    for host in 1..=3 {
        let seen = http_get(
            format!("{}:8080", env.backend_ip(host)).parse().unwrap(),
            "/__requests",
            None,
        )
        .unwrap()
        .body;
        assert!(
            !seen.contains("DELETE") && !seen.contains("/public/secret"),
            "{seen}"
        );
    }
    // A policy edit is served without a restart: only the authenticated are allowed now.
    env.write(
        "mesh.yaml",
        &mesh("{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"vpc-lattice-svcs:Invoke\",\"Resource\":\"*\",\"Condition\":{\"StringNotEqualsIgnoreCase\":{\"aws:PrincipalType\":\"anonymous\"}}}"),
    );
    wait_until(
        Duration::from_secs(5),
        || ask("GET", "/public/items", &[]).status == 403,
        || "the edited policy was never applied".into(),
    );
    let status = env.status();
    let policy = status["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "IAMAuthPolicy")
        .unwrap();
    assert_eq!(
        policy["status"]["conditions"][0]["reason"], "Accepted",
        "{policy}"
    );
}
