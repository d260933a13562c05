//! End to end: Lattice over HTTPS (an HTTPRoute and a GRPCRoute told apart by custom domain,
//! a real gRPC client over TLS) and IAM auth policies deciding anonymous requests, through the
//! real `pylon` binary with real backends.

mod support;

use serde_json::Value;
use std::time::Duration;
use support::lattice::*;
use support::*;

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
/// explicit Deny), Lattice's 403 text for the others, a malformed signature refused rather than
/// taken for anonymous, and a policy edit applied without a restart.
#[test]
fn lattice_auth_policies_decide_anonymous_requests() {
    let env = Env::new(81);
    let allow_public = "{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"vpc-lattice-svcs:Invoke\",\"Resource\":\"*/public*\",\"Condition\":{\"StringEquals\":{\"vpc-lattice-svcs:RequestMethod\":\"GET\"}}},{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"vpc-lattice-svcs:Invoke\",\"Resource\":\"*\",\"Condition\":{\"StringEquals\":{\"vpc-lattice-svcs:RequestHeader/x-team\":\"ops\"}}},{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"vpc-lattice-svcs:Invoke\",\"Resource\":\"*/public/secret\"}";
    let mesh = |statements: &str| format!("{}{}", mesh(&env, RULES), route_auth_policy(statements));
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
        signed
            .body
            .starts_with("IncompleteSignatureException: Missing the 'x-amz-content-sha256' header"),
        "{}",
        signed.body
    );
    // The requests denied never reached a target.
    let seen = requests_seen(&env, 1..=3);
    assert!(
        !seen.contains("DELETE") && !seen.contains("/public/secret"),
        "{seen}"
    );
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
