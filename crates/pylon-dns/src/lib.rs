//! DNS for the names Pylon serves, as Lattice's resolvers answer them: every VPC Lattice
//! service's generated name and custom domain resolves to its service network's data-plane
//! address; other names under a served `vpc-lattice-svcs.<region>.on.aws` do not exist; any other
//! name is refused, so a resolver that forwards only `on.aws` (and the custom domains) here never
//! learns anything else from Pylon. Wire format, UDP and TCP serving come from hickory.

pub mod client;
mod names;

pub use hickory_server::proto::rr::RecordType;
pub use names::{Answer, Names};

use arc_swap::ArcSwap;
use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA, SOA};
use hickory_server::proto::rr::{Name, RData, Record};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use hickory_server::Server;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};

/// How long resolvers may keep an answer, positive or negative.
pub const TTL: u32 = 60;
/// How long a TCP client may take to send its query.
const TCP_TIMEOUT: Duration = Duration::from_secs(5);

/// The DNS server: UDP and TCP on one address, answering from names that can be replaced while
/// it serves.
pub struct DnsServer {
    names: Arc<ArcSwap<Names>>,
    server: Server<Handler>,
    address: SocketAddr,
}

impl DnsServer {
    /// Binds UDP and TCP on `address` (port 0: one free port for both).
    pub async fn bind(address: SocketAddr) -> std::io::Result<Self> {
        let names = Arc::new(ArcSwap::from_pointee(Names::default()));
        let (udp, tcp) = bind_both(address).await?;
        let address = udp.local_addr()?;
        let mut server = Server::new(Handler {
            names: names.clone(),
        });
        server.register_socket(udp);
        server.register_listener(tcp, TCP_TIMEOUT, 64);
        Ok(DnsServer {
            names,
            server,
            address,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Answers from `names` from now on.
    pub fn serve(&self, names: Names) {
        self.names.store(Arc::new(names));
    }

    pub async fn shutdown(mut self) {
        if let Err(e) = self.server.shutdown_gracefully().await {
            tracing::warn!("DNS server shutdown: {e}");
        }
    }
}

/// UDP and TCP on the same port: when `address` asks for any port, the TCP port follows the one
/// UDP got (retrying a few times if it is taken for TCP).
async fn bind_both(address: SocketAddr) -> std::io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..8 {
        let udp = UdpSocket::bind(address).await?;
        let bound = udp.local_addr()?;
        match TcpListener::bind(bound).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if address.port() == 0 => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no port free for both UDP and TCP")))
}

struct Handler {
    names: Arc<ArcSwap<Names>>,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response: R,
    ) -> ResponseInfo {
        let builder = MessageResponseBuilder::from_message_request(request);
        let query = match request.request_info() {
            Ok(info) => info.query.clone(),
            Err(_) => {
                let message = builder.error_msg(&request.metadata, ResponseCode::FormErr);
                return send(&mut response, message, &request.metadata).await;
            }
        };
        let name: Name = query.name().into();
        let names = self.names.load();
        let mut metadata = Metadata::response_from_request(&request.metadata);
        let (code, answers, zone) = match names.answer(&name.to_ascii(), query.query_type()) {
            Answer::Refused => (ResponseCode::Refused, Vec::new(), None),
            Answer::NxDomain { zone } => (ResponseCode::NXDomain, Vec::new(), Some(zone)),
            Answer::Addresses { addresses, zone } => {
                let records = addresses
                    .into_iter()
                    .map(|ip| Record::from_rdata(name.clone(), TTL, rdata(ip)))
                    .collect();
                (ResponseCode::NoError, records, Some(zone))
            }
        };
        metadata.response_code = code;
        metadata.authoritative = zone.is_some();
        // Negative answers carry the zone's SOA, so resolvers cache them (RFC 2308).
        let soa: Vec<Record> = match (&zone, answers.is_empty()) {
            (Some(zone), true) => soa(zone).into_iter().collect(),
            _ => Vec::new(),
        };
        let message = builder.build(metadata, answers.iter(), soa.iter(), [], []);
        send(&mut response, message, &request.metadata).await
    }
}

async fn send<'a, R: ResponseHandler>(
    response: &mut R,
    message: hickory_server::zone_handler::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
    request: &Metadata,
) -> ResponseInfo {
    match response.send_response(message).await {
        Ok(info) => info,
        Err(e) => {
            tracing::debug!("DNS answer not sent: {e}");
            let mut metadata = Metadata::response_from_request(request);
            metadata.response_code = ResponseCode::ServFail;
            hickory_server::proto::op::Header {
                metadata,
                counts: Default::default(),
            }
            .into()
        }
    }
}

fn rdata(ip: IpAddr) -> RData {
    match ip {
        IpAddr::V4(v4) => RData::A(A(v4)),
        IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
    }
}

/// The SOA record of a zone Pylon answers for.
fn soa(zone: &str) -> Option<Record> {
    let origin = Name::from_ascii(zone).ok()?;
    let admin = Name::from_ascii(format!("hostmaster.{zone}")).ok()?;
    let rdata = SOA::new(origin.clone(), admin, 1, 3600, 600, 86400, TTL);
    Some(Record::from_rdata(origin, TTL, RData::SOA(rdata)))
}

#[cfg(test)]
mod tests;
