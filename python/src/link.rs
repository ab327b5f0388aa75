//! The client's connection to a host: frames out through a large buffer, replies read
//! only when the client must wait. `tcp://host:port` is plain TCP; `tls://host:port` is TLS
//! (rustls, webpki roots), as Modal's tunnel serves it.

use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use torch_remote_host::protocol::{
    self, ClientMessage, FrameError, Hello, HostMessage, PROTOCOL_VERSION,
};

/// Bytes buffered before they go to the socket; ops stream without waiting for the host.
const SEND_BUFFER: usize = 4 << 20;

/// Seconds that connecting, the TLS handshake and the hello may take, unless
/// `TORCH_REMOTE_CONNECT_TIMEOUT` says otherwise.
const CONNECT_TIMEOUT_S: f64 = 30.0;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(
        "bad host URL {0:?}: use tcp://host:port (plain TCP) or tls://host:port (TLS, as \
         Modal's tunnel serves)"
    )]
    Url(String),
    #[error("cannot reach the remote host at {url}: {source}")]
    Connect { url: String, source: std::io::Error },
    #[error(
        "the TLS handshake with {url} failed: {reason} (if that host is plain TCP, use \
         tcp:// instead of tls://)"
    )]
    Tls { url: String, reason: String },
    #[error("the remote host refused the connection (wrong token or protocol version) at {0}")]
    Refused(String),
    #[error("lost the connection to the remote host: {0}")]
    Frame(#[from] FrameError),
    #[error("the remote host answered {0:?} where it should not")]
    Unexpected(Box<HostMessage>),
}

/// Where a host URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

