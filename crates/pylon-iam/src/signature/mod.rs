//! Who signed a request: AWS Signature Version 4 (`AWS4-HMAC-SHA256`, scoped to a region) and
//! 4A (`AWS4-ECDSA-P256-SHA256`, scoped to a region set) in the `Authorization` header, checked
//! as VPC Lattice checks them: service `vpc-lattice-svcs`, `x-amz-content-sha256:
//! UNSIGNED-PAYLOAD` among the signed headers, `X-Amz-Date` within five minutes of now. Pure:
//! the clock is an argument.

mod canonical;
#[cfg(test)]
mod tests;

pub use canonical::Signed;

use crate::credentials::{Credential, Keyring};
use std::fmt;
use std::time::{Duration, SystemTime};

/// The signing name of Lattice services.
pub const SERVICE: &str = "vpc-lattice-svcs";
const V4: &str = "AWS4-HMAC-SHA256";
const V4A: &str = "AWS4-ECDSA-P256-SHA256";
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// How far `X-Amz-Date` may be from the clock, either way.
pub const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// Why a signed request is refused; `Display` is the body Lattice answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The signature lacks a part it must have.
    Incomplete(String),
    /// The signature is there but wrong: scope, date, payload or the signature itself.
    Invalid(String),
    /// No known access key has this id (or the request carries a session token).
    UnknownKey,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Incomplete(why) => write!(f, "IncompleteSignatureException: {why}"),
            Rejection::Invalid(why) => write!(f, "InvalidSignatureException: {why}"),
            Rejection::UnknownKey => write!(
                f,
                "UnrecognizedClientException: The security token included in the request is invalid."
            ),
        }
    }
}

fn incomplete(why: &str) -> Rejection {
    Rejection::Incomplete(why.to_string())
}

fn invalid(why: &str) -> Rejection {
    Rejection::Invalid(why.to_string())
}

/// Whether the request carries a signature at all (then it must be a valid one): an
/// `Authorization` header of an `AWS4-` scheme, or a presigned query.
pub fn is_signed(authorization: Option<&str>, query: Option<&str>) -> bool {
    authorization.is_some_and(|a| a.starts_with("AWS4-"))
        || query.is_some_and(|q| {
            q.split('&')
                .any(|p| p.starts_with("X-Amz-Signature=") || p.starts_with("X-Amz-Algorithm="))
        })
}

/// The parts of an `Authorization` header.
struct Authorization<'a> {
    algorithm: &'a str,
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse(header: &str) -> Result<Authorization<'_>, Rejection> {
    let (algorithm, rest) = header.split_once(' ').unwrap_or((header, ""));
    if algorithm != V4 && algorithm != V4A {
        return Err(incomplete(&format!(
            "Unsupported AWS 'algorithm': '{algorithm}'"
        )));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed_headers = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    match (credential, signed_headers, signature) {
        (Some(credential), Some(signed_headers), Some(signature)) => Ok(Authorization {
            algorithm,
            credential,
            signed_headers,
            signature,
        }),
        _ => Err(incomplete(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.",
        )),
    }
}

/// `YYYYMMDD'T'HHMMSS'Z'` as a time.
fn parse_date_time(value: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let t = time::PrimitiveDateTime::parse(value, format).ok()?;
    Some(t.assume_utc().into())
}

fn format_date_time(t: SystemTime) -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::from(t)
        .format(format)
        .unwrap_or_default()
}

/// The signature's time must be within [`MAX_SKEW`] of `now`.
fn check_skew(date_time: &str, signed_at: SystemTime, now: SystemTime) -> Result<(), Rejection> {
    if now.duration_since(signed_at).is_ok_and(|d| d > MAX_SKEW) {
        let limit = format_date_time(now - MAX_SKEW);
        let now = format_date_time(now);
        return Err(invalid(&format!(
            "Signature expired: {date_time} is now earlier than {limit} ({now} - 5 min.)"
        )));
    }
    if signed_at.duration_since(now).is_ok_and(|d| d > MAX_SKEW) {
        let limit = format_date_time(now + MAX_SKEW);
        let now = format_date_time(now);
        return Err(invalid(&format!(
            "Signature not yet current: {date_time} is still later than {limit} ({now} + 5 min.)"
        )));
    }
    Ok(())
}

