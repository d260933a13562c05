//! `pylon run`'s DNS server (`--dns-listen`): the names of the configuration being served, bound
//! again a second later when its address is taken, like listeners.

use pylon_dns::{DnsServer, Names};
use pylon_ir::Ir;
use std::net::SocketAddr;

/// The zone of the generated names of Lattice services in `region`.
pub fn lattice_zone(region: &str) -> String {
    format!("vpc-lattice-svcs.{region}.on.aws")
}

pub struct Dns {
    address: Option<SocketAddr>,
    server: Option<DnsServer>,
    /// The last bind error logged, so that each is logged once.
    failed: Option<String>,
}

impl Dns {
    /// `None`: no DNS server.
    pub fn new(address: Option<SocketAddr>) -> Self {
        Dns {
            address,
            server: None,
            failed: None,
        }
    }

    /// Serves the names of `ir`; false while the address cannot be bound.
    pub async fn serve(&mut self, ir: &Ir, zones: Vec<String>) -> bool {
        let Some(address) = self.address else {
            return true;
        };
        if self.server.is_none() {
            match DnsServer::bind(address).await {
                Ok(server) => {
                    tracing::info!(
                        "DNS for Lattice services on {} (UDP and TCP)",
                        server.local_addr()
                    );
                    self.server = Some(server);
                    self.failed = None;
                }
                Err(e) => {
                    let why = format!("cannot bind DNS on {address} (--dns-listen): {e}");
                    if self.failed.as_ref() != Some(&why) {
                        tracing::error!("{why}; trying again every second");
                    }
                    self.failed = Some(why);
                    return false;
                }
            }
        }
        if let Some(server) = &self.server {
            server.serve(Names::of(ir, zones));
        }
        true
    }

    pub async fn shutdown(self) {
        if let Some(server) = self.server {
            server.shutdown().await;
        }
    }
}
