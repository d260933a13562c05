//! The server answering real DNS clients (hickory's) over UDP and TCP.

use super::client::ask;
use super::*;
use hickory_server::proto::op::Message;
use hickory_server::proto::rr::RecordType;

const WEB: &str = "web-demo-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws.";

async fn server() -> DnsServer {
    let server = DnsServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut names = Names::new(["vpc-lattice-svcs.us-west-2.on.aws".to_string()]);
    names.insert(WEB, "127.171.0.9".parse().unwrap());
    server.serve(names);
    server
}

fn addresses(message: &Message) -> Vec<String> {
    client::addresses(message)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[tokio::test]
async fn served_names_resolve_over_udp_and_tcp() {
    let server = server().await;
    for tcp in [false, true] {
        let answer = ask(server.local_addr(), tcp, WEB, RecordType::A)
            .await
            .unwrap();
        assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
        assert!(answer.metadata.authoritative);
        assert_eq!(addresses(&answer), ["127.171.0.9"], "tcp {tcp}");
        let none = ask(server.local_addr(), tcp, WEB, RecordType::AAAA)
            .await
            .unwrap();
        assert_eq!(none.metadata.response_code, ResponseCode::NoError);
        assert!(addresses(&none).is_empty());
    }
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_names_are_nxdomain_in_the_zone_and_refused_elsewhere() {
    let server = server().await;
    let gone = ask(
        server.local_addr(),
        false,
        "gone-0123456789abcdef1.7d67968.vpc-lattice-svcs.us-west-2.on.aws.",
        RecordType::A,
    )
    .await
    .unwrap();
    assert_eq!(gone.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(gone.authorities.len(), 1, "the zone's SOA: {gone:?}");
    let other = ask(server.local_addr(), true, "example.com.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(other.metadata.response_code, ResponseCode::Refused);
    assert!(other.answers.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn new_names_are_served_without_a_restart() {
    let server = server().await;
    let mut names = Names::new(["vpc-lattice-svcs.us-west-2.on.aws".to_string()]);
    names.insert("inventory.example.com", "127.171.0.10".parse().unwrap());
    server.serve(names);
    let answer = ask(
        server.local_addr(),
        false,
        "inventory.example.com.",
        RecordType::A,
    )
    .await
    .unwrap();
    assert_eq!(addresses(&answer), ["127.171.0.10"]);
    let gone = ask(server.local_addr(), false, WEB, RecordType::A)
        .await
        .unwrap();
    assert_eq!(gone.metadata.response_code, ResponseCode::NXDomain);
    server.shutdown().await;
}