/// Constant time, so that a forger learns nothing from how long a comparison takes.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Checks the request's signature against the keys of `keyring`, for a service in `region`;
/// the credential that signed it when it is valid.
pub fn verify<'k>(
    request: &Signed<'_>,
    keyring: &'k Keyring,
    region: &str,
    now: SystemTime,
) -> Result<&'k Credential, Rejection> {
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let Some(authorization) = header("authorization") else {
        return Err(invalid(
            "Presigned (query-string) signatures are not supported here; sign the Authorization header.",
        ));
    };
    let auth = parse(authorization)?;

    // The credential scope: key/date/region/service/aws4_request (SigV4A: no region).
    let scope_parts: Vec<&str> = auth.credential.split('/').collect();
    let (key_id, date, scope_region, service) = match (auth.algorithm, scope_parts.as_slice()) {
        (V4, [key, date, region, service, "aws4_request"]) => (*key, *date, Some(*region), *service),
        (V4A, [key, date, service, "aws4_request"]) => (*key, *date, None, *service),
        _ => {
            return Err(incomplete(&format!(
                "Credential must have exactly {} slash-delimited elements, e.g. keyid/date/{}service/aws4_request, got '{}'",
                if auth.algorithm == V4 { 5 } else { 4 },
                if auth.algorithm == V4 { "region/" } else { "" },
                auth.credential
            )))
        }
    };
    if service != SERVICE {
        return Err(invalid(&format!(
            "Credential should be scoped to correct service: '{SERVICE}'."
        )));
    }

    let signed: Vec<&str> = auth.signed_headers.split(';').collect();
    if !signed.contains(&"host") {
        return Err(invalid(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    if !signed.contains(&"x-amz-content-sha256") {
        return Err(incomplete(
            "Missing the 'x-amz-content-sha256' in canonical headers",
        ));
    }
    let Some(payload) = header("x-amz-content-sha256") else {
        return Err(incomplete(
            "Missing the 'x-amz-content-sha256' header: send x-amz-content-sha256: UNSIGNED-PAYLOAD",
        ));
    };
    if payload != UNSIGNED_PAYLOAD {
        return Err(invalid("Signed payloads are not supported"));
    }
    let Some(date_time) = header("x-amz-date") else {
        return Err(incomplete(
            "Authorization header requires existence of a 'X-Amz-Date' header.",
        ));
    };
    let Some(signed_at) = parse_date_time(date_time) else {
        return Err(incomplete(&format!(
            "Date must be in ISO-8601 'basic format'. Got '{date_time}'."
        )));
    };
    if !date_time.starts_with(date) || date.len() != 8 {
        return Err(invalid(&format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{date}' != '{}', from '{date_time}'.",
            &date_time[..8]
        )));
    }
    match scope_region {
        Some(r) if r != region => {
            return Err(invalid("Credential should be scoped to a valid region."))
        }
        Some(_) => {}
        None => {
            let set = header("x-amz-region-set").unwrap_or_default();
            if !signed.contains(&"x-amz-region-set")
                || !set
                    .split(',')
                    .any(|r| crate::wildcard(r.trim(), region, true))
            {
                return Err(invalid(&format!(
                    "The signed X-Amz-Region-Set does not include '{region}'."
                )));
            }
        }
    }
    check_skew(date_time, signed_at, now)?;

    if header("x-amz-security-token").is_some() {
        // Temporary credentials are issued by STS, which is not here.
        return Err(Rejection::UnknownKey);
    }
    let Some(credential) = keyring.get(key_id) else {
        return Err(Rejection::UnknownKey);
    };

    let mut with_host = request.headers.clone();
    if !with_host.contains_key(http::header::HOST) {
        if let Some(authority) = request.authority.and_then(|a| a.parse().ok()) {
            with_host.insert(http::header::HOST, authority);
        }
    }
    let mismatch = || {
        invalid("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
    };
    let Some(headers) = canonical::headers(&signed, &with_host) else {
        return Err(mismatch());
    };
    let query = canonical::query(request.query);
    let scope = match scope_region {
        Some(r) => format!("{date}/{r}/{service}/aws4_request"),
        None => format!("{date}/{service}/aws4_request"),
    };
    for path in canonical::paths(request.path) {
        let creq = canonical::request(
            request.method,
            &path,
            &query,
            &headers,
            auth.signed_headers,
            payload,
        );
        let to_sign = canonical::string_to_sign(auth.algorithm, date_time, &scope, &creq);
        if matches(&auth, credential, &to_sign, signed_at, scope_region) {
            return Ok(credential);
        }
    }
    Err(mismatch())
}

/// Whether `auth.signature` signs `to_sign` with `credential`'s key.
fn matches(
    auth: &Authorization<'_>,
    credential: &Credential,
    to_sign: &str,
    signed_at: SystemTime,
    region: Option<&str>,
) -> bool {
    match region {
        Some(region) => {
            let key = aws_sigv4::sign::v4::generate_signing_key(
                credential.secret(),
                signed_at,
                region,
                SERVICE,
            );
            let expected = aws_sigv4::sign::v4::calculate_signature(key, to_sign.as_bytes());
            same(&expected, auth.signature)
        }
        None => {
            use p256::ecdsa::signature::Verifier;
            let (Some(key), Ok(der)) = (credential.v4a_key(), hex::decode(auth.signature)) else {
                return false;
            };
            let Ok(signature) = p256::ecdsa::Signature::from_der(&der) else {
                return false;
            };
            key.verify(to_sign.as_bytes(), &signature).is_ok()
        }
    }
}
