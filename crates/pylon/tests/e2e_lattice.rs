//! End to end: the VPC Lattice GatewayClass through the real `pylon` binary with real backends.
//! The seed's Lattice Gateway and route served at the service network's address by the service's
//! generated DNS name, with the headers Lattice gives targets and none a client forged; a network
//! of three pods with path, header, method and weighted rules, a TargetGroupPolicy health check,
//! an AccessLogPolicy and a live route edit.

mod support;

use serde_json::Value;
use std::time::Duration;
use support::lattice::*;
use support::*;

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
