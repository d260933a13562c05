//! End to end: the VPC Lattice GatewayClass through the real `pylon` binary with real backends.
//! The seed's Lattice Gateway and route served at the service network's address by the service's
//! generated DNS name, with the headers Lattice gives targets and none a client forged.

mod support;

use hickory_server::proto::rr::RecordType;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use support::*;

/// The seed's Lattice manifests with its two backends moved onto this test's network.
fn seed(env: &Env) {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/eks-seed");
    for name in ["00-nginx-backend.yaml", "03-gateway-lattice.yaml"] {
        let text = std::fs::read_to_string(format!("{example}/{name}")).unwrap();
        let text = text
            .replace("127.0.0.11", &env.backend_ip(1))
            .replace("127.0.0.12", &env.backend_ip(2));
        env.write(name, &text);
    }
}

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
    seed(&env);
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
