//! The private network: the environment's own network namespace, with a
//! loopback interface only.
//!
//! A socket belongs to the network namespace it was created in, wherever
//! it is used afterwards. The sandbox cannot enter the namespace itself (a
//! program with threads may not join a user namespace), so the keeper, which
//! lives in it, creates sockets on request and hands them over a Unix
//! socket. With them the sandbox listens inside, at the addresses Lambda's
//! processes expect (the Runtime API at `127.0.0.1:9001`), relaying to its
//! servers on the host, and connects inside, to the listeners of the
//! extensions that subscribed to the Logs or Telemetry API.

use std::net::SocketAddr;
#[cfg(target_os = "linux")]
use std::sync::Weak;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

#[cfg(target_os = "linux")]
use super::keeper::Commands;

/// Where the Runtime API is inside a private network, as on Lambda.
pub const RUNTIME_API: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9001);

/// How the sandbox reaches the environment's processes.
#[derive(Clone, Default)]
pub enum Network {
    /// They share the host's network.
    #[default]
    Host,
    /// They have their own; sockets in it come from the keeper, while the
    /// environment lasts.
    #[cfg(target_os = "linux")]
    Private(Weak<Commands>),
}

impl Network {
    pub fn is_private(&self) -> bool {
        !matches!(self, Network::Host)
    }

    /// A TCP connection to `addr` as the processes see it.
    pub async fn connect(&self, addr: SocketAddr) -> std::io::Result<TcpStream> {
        match self {
            Network::Host => TcpStream::connect(addr).await,
            #[cfg(target_os = "linux")]
            Network::Private(_) => self.socket()?.connect(addr).await,
        }
    }

    /// A listener at `addr` inside the environment's network.
    pub fn listen(&self, addr: SocketAddr) -> std::io::Result<TcpListener> {
        let socket = match self {
            Network::Host => TcpSocket::new_v4()?,
            #[cfg(target_os = "linux")]
            Network::Private(_) => self.socket()?,
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(1024)
    }

    /// A socket made by the keeper, in the environment's network.
    #[cfg(target_os = "linux")]
    fn socket(&self) -> std::io::Result<TcpSocket> {
        let commands = match self {
            Network::Private(commands) => commands.upgrade(),
            Network::Host => None,
        }
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "the environment's network has ended",
            )
        })?;
        let fd = commands.socket()?;
        Ok(TcpSocket::from_std_stream(std::net::TcpStream::from(fd)))
    }
}

/// Relays every connection made to `listener` to `to` on the host, until
/// the handle is aborted.
pub fn relay(listener: TcpListener, to: SocketAddr) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((mut inside, _)) = listener.accept().await else {
                // Out of descriptors, or a connection reset before it was
                // taken: the next one may fare better.
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            };
            tokio::spawn(async move {
                if let Ok(mut host) = TcpStream::connect(to).await {
                    let _ = inside.set_nodelay(true);
                    let _ = host.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut inside, &mut host).await;
                }
            });
        }
    })
}
