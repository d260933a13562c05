//! HTTP/1.1 upgrades: both connections, once switched, joined byte for byte.

use hyper_util::rt::TokioIo;

/// Tunnels an upgraded connection (WebSocket and the like) between the client and the target once
/// both sides have switched protocols.
pub fn tunnel(client: hyper::upgrade::OnUpgrade, target: hyper::upgrade::OnUpgrade) {
    tokio::spawn(async move {
        let (client, target) = match tokio::try_join!(client, target) {
            Ok(both) => both,
            Err(e) => {
                tracing::debug!(error = %e, "upgrade failed");
                return;
            }
        };
        let (mut client, mut target) = (TokioIo::new(client), TokioIo::new(target));
        if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut target).await {
            tracing::debug!(error = %e, "upgraded connection ended with an error");
        }
    });
}
