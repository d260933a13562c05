//! Auth policies as the VPC Lattice documentation writes them, and the IAM rules they rely on.

use pylon_iam::{decide, Auth, Decision, Policy, Principal, Request, Scope, Verdict, INVOKE};
use std::collections::BTreeMap;

const SERVICE: &str = "arn:aws:vpc-lattice:us-west-2:123456789012:service/svc-0123456789abcdef0";

fn resource(path: &str) -> String {
    format!("{SERVICE}/{}", path.trim_start_matches('/'))
}

fn role(name: &str) -> Principal {
    Principal {
        arn: format!("arn:aws:sts::123456789012:assumed-role/{name}/session-1"),
        org_id: Some("o-123456example".into()),
        tags: BTreeMap::from([("team".to_string(), "payments".to_string())]),
    }
}

fn policy(text: &str) -> Policy {
    Policy::parse(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A GET of `path` on port 443 from vpc-1, 10.0.1.5, with the usual keys.
fn request<'a>(principal: Option<&'a Principal>, path: &'a str, method: &str) -> Request<'a> {
    let resource: &'a str = Box::leak(resource(path).into_boxed_str());
    let mut r = Request::new(principal, INVOKE, resource);
    r.set("vpc-lattice-svcs:RequestMethod", method);
    r.set("vpc-lattice-svcs:RequestPath", path);
    r.set("vpc-lattice-svcs:Port", "443");
    r.set("vpc-lattice-svcs:SourceVpc", "vpc-1");
    r.set("vpc-lattice-svcs:ServiceArn", SERVICE);
    r.set("aws:SourceIp", "10.0.1.5");
    r
}

#[test]
fn allow_everyone_including_anonymous() {
    let p = policy(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}"#,
    );
    assert_eq!(p.evaluate(&request(None, "/", "GET")), Decision::Allow);
    let same = policy(
        r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["vpc-lattice-svcs:*"],"Resource":"*"}}"#,
    );
    assert_eq!(
        same.evaluate(&request(None, "/x", "GET")),
        Decision::Allow,
        "AWS * is *"
    );
}

#[test]
fn only_authenticated_callers_as_the_workshops_write_it() {
    let p = policy(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*","Condition":{"StringNotEqualsIgnoreCase":{"aws:PrincipalType":"anonymous"}}}]}"#,
    );
    let caller = role("rates-client");
    assert_eq!(p.evaluate(&request(None, "/", "GET")), Decision::NoAllow);
    assert_eq!(
        p.evaluate(&request(Some(&caller), "/", "GET")),
        Decision::Allow
    );
}

#[test]
fn principals_of_one_organization() {
    let p = policy(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":["o-123456example"]}}}]}"#,
    );
    let inside = role("a");
    let outside = Principal {
        org_id: Some("o-other".into()),
        ..role("b")
    };
    assert_eq!(
        p.evaluate(&request(Some(&inside), "/", "GET")),
        Decision::Allow
    );
    assert_eq!(
        p.evaluate(&request(Some(&outside), "/", "GET")),
        Decision::NoAllow
    );
    assert_eq!(
        p.evaluate(&request(None, "/", "GET")),
        Decision::NoAllow,
        "anonymous callers carry no org: the condition fails"
    );
}

#[test]
fn one_role_one_path_one_method() {
    let p = policy(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":["arn:aws:iam::123456789012:role/rates-client"]}},"Action":"vpc-lattice-svcs:Invoke","Resource":"{SERVICE}/rates*","Condition":{{"StringEquals":{{"vpc-lattice-svcs:RequestMethod":"GET"}}}}}}]}}"#
    ));
    let caller = role("rates-client");
    let other = role("billing");
    assert_eq!(
        p.evaluate(&request(Some(&caller), "/rates/usd", "GET")),
        Decision::Allow,
        "the role's session"
    );
    assert_eq!(
        p.evaluate(&request(Some(&caller), "/rates", "POST")),
        Decision::NoAllow
    );
    assert_eq!(
        p.evaluate(&request(Some(&caller), "/parking", "GET")),
        Decision::NoAllow
    );
    assert_eq!(
        p.evaluate(&request(Some(&other), "/rates", "GET")),
        Decision::NoAllow
    );
    // The account root, by id or ARN, names every principal of the account.
    for entry in ["123456789012", "arn:aws:iam::123456789012:root"] {
        let p = policy(&format!(
            r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{entry}"}},"Action":"*","Resource":"*"}}]}}"#
        ));
        assert_eq!(
            p.evaluate(&request(Some(&other), "/", "GET")),
            Decision::Allow,
            "{entry}"
        );
        assert_eq!(p.evaluate(&request(None, "/", "GET")), Decision::NoAllow);
    }
}