/// `tcp://host:port`, `tls://host:port` or `host:port` (plain TCP); IPv6 hosts in brackets.
pub fn parse_url(url: &str) -> Result<Target, LinkError> {
    let bad = || LinkError::Url(url.to_string());
    let (tls, rest) = match url.split_once("://") {
        Some(("tcp", rest)) => (false, rest),
        Some(("tls", rest)) => (true, rest),
        Some(_) => return Err(bad()),
        None => (false, url),
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    let host = match host.strip_prefix('[') {
        Some(inner) => inner.strip_suffix(']').ok_or_else(bad)?,
        None if host.contains(':') => return Err(bad()),
        None => host,
    };
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || host.contains(['/', '@', ' ']) || port == 0 {
        return Err(bad());
    }
    Ok(Target {
        tls,
        host: host.to_string(),
        port,
    })
}

fn connect_timeout() -> Duration {
    std::env::var("TORCH_REMOTE_CONNECT_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs_f64(CONNECT_TIMEOUT_S))
}

/// The socket, plain or wrapped in TLS; the reader and the writer share it.
enum Stream {
    Plain(TcpStream),
    Tls(Arc<Mutex<StreamOwned<ClientConnection, TcpStream>>>),
}

impl Stream {
    fn try_clone(&self) -> std::io::Result<Self> {
        Ok(match self {
            Stream::Plain(s) => Stream::Plain(s.try_clone()?),
            Stream::Tls(s) => Stream::Tls(s.clone()),
        })
    }

    /// The TCP socket underneath (a second handle to it).
    fn tcp(&self) -> std::io::Result<TcpStream> {
        match self {
            Stream::Plain(s) => s.try_clone(),
            Stream::Tls(s) => s.lock().unwrap_or_else(|p| p.into_inner()).sock.try_clone(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.lock().unwrap_or_else(|p| p.into_inner()).read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.lock().unwrap_or_else(|p| p.into_inner()).write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.lock().unwrap_or_else(|p| p.into_inner()).flush(),
        }
    }
}

/// The roots a `tls://` host's certificate must chain to: the webpki (Mozilla) roots, and
/// the PEM certificates in `TORCH_REMOTE_TLS_CA`, if set (a private terminator's CA).
fn tls_config(url: &str) -> Result<Arc<ClientConfig>, LinkError> {
    let tls_error = |reason: String| LinkError::Tls {
        url: url.to_string(),
        reason,
    };
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = std::env::var_os("TORCH_REMOTE_TLS_CA").filter(|p| !p.is_empty()) {
        let shown = std::path::Path::new(&path).display().to_string();
        let certs = CertificateDer::pem_file_iter(&path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| tls_error(format!("cannot read TORCH_REMOTE_TLS_CA={shown}: {e}")))?;
        if certs.is_empty() {
            return Err(tls_error(format!(
                "TORCH_REMOTE_TLS_CA={shown} holds no PEM certificate"
            )));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| tls_error(format!("TORCH_REMOTE_TLS_CA={shown}: {e}")))?;
        }
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Opens the TCP connection, bounded by `timeout` per address.
fn open(url: &str, target: &Target, timeout: Duration) -> Result<TcpStream, LinkError> {
    let connect_error = |source| LinkError::Connect {
        url: url.to_string(),
        source,
    };
    let addresses: Vec<SocketAddr> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(connect_error)?
        .collect();
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address found");
    for address in addresses {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(connect_error(last))
}

/// Runs the TLS handshake to its end, so that a peer that is not TLS fails here, clearly.
fn handshake(url: &str, target: &Target, tcp: TcpStream) -> Result<Stream, LinkError> {
    let tls_error = |reason: String| LinkError::Tls {
        url: url.to_string(),
        reason,
    };
    let name = ServerName::try_from(target.host.clone())
        .map_err(|e| tls_error(format!("{:?} is not a valid server name: {e}", target.host)))?;
    let mut connection =
        ClientConnection::new(tls_config(url)?, name).map_err(|e| tls_error(e.to_string()))?;
    let mut tcp = tcp;
    while connection.is_handshaking() {
        connection.complete_io(&mut tcp).map_err(|e| {
            tls_error(match e.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                    "no answer within the connect timeout (TORCH_REMOTE_CONNECT_TIMEOUT)".into()
                }
                std::io::ErrorKind::UnexpectedEof => {
                    "the host closed the connection during the handshake".into()
                }
                _ => e.to_string(),
            })
        })?;
    }
    Ok(Stream::Tls(Arc::new(Mutex::new(StreamOwned::new(
        connection, tcp,
    )))))
}

pub struct Link {
    writer: BufWriter<Stream>,
    reader: BufReader<Stream>,
}

impl Link {
    /// Connects (through TLS for `tls://`) and presents the token; the host answers only if
    /// it is right. Connecting, the handshake and the hello are bounded by the connect
    /// timeout.
    pub fn connect(url: &str, token: &str, session: u64) -> Result<Self, LinkError> {
        let connect_error = |source| LinkError::Connect {
            url: url.to_string(),
            source,
        };
        let target = parse_url(url)?;
        let timeout = connect_timeout();
        let tcp = open(url, &target, timeout)?;
        tcp.set_nodelay(true).map_err(connect_error)?;
        tcp.set_read_timeout(Some(timeout)).map_err(connect_error)?;
        tcp.set_write_timeout(Some(timeout))
            .map_err(connect_error)?;
        let stream = if target.tls {
            handshake(url, &target, tcp)?
        } else {
            Stream::Plain(tcp)
        };
        let mut link = Self {
            writer: BufWriter::with_capacity(
                SEND_BUFFER,
                stream.try_clone().map_err(connect_error)?,
            ),
            reader: BufReader::with_capacity(1 << 20, stream),
        };
        let hello = Hello {
            version: PROTOCOL_VERSION,
            token: token.to_string(),
            session,
        };
        protocol::write_frame(&mut link.writer, &hello, &[])?;
        link.writer.flush().map_err(FrameError::from)?;
        match link.receive() {
            Ok((HostMessage::Welcome { .. }, _)) => {}
            Ok((other, _)) => return Err(LinkError::Unexpected(Box::new(other))),
            Err(_) => return Err(LinkError::Refused(url.to_string())),
        }
        // Past the hello, waits are as long as the host's work takes.
        let tcp = link.reader.get_ref().tcp().map_err(connect_error)?;
        tcp.set_read_timeout(None).map_err(connect_error)?;
        tcp.set_write_timeout(None).map_err(connect_error)?;
        Ok(link)
    }

    /// Queues a message; it leaves when the buffer fills or the client waits.
    pub fn send(&mut self, message: &ClientMessage, payload: &[u8]) -> Result<(), LinkError> {
        Ok(protocol::write_frame(&mut self.writer, message, payload)?)
    }

    /// Sends everything queued without waiting for an answer, so the host works meanwhile.
    pub fn flush(&mut self) -> Result<(), LinkError> {
        Ok(self.writer.flush().map_err(FrameError::from)?)
    }

    /// Sends everything queued and waits for the answer to the last request.
    pub fn request(
        &mut self,
        message: &ClientMessage,
    ) -> Result<(HostMessage, Vec<u8>), LinkError> {
        self.send_now(message)?;
        self.receive()
    }

    /// Sends `message` and everything queued before it.
    fn send_now(&mut self, message: &ClientMessage) -> Result<(), LinkError> {
        self.send(message, &[])?;
        self.flush()
    }

    /// Like [`request`](Self::request), with a payload of `out.len()` bytes read straight
    /// into `out`; a reply without one (a failure) leaves `out` alone.
    pub fn request_into(
        &mut self,
        message: &ClientMessage,
        out: &mut [u8],
    ) -> Result<HostMessage, LinkError> {
        self.send_now(message)?;
        let (reply, payload_len) = protocol::read_header::<_, HostMessage>(&mut self.reader)?;
        if payload_len == out.len() as u64 {
            self.reader.read_exact(out).map_err(FrameError::from)?;
            return Ok(reply);
        }
        let mut discarded = (&mut self.reader).take(payload_len);
        std::io::copy(&mut discarded, &mut std::io::sink()).map_err(FrameError::from)?;
        Ok(match reply {
            HostMessage::Data => HostMessage::Failed {
                errors: vec![format!(
                    "the host sent {payload_len} bytes where {} were expected",
                    out.len()
                )],
            },
            other => other,
        })
    }

    fn receive(&mut self) -> Result<(HostMessage, Vec<u8>), LinkError> {
        let (message, payload_len) = protocol::read_header::<_, HostMessage>(&mut self.reader)?;
        let mut payload = vec![0; payload_len as usize];
        self.reader
            .read_exact(&mut payload)
            .map_err(FrameError::from)?;
        Ok((message, payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(tls: bool, host: &str, port: u16) -> Target {
        Target {
            tls,
            host: host.into(),
            port,
        }
    }

    #[test]
    fn urls_parse() {
        assert_eq!(
            parse_url("tcp://127.0.0.1:7077").unwrap(),
            target(false, "127.0.0.1", 7077)
        );
        assert_eq!(
            parse_url("h.example:1/").unwrap(),
            target(false, "h.example", 1)
        );
        assert_eq!(
            parse_url("tls://r7.modal.host:443").unwrap(),
            target(true, "r7.modal.host", 443)
        );
        assert_eq!(parse_url("tls://[::1]:9").unwrap(), target(true, "::1", 9));
        for bad in [
            "http://h:1",
            "tls://h",
            "tls://:1",
            "tcp://h:0",
            "tcp://h:x",
            "tcp://h:70000",
            "::1:9",
            "tls://[::1:9",
            "tcp://u@h:1",
            "tcp://h:1/path",
        ] {
            assert!(
                matches!(parse_url(bad), Err(LinkError::Url(_))),
                "{bad} should not parse"
            );
        }
    }
}
