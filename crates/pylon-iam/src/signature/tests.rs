use super::canonical;
use super::*;
use crate::{Credential, Keyring, Principal};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings,
};
use aws_sigv4::sign::{v4, v4a};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const KEY: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const ROLE: &str = "arn:aws:iam::123456789012:role/client";

/// 2026-12-03T12:00:00Z.
fn noon() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_796_299_200)
}

fn keyring() -> Keyring {
    let mut keys = Keyring::default();
    keys.insert(Credential::new(
        KEY,
        SECRET,
        Principal {
            arn: ROLE.into(),
            ..Principal::default()
        },
    ));
    keys
}

/// The AWS documentation's worked example (IAM `ListUsers`, "Create a signed AWS API
/// request"): its canonical request, string to sign and signature.
#[test]
fn the_documentation_example() {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "content-type",
        "application/x-www-form-urlencoded; charset=utf-8"
            .parse()
            .unwrap(),
    );
    headers.insert("host", "iam.amazonaws.com".parse().unwrap());
    headers.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
    let signed = ["content-type", "host", "x-amz-date"];
    let creq = canonical::request(
        "GET",
        &canonical::paths("/")[0],
        &canonical::query(Some("Version=2010-05-08&Action=ListUsers")),
        &canonical::headers(&signed, &headers).unwrap(),
        "content-type;host;x-amz-date",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    let to_sign = canonical::string_to_sign(
        "AWS4-HMAC-SHA256",
        "20150830T123600Z",
        "20150830/us-east-1/iam/aws4_request",
        &creq,
    );
    assert_eq!(
        to_sign,
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n\
         f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
    );
    let at = parse_date_time("20150830T123600Z").unwrap();
    let key = v4::generate_signing_key(SECRET, at, "us-east-1", "iam");
    assert_eq!(
        v4::calculate_signature(key, to_sign.as_bytes()),
        "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    );
}

#[test]
fn paths_are_normalized_and_encoded_again() {
    assert_eq!(canonical::paths(""), vec!["/"]);
    assert_eq!(
        canonical::paths("/a/./b/../c/"),
        vec!["/a/c/", "/a/./b/../c/"]
    );
    assert_eq!(canonical::paths("/a%20b"), vec!["/a%2520b", "/a%20b"]);
    assert_eq!(
        canonical::query(Some("b=2&a=x%2Fy&a=1&c")),
        "a=1&a=x%2Fy&b=2&c="
    );
}

/// A request as an AWS SDK client sends it to a Lattice service: signed with the SDK's signer
/// (V4 for `region`, or V4A for the region set), `x-amz-content-sha256: UNSIGNED-PAYLOAD`.
fn signed_request(
    uri: &str,
    secret: &str,
    region: &str,
    v4a_set: Option<&str>,
    at: SystemTime,
) -> http::Request<()> {
    let identity = Credentials::new(KEY, secret, None, None, "test").into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = match v4a_set {
        None => v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(SERVICE)
            .time(at)
            .settings(settings)
            .build()
            .unwrap()
            .into(),
        Some(set) => v4a::SigningParams::builder()
            .identity(&identity)
            .region_set(set)
            .name(SERVICE)
            .time(at)
            .settings(settings)
            .build()
            .unwrap()
            .into(),
    };
    let mut request = http::Request::get(uri)
        .header("host", "billing.example.com")
        .header("x-team", "payments")
        .body(())
        .unwrap();
    let headers: Vec<(&str, &str)> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str(), v.to_str().unwrap()))
        .collect();
    let signable = SignableRequest::new(
        "GET",
        uri,
        headers.into_iter(),
        SignableBody::UnsignedPayload,
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut request);
    request
}

fn check(request: &http::Request<()>, now: SystemTime) -> Result<String, Rejection> {
    let keys = keyring();
    verify(&Signed::of(request), &keys, "us-west-2", now).map(|c| c.principal.arn.clone())
}

const URI: &str = "https://billing.example.com/invoices/2026?year=2026&a=b%20c";

#[test]
fn a_v4_signature_by_the_sdk_signer_is_verified() {
    let request = signed_request(URI, SECRET, "us-west-2", None, noon());
    assert_eq!(check(&request, noon()), Ok(ROLE.to_string()));
    // Within the skew, either way.
    assert!(check(&request, noon() + Duration::from_secs(299)).is_ok());
    assert!(check(&request, noon() - Duration::from_secs(299)).is_ok());
}

