//! End to end for TLS termination: HTTPS Gateway listeners with `kubernetes.io/tls` Secrets,
//! the certificate chosen by SNI (exact and wildcard host names), a redirect from HTTP to HTTPS,
//! a rotated Secret served without a restart, a bad Secret that marks only its listener, and Ingress
//! `spec.tls` Secrets served with `ssl-redirect` sending HTTP to HTTPS.
//! Clients are `curl`, verifying the certificates against test CAs made with `openssl`.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::certs::{issue, secret};
use support::*;

/// `curl` over HTTPS to `host` (SNI and Host), resolved to `lb`, verifying with `ca`:
/// the HTTP status, or the curl exit code as a negative number.
fn curl(lb: SocketAddr, host: &str, path: &str, ca: &Path) -> (i32, String) {
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "--max-time",
            "5",
            "--cacert",
            &ca.display().to_string(),
            "--resolve",
            &format!("{host}:{}:{}", lb.port(), lb.ip()),
            &format!("https://{host}:{}{path}", lb.port()),
        ])
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        return (-out.status.code().unwrap_or(1), text);
    }
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

const GATEWAY: &str = r#"apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: pylon}
spec: {controllerName: pylon-project.github.io/gateway-controller}
---
apiVersion: v1
kind: Namespace
metadata: {name: infra}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: pylon
  listeners:
  - name: http
    protocol: HTTP
    port: 8080
  - name: exact
    protocol: HTTPS
    port: 8443
    hostname: a.example.com
    tls: {certificateRefs: [{name: a}]}
  - name: wildcard
    protocol: HTTPS
    port: 8443
    hostname: "*.wild.example.com"
    tls: {certificateRefs: [{name: wild}]}
  - name: broken
    protocol: HTTPS
    port: 9443
    tls: {certificateRefs: [{name: broken}]}
---
apiVersion: v1
kind: Secret
metadata: {name: broken, namespace: infra}
type: kubernetes.io/tls
stringData: {tls.crt: not a certificate, tls.key: not a key}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: secure, namespace: infra}
spec:
  parentRefs: [{name: gw, sectionName: exact}, {name: gw, sectionName: wildcard}]
  rules: [{backendRefs: [{name: v1, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: to-https, namespace: infra}
spec:
  parentRefs: [{name: gw, sectionName: http}]
  rules: [{filters: [{type: RequestRedirect, requestRedirect: {scheme: https, port: 8443}}]}]
"#;

#[test]
fn https_listeners_terminate_tls_by_sni_and_rotate_certificates() {
    let env = Env::new(44);
    let dir = env.dir.path();
    issue(dir, "ca", "a", &["a.example.com"]);
    issue(dir, "ca", "wild", &["*.wild.example.com"]);
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    env.write("gateway.yaml", GATEWAY);
    env.write(
        "service.yaml",
        &service("v1", 9000, &[env.backend_ip(1)]).replace("namespace: demo", "namespace: infra"),
    );
    env.write("a.yaml", &secret("a", &read("a.crt"), &read("a.key")));
    env.write(
        "wild.yaml",
        &secret("wild", &read("wild.crt"), &read("wild.key")),
    );
    let _v1 = env.backend(1, 9000, "v1");
    let _pylon = env.pylon();
    let ip = env.wait_for_gateway("infra", "gw", 8443).ip();
    let https = SocketAddr::new(ip, 8443);
    let ca = dir.join("ca.crt");

    // Each host name gets its own certificate: curl verifies it against the name it asked for.
    let last = std::cell::RefCell::new((0, String::new()));
    wait_until(
        Duration::from_secs(10),
        || {
            *last.borrow_mut() = curl(https, "a.example.com", "/x", &ca);
            last.borrow().0 == 200
        },
        || format!("HTTPS to a.example.com: {:?}", last.borrow()),
    );
    let body = last.borrow().1.clone();
    assert!(body.contains("\"v1\""), "{body}");
    let (code, body) = curl(https, "deep.wild.example.com", "/y", &ca);
    assert_eq!(code, 200, "{body}");
    // The backend is told the client spoke HTTPS.
    assert!(body.to_ascii_lowercase().contains("https"), "{body}");

    // HTTP redirects to HTTPS, and the redirect lands.
    let r = http_get(SocketAddr::new(ip, 8080), "/z", Some("a.example.com")).unwrap();
    assert_eq!(r.status, 302);
    let location = r
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("location"))
        .map(|(_, v)| v.as_str());
    assert_eq!(location, Some("https://a.example.com:8443/z"));

    // The broken Secret marks its own listener, nothing else.
    let status = env.status().to_string();
    assert!(status.contains("InvalidCertificateRef"), "{status}");
    assert!(status.contains("Secret infra/broken: tls.crt"), "{status}");

    // A rotated Secret (a new CA) is served without a restart.
    issue(dir, "ca2", "a2", &["a.example.com"]);
    env.write("a.yaml", &secret("a", &read("a2.crt"), &read("a2.key")));
    let ca2 = dir.join("ca2.crt");
    wait_until(
        Duration::from_secs(10),
        || {
            *last.borrow_mut() = curl(https, "a.example.com", "/x", &ca2);
            last.borrow().0 == 200
        },
        || {
            format!(
                "the rotated certificate was never served: {:?}",
                last.borrow()
            )
        },
    );
    // The other host name kept its certificate.
    assert_eq!(curl(https, "deep.wild.example.com", "/y", &ca).0, 200);
}

const INGRESS: &str = r#"apiVersion: v1
kind: Namespace
metadata: {name: infra}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: infra
  annotations:
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/listen-ports: '[{"HTTP": 8080}, {"HTTPS": 8443}]'
    alb.ingress.kubernetes.io/ssl-redirect: "8443"
spec:
  ingressClassName: alb
  tls:
  - hosts: [web.example.com]
    secretName: web
  rules:
  - host: web.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: v1, port: {number: 80}}}
