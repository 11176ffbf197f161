//! Accepts client connections, enforcing maxClientCnxns per remote address.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::ToCore;

#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// 0 = unlimited.
    pub max_client_cnxns: u32,
    pub max_buffer: usize,
}

/// Accepts until the listener fails; each connection runs in its own task.
pub async fn serve(
    listener: TcpListener,
    cfg: ListenerConfig,
    core: mpsc::UnboundedSender<ToCore>,
) {
    let per_ip: Arc<Mutex<HashMap<IpAddr, u32>>> = Arc::default();
    loop {
        let (stream, remote): (_, SocketAddr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                warn!("accept failed: {e}");
                // Out of file descriptors and the like: back off briefly instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let ip = remote.ip();
        {
            let mut m = per_ip.lock();
            let n = m.entry(ip).or_insert(0);
            if cfg.max_client_cnxns > 0 && *n >= cfg.max_client_cnxns {
                crate::metrics::metrics().connection_rejected.inc();
                info!(
                    "Too many connections from {ip} - max is {}",
                    cfg.max_client_cnxns
                );
                drop(stream);
                continue;
            }
            *n += 1;
        }
        let core = core.clone();
        let slot = Slot {
            per_ip: per_ip.clone(),
            ip,
        };
        let max_buffer = cfg.max_buffer;
        tokio::spawn(super::conn::run(stream, remote, core, max_buffer, slot));
    }
}

/// A connection's place in the per-address count; freed when dropped. A connection hands
/// it back before its final close, so a client that saw the close can connect again at once.
pub struct Slot {
    per_ip: Arc<Mutex<HashMap<IpAddr, u32>>>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut m = self.per_ip.lock();
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}