#[test]
fn a_v4a_signature_for_every_region_is_verified() {
    let request = signed_request(URI, SECRET, "", Some("*"), noon());
    assert_eq!(check(&request, noon()), Ok(ROLE.to_string()));
    let elsewhere = signed_request(URI, SECRET, "", Some("eu-west-1"), noon());
    assert!(matches!(
        check(&elsewhere, noon()),
        Err(Rejection::Invalid(_))
    ));
    let tampered = {
        let mut r = signed_request(URI, SECRET, "", Some("*"), noon());
        r.headers_mut().insert("x-team", "other".parse().unwrap());
        r
    };
    assert!(matches!(
        check(&tampered, noon()),
        Err(Rejection::Invalid(_))
    ));
}

#[test]
fn wrong_secrets_tampering_and_old_dates_are_rejected() {
    let mismatch = Err(Rejection::Invalid(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.".into(),
    ));
    let wrong = signed_request(URI, "not-the-secret", "us-west-2", None, noon());
    assert_eq!(check(&wrong, noon()), mismatch);

    let mut tampered = signed_request(URI, SECRET, "us-west-2", None, noon());
    tampered
        .headers_mut()
        .insert("x-team", "other".parse().unwrap());
    assert_eq!(check(&tampered, noon()), mismatch);

    let other_path = signed_request(URI, SECRET, "us-west-2", None, noon());
    let mut moved = http::Request::get("https://billing.example.com/admin?year=2026&a=b%20c")
        .body(())
        .unwrap();
    *moved.headers_mut() = other_path.headers().clone();
    assert_eq!(check(&moved, noon()), mismatch);

    let old = signed_request(URI, SECRET, "us-west-2", None, noon());
    let later = noon() + Duration::from_secs(301);
    assert_eq!(
        check(&old, later).unwrap_err().to_string(),
        "InvalidSignatureException: Signature expired: 20261203T120000Z is now earlier than \
         20261203T120001Z (20261203T120501Z - 5 min.)"
    );
    let early = noon() - Duration::from_secs(301);
    assert!(check(&old, early)
        .unwrap_err()
        .to_string()
        .contains("Signature not yet current"));
}

#[test]
fn scope_key_and_payload_are_checked() {
    let other_region = signed_request(URI, SECRET, "eu-west-1", None, noon());
    assert_eq!(
        check(&other_region, noon()).unwrap_err().to_string(),
        "InvalidSignatureException: Credential should be scoped to a valid region."
    );

    let mut unknown = signed_request(URI, SECRET, "us-west-2", None, noon());
    let auth = unknown.headers()["authorization"]
        .to_str()
        .unwrap()
        .replace(KEY, "AKIDOTHER");
    unknown
        .headers_mut()
        .insert("authorization", auth.parse().unwrap());
    assert_eq!(check(&unknown, noon()), Err(Rejection::UnknownKey));

    let mut payload = signed_request(URI, SECRET, "us-west-2", None, noon());
    payload
        .headers_mut()
        .insert("x-amz-content-sha256", "e3b0c442".parse().unwrap());
    assert_eq!(
        check(&payload, noon()).unwrap_err().to_string(),
        "InvalidSignatureException: Signed payloads are not supported"
    );

    let mut unlisted = signed_request(URI, SECRET, "us-west-2", None, noon());
    let auth = unlisted.headers()["authorization"]
        .to_str()
        .unwrap()
        .replace("x-amz-content-sha256;", "");
    unlisted
        .headers_mut()
        .insert("authorization", auth.parse().unwrap());
    assert_eq!(
        check(&unlisted, noon()).unwrap_err().to_string(),
        "IncompleteSignatureException: Missing the 'x-amz-content-sha256' in canonical headers"
    );

    let mut garbled = signed_request(URI, SECRET, "us-west-2", None, noon());
    garbled.headers_mut().insert(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=x".parse().unwrap(),
    );
    assert!(matches!(
        check(&garbled, noon()),
        Err(Rejection::Incomplete(_))
    ));
}

#[test]
fn what_counts_as_signed() {
    assert!(is_signed(Some("AWS4-HMAC-SHA256 Credential=..."), None));
    assert!(is_signed(None, Some("a=1&X-Amz-Signature=00")));
    assert!(!is_signed(Some("Bearer abc"), Some("a=1")));
    assert!(!is_signed(None, None));
}

#[test]
fn secrets_are_not_printed() {
    let printed = format!("{:?}", keyring());
    assert!(printed.contains(KEY) && printed.contains(ROLE));
    assert!(!printed.contains(SECRET), "{printed}");
}
