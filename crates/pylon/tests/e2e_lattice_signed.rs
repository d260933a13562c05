//! End to end for signed Lattice requests: access keys from Secrets of type
//! `pylon-project.github.io/aws-credentials`, requests signed by real AWS signers (botocore's
//! SigV4, botocore's SigV4A through the AWS CRT, `curl --aws-sigv4`), decided by an
//! IAMAuthPolicy on the caller's principal; bad signatures refused with Lattice's 403, the
//! caller's identity at the target and in the access log.

mod support;

use serde_json::Value;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;
use support::lattice::*;
use support::*;

const KEY: &str = "AKIAPYLONTESTBILLING";
const SECRET: &str = "billing/secret+Key0123456789abcdefghijk";
const ROLE: &str = "arn:aws:iam::123456789012:role/billing";
const URL: &str = "http://inventory.example.com/items?view=full";

fn credentials() -> String {
    format!(
        "---
apiVersion: v1
kind: Secret
metadata: {{name: billing-client, namespace: pylon-system}}
type: pylon-project.github.io/aws-credentials
stringData:
  accessKeyId: {KEY}
  secretAccessKey: {SECRET}
  principal: {ROLE}
  orgId: o-abcd1234
  tags: team=payments
"
    )
}

/// The billing role may GET and POST with `x-team: payments` (and, when `vpc` is given, only
/// from that VPC); nobody may reach `/admin`.
fn policy(vpc: Option<&str>) -> String {
    let vpc = vpc.map_or(String::new(), |v| {
        format!(",\"vpc-lattice-svcs:SourceVpc\":\"{v}\"")
    });
    route_auth_policy(&format!(
        "{{\"Effect\":\"Allow\",\"Principal\":{{\"AWS\":[\"{ROLE}\"]}},\"Action\":\"vpc-lattice-svcs:Invoke\",\"Resource\":\"*\",\"Condition\":{{\"StringEquals\":{{\"vpc-lattice-svcs:RequestHeader/x-team\":\"payments\",\"vpc-lattice-svcs:RequestMethod\":[\"GET\",\"POST\"]{vpc}}}}}}},{{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"vpc-lattice-svcs:Invoke\",\"Resource\":\"*/admin*\"}}"
    ))
}

/// A request signed by botocore and sent to `lb`: (status, body).
fn botocore(lb: SocketAddr, url: &str, secret: &str, extra: &[&str]) -> (u16, String) {
    let client = format!("{PEERS}/sigv4_client.py");
    let lb = lb.to_string();
    let mut args = vec![client.as_str(), lb.as_str(), url, KEY, secret];
    args.extend(extra);
    let out: Value = serde_json::from_str(&python(&args)).unwrap();
    (
        out["status"].as_u64().unwrap() as u16,
        out["body"].as_str().unwrap().to_string(),
    )
}