#[test]
fn an_explicit_deny_wins_over_any_allow() {
    let p = policy(&format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}},{{"Effect":"Deny","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"{SERVICE}/admin/*"}}]}}"#
    ));
    assert_eq!(
        p.evaluate(&request(None, "/admin/users", "GET")),
        Decision::ExplicitDeny
    );
    assert_eq!(
        p.evaluate(&request(None, "/public", "GET")),
        Decision::Allow
    );
}

#[test]
fn conditions_on_source_vpc_headers_query_and_address() {
    let vpc = policy(
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"StringEquals":{"vpc-lattice-svcs:SourceVpc":"vpc-1"},"NumericEquals":{"vpc-lattice-svcs:Port":443}}}]}"#,
    );
    assert_eq!(vpc.evaluate(&request(None, "/", "GET")), Decision::Allow);
    let mut elsewhere = request(None, "/", "GET");
    elsewhere.set("vpc-lattice-svcs:SourceVpc", "vpc-2");
    assert_eq!(vpc.evaluate(&elsewhere), Decision::NoAllow);

    let header = policy(
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"StringLike":{"vpc-lattice-svcs:RequestHeader/X-Env":"prod-*"}}}]}"#,
    );
    let mut r = request(None, "/", "GET");
    assert_eq!(
        header.evaluate(&r),
        Decision::NoAllow,
        "no header: no match"
    );
    r.set("vpc-lattice-svcs:RequestHeader/x-env", "prod-eu");
    assert_eq!(
        header.evaluate(&r),
        Decision::Allow,
        "header names without regard to case"
    );

    let query = policy(
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"vpc-lattice-svcs:RequestQueryString/tier":["gold","platinum"]}}}]}"#,
    );
    let mut r = request(None, "/", "GET");
    r.add("vpc-lattice-svcs:RequestQueryString/tier", "basic");
    assert_eq!(query.evaluate(&r), Decision::NoAllow);
    r.add("vpc-lattice-svcs:RequestQueryString/tier", "gold");
    assert_eq!(query.evaluate(&r), Decision::Allow);
    let all = policy(
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"vpc-lattice-svcs:RequestQueryString/tier":["gold"]}}}]}"#,
    );
    assert_eq!(all.evaluate(&r), Decision::NoAllow, "basic is not gold");
    assert_eq!(
        all.evaluate(&request(None, "/", "GET")),
        Decision::Allow,
        "ForAllValues of nothing holds"
    );

    let ip = policy(
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/16","192.0.2.7"]},"NotIpAddress":{"aws:SourceIp":"10.0.9.0/24"}}}]}"#,
    );
    assert_eq!(ip.evaluate(&request(None, "/", "GET")), Decision::Allow);
    let mut r = request(None, "/", "GET");
    r.set("aws:SourceIp", "10.0.9.1");
    assert_eq!(ip.evaluate(&r), Decision::NoAllow);
}

#[test]
fn missing_keys_if_exists_and_null() {
    let eq = |op: &str| {
        policy(&format!(
            r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{{"{op}":{{"aws:PrincipalTag/team":"payments"}}}}}}]}}"#
        ))
    };
    let caller = role("a");
    let untagged = Principal {
        tags: BTreeMap::new(),
        ..role("b")
    };
    assert_eq!(
        eq("StringEquals").evaluate(&request(Some(&caller), "/", "GET")),
        Decision::Allow
    );
    assert_eq!(
        eq("StringEquals").evaluate(&request(Some(&untagged), "/", "GET")),
        Decision::NoAllow
    );
    assert_eq!(
        eq("StringNotEquals").evaluate(&request(Some(&untagged), "/", "GET")),
        Decision::Allow,
        "a negated operator holds for a missing key"
    );
    assert_eq!(
        eq("StringEqualsIfExists").evaluate(&request(Some(&untagged), "/", "GET")),
        Decision::Allow
    );
    assert_eq!(
        eq("StringEqualsIfExists").evaluate(&request(Some(&caller), "/", "GET")),
        Decision::Allow
    );
    let null = policy(
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"Null":{"aws:PrincipalOrgID":"true"}}}]}"#,
    );
    assert_eq!(null.evaluate(&request(None, "/", "GET")), Decision::Allow);
    assert_eq!(
        null.evaluate(&request(Some(&caller), "/", "GET")),
        Decision::NoAllow
    );
}

#[test]
fn arns_numbers_booleans_and_not_elements() {
    let arn = policy(
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"ArnLike":{"vpc-lattice-svcs:ServiceArn":"arn:aws:vpc-lattice:*:123456789012:service/*"},"NumericLessThan":{"vpc-lattice-svcs:Port":"1024"}}}]}"#,
    );
    assert_eq!(arn.evaluate(&request(None, "/", "GET")), Decision::Allow);
    let mut r = request(None, "/", "GET");
    r.set("vpc-lattice-svcs:Port", "8443");
    assert_eq!(arn.evaluate(&r), Decision::NoAllow);
    let flag = policy(
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"Bool":{"example:Flag":true}}}]}"#,
    );
    let mut r = request(None, "/", "GET");
    r.set("example:Flag", "TRUE");
    assert_eq!(flag.evaluate(&r), Decision::Allow);
    let not = policy(&format!(
        r#"{{"Statement":[{{"Effect":"Deny","NotPrincipal":{{"AWS":"arn:aws:iam::123456789012:role/ops"}},"NotAction":"vpc-lattice-svcs:Connect","NotResource":"{SERVICE}/public/*"}},{{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}]}}"#
    ));
    let ops = role("ops");
    let dev = role("dev");
    assert_eq!(
        not.evaluate(&request(Some(&dev), "/private", "GET")),
        Decision::ExplicitDeny
    );
    assert_eq!(
        not.evaluate(&request(Some(&ops), "/private", "GET")),
        Decision::Allow
    );
    assert_eq!(
        not.evaluate(&request(Some(&dev), "/public/a", "GET")),
        Decision::Allow
    );
    assert_eq!(
        not.evaluate(&request(None, "/private", "GET")),
        Decision::ExplicitDeny
    );
}

#[test]
fn documents_lattice_would_refuse_are_refused() {
    let big = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Sid":"{}"}}]}}"#,
        "x".repeat(11_000)
    );
    for (bad, why) in [
        (big.as_str(), "at most"),
        (
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            "Principal",
        ),
        (
            r#"{"Statement":[{"Effect":"Permit","Principal":"*","Action":"*","Resource":"*"}]}"#,
            "Effect",
        ),
        (
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2030-01-01"}}}]}"#,
            "DateLessThan",
        ),
        (
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"${aws:username}"}}}]}"#,
            "variables",
        ),
        (
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/*"},"Action":"*","Resource":"*"}]}"#,
            "wildcards",
        ),
        (
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","NotAction":"x","Resource":"*"}]}"#,
            "both",
        ),
        (
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*"}]}"#,
            "Resource",
        ),
        (
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"ten"}}}]}"#,
            "IP address",
        ),
        (r#"{"Version":"2020-01-01","Statement":[]}"#, "Version"),
        ("not json", "JSON"),
    ] {
        let e = Policy::parse(bad).expect_err(bad);
        assert!(e.0.contains(why), "{why:?} not in {e}");
    }
}

#[test]
fn lattice_combines_network_and_service_policies() {
    let allow_all =
        policy(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#);
    let authenticated = policy(
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"StringNotEqualsIgnoreCase":{"aws:PrincipalType":"anonymous"}}}]}"#,
    );
    let deny_admin = policy(&format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}},{{"Effect":"Deny","Principal":"*","Action":"*","Resource":"{SERVICE}/admin*"}}]}}"#
    ));
    let caller = role("a");
    let anonymous = request(None, "/", "GET");
    let signed = request(Some(&caller), "/", "GET");
    assert_eq!(decide(Auth::None, Auth::None, &anonymous), Verdict::Allowed);
    assert_eq!(
        decide(Auth::None, Auth::AwsIam(None), &signed),
        Verdict::Denied {
            scope: Scope::Service,
            explicit: false
        },
        "AWS_IAM without a policy denies all"
    );
    assert_eq!(
        decide(
            Auth::AwsIam(Some(&authenticated)),
            Auth::AwsIam(Some(&allow_all)),
            &anonymous
        ),
        Verdict::Denied {
            scope: Scope::Network,
            explicit: false
        }
    );
    assert_eq!(
        decide(
            Auth::AwsIam(Some(&authenticated)),
            Auth::AwsIam(Some(&allow_all)),
            &signed
        ),
        Verdict::Allowed,
        "both allow"
    );
    let admin = request(Some(&caller), "/admin", "GET");
    let verdict = decide(
        Auth::AwsIam(Some(&allow_all)),
        Auth::AwsIam(Some(&deny_admin)),
        &admin,
    );
    assert_eq!(
        verdict,
        Verdict::Denied {
            scope: Scope::Service,
            explicit: true
        }
    );
    assert_eq!(
        verdict.message(&admin).unwrap(),
        format!("AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/a/session-1 is not authorized to perform: vpc-lattice-svcs:Invoke on resource: {SERVICE}/admin with an explicit deny in a service-based policy")
    );
    let denied = decide(Auth::AwsIam(Some(&authenticated)), Auth::None, &anonymous);
    assert_eq!(
        denied.message(&anonymous).unwrap(),
        format!("AccessDeniedException: User: anonymous is not authorized to perform: vpc-lattice-svcs:Invoke on resource: {SERVICE}/ because no network-based policy allows the vpc-lattice-svcs:Invoke action")
    );
}
