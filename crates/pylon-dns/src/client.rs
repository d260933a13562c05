//! One query to one server with hickory's client, over UDP or TCP: for checking what a server
//! answers (the tests use it), with no resolver, cache or search list in between.

use hickory_server::net::client::{Client, ClientHandle};
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::net::tcp::TcpClientStream;
use hickory_server::net::udp::UdpClientStream;
use hickory_server::proto::op::Message;
use hickory_server::proto::rr::{DNSClass, Name, RData, RecordType};
use std::net::{IpAddr, SocketAddr};

/// The server's whole answer to `name` (fully qualified or not) of `record_type`.
pub async fn ask(
    server: SocketAddr,
    tcp: bool,
    name: &str,
    record_type: RecordType,
) -> Result<Message, String> {
    let provider = TokioRuntimeProvider::default();
    let mut client = if tcp {
        let (future, sender) = TcpClientStream::new(server, None, None, provider);
        let stream = future.await.map_err(|e| format!("{server}: {e}"))?;
        let (client, bg) = Client::<TokioRuntimeProvider>::new(stream, sender);
        tokio::spawn(bg);
        client
    } else {
        let stream = UdpClientStream::builder(server, provider).build();
        let (client, bg) = Client::<TokioRuntimeProvider>::from_sender(stream);
        tokio::spawn(bg);
        client
    };
    let name = Name::from_ascii(name).map_err(|e| format!("{name}: {e}"))?;
    client
        .query(name.clone(), DNSClass::IN, record_type)
        .await
        .map(|r| r.into_message())
        .map_err(|e| format!("{name}: {e}"))
}

/// The A and AAAA addresses of an answer.
pub fn addresses(message: &Message) -> Vec<IpAddr> {
    message
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect()
}