/// The same request signed by `curl --aws-sigv4`: (status, body).
fn curl(lb: SocketAddr, path: &str, headers: &[&str]) -> (u16, String) {
    let mut command = Command::new("curl");
    command.args([
        "-s",
        "-w",
        "\n%{http_code}",
        "--aws-sigv4",
        "aws:amz:us-west-2:vpc-lattice-svcs",
        "--user",
        &format!("{KEY}:{SECRET}"),
        "-H",
        "x-amz-content-sha256: UNSIGNED-PAYLOAD",
        "--resolve",
        &format!("inventory.example.com:80:{}", lb.ip()),
    ]);
    for h in headers {
        command.args(["-H", h]);
    }
    let out = command
        .arg(format!("http://inventory.example.com{path}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), body.to_string())
}

fn identity(body: &str) -> (String, String) {
    let reply: Value = serde_json::from_str(body).unwrap();
    let h = |n| header(&reply, n).unwrap_or_default().to_string();
    (
        h("x-amzn-lattice-identity"),
        h("x-amzn-lattice-identity-tags"),
    )
}

#[test]
fn lattice_signed_requests_are_verified_and_decided_by_principal() {
    let env = Env::new(82);
    let mesh = |vpc: Option<&str>| format!("{}{}{}", mesh(&env, RULES), credentials(), policy(vpc));
    env.write("mesh.yaml", &mesh(None));
    let _a = env.backend(1, 8080, "pod-a");
    let _b = env.backend(2, 8080, "pod-b");
    let _c = env.backend(3, 8080, "pod-c");
    let _pylon = env.pylon();
    let sn = network(&env, "mesh");
    let lb = address(&sn, 80);
    let team = "--header=x-team=payments";

    // Anonymous: no statement allows it.
    let anonymous = http_request(
        lb,
        "GET",
        "/items",
        Some("inventory.example.com"),
        &[("x-team", "payments")],
    )
    .unwrap();
    assert_eq!(anonymous.status, 403);
    assert!(
        anonymous.body.contains("User: anonymous"),
        "{}",
        anonymous.body
    );

    // Signed by botocore (SigV4): allowed, and the target learns who called. A client's own
    // identity header is replaced, even when signed.
    let forged = "--header=x-amzn-lattice-identity=Principal=arn:aws:iam::123456789012:role/admin";
    let (status, body) = botocore(lb, URL, SECRET, &[team, forged]);
    assert_eq!(status, 200, "{body}");
    let (who, tags) = identity(&body);
    assert_eq!(
        who,
        format!("Principal={ROLE};PrincipalOrgID=o-abcd1234;Type=AWS_IAM")
    );
    assert_eq!(
        tags,
        format!("principal={ROLE};principalorgid=o-abcd1234;team=payments")
    );
    // SigV4A for every region, through the AWS CRT.
    let (status, body) = botocore(lb, URL, SECRET, &[team, "--v4a"]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        identity(&body).0.split(';').next(),
        Some(&*format!("Principal={ROLE}"))
    );
    // Signed by curl.
    let (status, body) = curl(lb, "/items?view=full", &["x-team: payments"]);
    assert_eq!(status, 200, "{body}");
    assert!(identity(&body).0.starts_with(&format!("Principal={ROLE};")));

    // Bad signatures are refused, never served as anonymous.
    let (status, body) = botocore(lb, URL, "not-the-secret", &[team]);
    assert_eq!(status, 403);
    assert!(
        body.starts_with(
            "InvalidSignatureException: The request signature we calculated does not match"
        ),
        "{body}"
    );
    let tampered = ["--header=x-note=1", "--after-signing=x-note=2", team];
    let (status, body) = botocore(lb, URL, SECRET, &tampered);
    assert_eq!(
        (status, body.contains("does not match")),
        (403, true),
        "{body}"
    );
    let (status, body) = botocore(lb, URL, SECRET, &[team, "--signed-ago=600"]);
    assert_eq!(status, 403);
    assert!(
        body.starts_with("InvalidSignatureException: Signature expired"),
        "{body}"
    );
    let other_region = ["--region=eu-west-1", team];
    let (status, body) = botocore(lb, URL, SECRET, &other_region);
    assert_eq!(
        (status, body.trim()),
        (
            403,
            "InvalidSignatureException: Credential should be scoped to a valid region."
        )
    );

    // The policy decides on the principal: the method condition, and a Deny that wins.
    let (status, body) = botocore(lb, URL, SECRET, &[team, "--method=DELETE"]);
    assert_eq!(status, 403);
    assert!(
        body.starts_with(&format!("AccessDeniedException: User: {ROLE} is not authorized to perform: vpc-lattice-svcs:Invoke on resource: ")),
        "{body}"
    );
    let admin = "http://inventory.example.com/admin/users";
    let (status, body) = botocore(lb, admin, SECRET, &[team]);
    assert_eq!(status, 403);
    assert!(
        body.contains("with an explicit deny in a service-based policy"),
        "{body}"
    );
    let seen = requests_seen(&env, 1..=3);
    assert!(
        !seen.contains("/admin") && !seen.contains("DELETE"),
        "{seen}"
    );

    // The access log names the caller, and why a request was refused.
    let log = env.state().join("access-logs/cloudwatch/lattice/mesh.log");
    let mut lines: Vec<Value> = Vec::new();
    wait_until(
        Duration::from_secs(5),
        || {
            lines = std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            lines.len() >= 10
        },
        || format!("access log: {:?}", std::fs::read_to_string(&log)),
    );
    assert!(lines.iter().any(|l| l["callerPrincipal"] == ROLE
        && l["callerPrincipalOrgID"] == "o-abcd1234"
        && l["responseCode"] == 200));
    assert!(lines.iter().any(|l| l["callerPrincipal"] == "-"
        && l["authDeniedReason"] == "Service"
        && l["failureReason"] == "ClientAccessDenied"));
    assert!(lines.iter().any(|l| l["authDeniedReason"] == "Signature"
        && l["failureReason"] == "ClientAuthenticationFailed"));
    // No secret in the log, the configuration or the status.
    let shown = format!(
        "{} {} {}",
        std::fs::read_to_string(&log).unwrap(),
        env.config(),
        env.status()
    );
    assert!(!shown.contains(SECRET) && !shown.contains(KEY), "{shown}");

    // A policy edit without restart: the source VPC condition.
    let vpc = sn["sourceVpc"].as_str().unwrap().to_string();
    env.write("mesh.yaml", &mesh(Some("vpc-0000000000other")));
    wait_until(
        Duration::from_secs(5),
        || botocore(lb, URL, SECRET, &[team]).0 == 403,
        || "the edited policy was never applied".into(),
    );
    env.write("mesh.yaml", &mesh(Some(&vpc)));
    wait_until(
        Duration::from_secs(5),
        || botocore(lb, URL, SECRET, &[team]).0 == 200,
        || "the policy naming this VPC never allowed".into(),
    );
}