"#;

#[test]
fn ingress_tls_secrets_are_served_and_ssl_redirect_sends_http_to_https() {
    let env = Env::new(45);
    let dir = env.dir.path();
    issue(dir, "ca", "web", &["web.example.com"]);
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    env.write("ingress.yaml", INGRESS);
    env.write(
        "service.yaml",
        &service("v1", 9000, &[env.backend_ip(1)]).replace("namespace: demo", "namespace: infra"),
    );
    env.write(
        "web.yaml",
        &secret("web", &read("web.crt"), &read("web.key")),
    );
    let _v1 = env.backend(1, 9000, "v1");
    let _pylon = env.pylon();
    let lb = env.wait_for_address("infra", "web");
    let https = SocketAddr::new(lb.ip(), 8443);
    let ca = dir.join("ca.crt");

    let (code, body) = curl(https, "web.example.com", "/app?x=1", &ca);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"backend\":\"v1\""), "{body}");

    // A connection whose ALPN chose h2 speaks only HTTP/2: HTTP/1.1 bytes instead of the preface
    // end the connection at the HTTP/2 level (h2spec 3.5), never with an HTTP/1.1 400.
    let mut s_client = Command::new("openssl")
        .args([
            "s_client",
            "-quiet",
            "-alpn",
            "h2",
            "-servername",
            "web.example.com",
        ])
        .args(["-connect", &https.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl runs");
    {
        use std::io::Write;
        let mut stdin = s_client.stdin.take().unwrap();
        stdin
            .write_all(b"GET / HTTP/1.1\r\nHost: web.example.com\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = s_client.wait_with_output().unwrap().stdout;
    assert!(
        !out.starts_with(b"HTTP/1.1"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    // Only HTTP/2 frames (3 bytes length, 1 byte type, ...): the server's SETTINGS first.
    let mut frames = Vec::new();
    let mut rest = &out[..];
    while rest.len() >= 9 {
        let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        frames.push(rest[3]);
        rest = &rest[(9 + len).min(rest.len())..];
    }
    assert_eq!(frames.first(), Some(&4), "{out:?}");
    assert!(
        rest.is_empty() && frames.iter().all(|t| *t <= 9),
        "not HTTP/2 frames: {out:?}"
    );

    // ssl-redirect: plain HTTP answers 301 to the same URL on the HTTPS port.
    let plain = SocketAddr::new(lb.ip(), 8080);
    let reply = http_get(plain, "/app?x=1", Some("web.example.com")).unwrap();
    assert_eq!(reply.status, 301);
    let location = reply
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("location"))
        .map(|(_, v)| v.clone());
    assert_eq!(
        location.as_deref(),
        Some("https://web.example.com:8443/app?x=1")
    );
}

/// HTTPS target groups: TLS to pods that serve their own (here self-signed, unverified, as an
/// ALB takes it) certificate — an Ingress with `backend-protocol: HTTPS` (HTTP/1.1 over TLS,
/// HTTPS health checks by default) and an ALB Gateway whose TargetGroupConfiguration says
/// protocol HTTPS and version HTTP2 (HTTP/2 over TLS, ALPN h2).
#[test]
fn https_target_groups_speak_tls_to_their_targets() {
    let env = Env::new(89);
    let dir = env.dir.path();
    issue(dir, "pod-ca", "pod", &["pod.internal"]);
    issue(dir, "ca", "gw", &["gw.example.com"]);
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    env.write("gw.yaml", &secret("gw", &read("gw.crt"), &read("gw.key")));
    env.write(
        "app.yaml",
        &service("app", 9443, &[env.backend_ip(1)]).replace("namespace: demo", "namespace: infra"),
    );
    env.write(
        "routes.yaml",
        r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: tls-targets
  namespace: infra
  annotations:
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/backend-protocol: HTTPS
    alb.ingress.kubernetes.io/listen-ports: '[{"HTTP": 8080}]'
    alb.ingress.kubernetes.io/healthcheck-path: /healthz
    alb.ingress.kubernetes.io/healthcheck-interval-seconds: "5"
    alb.ingress.kubernetes.io/healthcheck-timeout-seconds: "2"
spec:
  ingressClassName: alb
  defaultBackend:
    service: {name: app, port: {number: 80}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: alb}
spec: {controllerName: gateway.k8s.aws/alb}
---
apiVersion: gateway.k8s.aws/v1
kind: TargetGroupConfiguration
metadata: {name: app, namespace: infra}
spec:
  targetReference: {name: app}
  defaultConfiguration: {targetType: ip, protocol: HTTPS, protocolVersion: HTTP2}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: alb
  listeners:
  - name: https
    protocol: HTTPS
    port: 8443
    tls: {certificateRefs: [{name: gw}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app, namespace: infra}
spec:
  parentRefs: [{name: gw}]
  rules:
  - backendRefs: [{name: app, port: 80}]
"#,
    );
    let pod = format!("{}:9443", env.backend_ip(1));
    let (crt, key) = (dir.join("pod.crt"), dir.join("pod.key"));
    let _pod = env.peer(
        "pod",
        BACKEND,
        &[
            "--listen",
            &pod,
            "--name",
            "pod",
            "--tls-cert",
            &crt.display().to_string(),
            "--tls-key",
            &key.display().to_string(),
        ],
        &pod,
    );
    let _pylon = env.pylon();
    let ingress = env.wait_for_address("infra", "tls-targets");
    let reply = http_get(ingress, "/over-tls", None).unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    let seen: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(
        (seen["tls"].as_bool(), seen["version"].as_str()),
        (Some(true), Some("HTTP/1.1")),
        "{seen}"
    );
    // The HTTPS health check passes over TLS too.
    wait_until(
        Duration::from_secs(15),
        || {
            let config = env.config();
            let states: Vec<String> = config["ir"]["loadBalancers"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|lb| lb["targetGroups"].as_object().unwrap().values())
                .filter(|tg| tg["protocol"] == "HTTPS" && tg["healthCheck"]["protocol"] == "HTTPS")
                .flat_map(|tg| tg["targets"].as_array().unwrap())
                .map(|t| {
                    t["health"]["state"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect();
            // The Ingress's group and the Gateway's, one target each.
            states.len() == 2 && states.iter().all(|s| s == "healthy")
        },
        || format!("HTTPS health checks never passed: {}", env.config()),
    );
    let gateway = env.wait_for_gateway("infra", "gw", 8443);
    let (code, body) = curl(gateway, "gw.example.com", "/h2", &dir.join("ca.crt"));
    assert_eq!(code, 200, "{body}");
    let seen: serde_json::Value = serde_json::from_str(body.trim()).unwrap();
    assert_eq!(
        (seen["tls"].as_bool(), seen["version"].as_str()),
        (Some(true), Some("HTTP/2.0")),
        "{seen}"
    );
}
