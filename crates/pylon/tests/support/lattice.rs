//! Lattice test support: a service network as `/config` shows it, its address, Pylon's DNS
//! answers, and a service network of three pods with path, header, method and weighted rules.

use super::*;
use pylon_dns::RecordType;
use serde_json::Value;
use std::net::SocketAddr;

/// The service network `name` as `/config` shows it, once it has an address.
pub fn network(env: &Env, name: &str) -> Value {
    let mut found = Value::Null;
    wait_until(
        std::time::Duration::from_secs(10),
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

pub fn address(sn: &Value, port: u16) -> SocketAddr {
    SocketAddr::new(sn["address"].as_str().unwrap().parse().unwrap(), port)
}

/// What Pylon's DNS answers for `name` (A records), over UDP or TCP: (response code, addresses).
pub fn resolve(env: &Env, name: &str, tcp: bool) -> (String, Vec<std::net::IpAddr>) {
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

pub fn header<'a>(reply: &'a Value, name: &str) -> Option<&'a str> {
    reply["headers"][name].as_str()
}

/// Three pods behind two Services, a Lattice route with a custom domain and path, header,
/// method and weighted rules, a TargetGroupPolicy health check and an AccessLogPolicy on the
/// Gateway.
pub fn mesh(env: &Env, route_rules: &str) -> String {
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
    text.push_str(MESH_GATEWAY);
    text.push_str(&format!(
        "---
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

pub const RULES: &str = "  - matches:
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

/// The Lattice GatewayClass and Gateway `demo/mesh` with one HTTP listener on port 80.
pub const MESH_GATEWAY: &str = "---
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
  listeners: [{name: http, protocol: HTTP, port: 80}]
";

/// Which backend answered `n` requests for `host` at `lb`, by name; every one must be a 200.
pub fn backends_seen(
    lb: SocketAddr,
    host: &str,
    n: usize,
) -> std::collections::HashMap<String, usize> {
    let mut seen = std::collections::HashMap::new();
    for _ in 0..n {
        let reply = http_get(lb, "/", Some(host)).unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
        *seen.entry(reply.backend()).or_default() += 1;
    }
    seen
}

/// Every request the demo backends `hosts` of `env` have seen (their `/__requests`), together.
pub fn requests_seen(env: &Env, hosts: std::ops::RangeInclusive<u8>) -> String {
    hosts
        .map(|host| {
            http_get(
                format!("{}:8080", env.backend_ip(host)).parse().unwrap(),
                "/__requests",
                None,
            )
            .unwrap()
            .body
        })
        .collect()
}

/// An IAMAuthPolicy `demo/inventory-auth` on HTTPRoute `inventory` with these statements (JSON
/// objects, comma-separated).
pub fn route_auth_policy(statements: &str) -> String {
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
}
