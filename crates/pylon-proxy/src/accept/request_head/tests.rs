use super::*;

fn request(version: Version, uri: &str, headers: &[(&str, &str)]) -> Request<()> {
    let mut builder = Request::builder().version(version).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap()
}

#[test]
fn several_host_fields_are_refused() {
    let mut r = request(
        Version::HTTP_11,
        "/",
        &[("host", "a.example"), ("host", "b.example")],
    );
    assert_eq!(check(&mut r), Err(Refused::SeveralHosts));
}

#[test]
fn http11_needs_host_and_http10_does_not() {
    assert_eq!(
        check(&mut request(Version::HTTP_11, "/", &[])),
        Err(Refused::NoHost)
    );
    assert_eq!(check(&mut request(Version::HTTP_10, "/", &[])), Ok(()));
    // HTTP/2 names its host in :authority.
    assert_eq!(
        check(&mut request(Version::HTTP_2, "https://a.example/", &[])),
        Ok(())
    );
}

#[test]
fn absolute_form_is_routed_on_its_authority_and_forwarded_in_origin_form() {
    let mut r = request(
        Version::HTTP_11,
        "http://api.example:8080/v1/items?id=2",
        &[("host", "other.example")],
    );
    assert_eq!(check(&mut r), Ok(()));
    assert_eq!(r.headers()["host"], "api.example:8080");
    assert_eq!(r.uri().to_string(), "/v1/items?id=2");
    // Without a Host field too.
    let mut r = request(Version::HTTP_11, "http://api.example", &[]);
    assert_eq!(check(&mut r), Ok(()));
    assert_eq!(r.headers()["host"], "api.example");
    assert_eq!(r.uri().to_string(), "/");
}

#[test]
fn content_length_is_normalised_or_refused() {
    let length = |values: &[&str]| {
        let headers: Vec<(&str, &str)> = values.iter().map(|v| ("content-length", *v)).collect();
        let mut r = request(Version::HTTP_11, "/", &headers);
        r.headers_mut()
            .insert("host", HeaderValue::from_static("a.example"));
        check(&mut r).map(|()| {
            r.headers()
                .get_all("content-length")
                .iter()
                .map(|v| v.to_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(length(&["5"]), Ok(vec!["5".to_string()]));
    assert_eq!(length(&["0"]), Ok(vec!["0".to_string()]));
    assert_eq!(length(&["0005"]), Ok(vec!["5".to_string()]));
    assert_eq!(length(&["000"]), Ok(vec!["0".to_string()]));
    assert_eq!(
        length(&["00000000000000000000000000001"]),
        Ok(vec!["1".to_string()])
    );
    assert_eq!(length(&["5", "5"]), Ok(vec!["5".to_string()]));
    assert_eq!(length(&["5, 5"]), Ok(vec!["5".to_string()]));
    assert_eq!(
        length(&["9223372036854775807"]),
        Ok(vec!["9223372036854775807".to_string()])
    );
    for bad in [
        &["9223372036854775808"][..],
        &["18446744073709551616"],
        &["5", "6"],
        &["-1"],
        &["+5"],
        &["5a"],
        &[""],
        &["1 2"],
    ] {
        assert_eq!(length(bad), Err(Refused::BadContentLength), "{bad:?}");
    }
}
