//! The client's connection to a host: frames out through a large buffer, replies read
//! only when the client must wait.

use std::io::{BufReader, BufWriter, Read, Write};
use std::net::TcpStream;

use torch_remote_host::protocol::{
    self, ClientMessage, FrameError, Hello, HostMessage, PROTOCOL_VERSION,
};

/// Bytes buffered before they go to the socket; ops stream without waiting for the host.
const SEND_BUFFER: usize = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("cannot reach the remote host at {url}: {source}")]
    Connect { url: String, source: std::io::Error },
    #[error("the remote host refused the connection (wrong token or protocol version) at {0}")]
    Refused(String),
    #[error("lost the connection to the remote host: {0}")]
    Frame(#[from] FrameError),
    #[error("the remote host answered {0:?} where it should not")]
    Unexpected(Box<HostMessage>),
}

pub struct Link {
    writer: BufWriter<TcpStream>,
    reader: BufReader<TcpStream>,
}

/// `tcp://host:port` or `host:port` to `host:port`.
fn address(url: &str) -> &str {
    url.strip_prefix("tcp://")
        .unwrap_or(url)
        .trim_end_matches('/')
}

impl Link {
    /// Connects and presents the token; the host answers only if it is right.
    pub fn connect(url: &str, token: &str, session: u64) -> Result<Self, LinkError> {
        let connect_error = |source| LinkError::Connect {
            url: url.to_string(),
            source,
        };
        let stream = TcpStream::connect(address(url)).map_err(connect_error)?;
        stream.set_nodelay(true).map_err(connect_error)?;
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
            Ok((HostMessage::Welcome { .. }, _)) => Ok(link),
            Ok((other, _)) => Err(LinkError::Unexpected(Box::new(other))),
            Err(_) => Err(LinkError::Refused(url.to_string())),
        }
    }

    /// Queues a message; it leaves when the buffer fills or the client waits.
    pub fn send(&mut self, message: &ClientMessage, payload: &[u8]) -> Result<(), LinkError> {
        Ok(protocol::write_frame(&mut self.writer, message, payload)?)
    }

    /// Sends everything queued and waits for the answer to the last request.
    pub fn request(
        &mut self,
        message: &ClientMessage,
    ) -> Result<(HostMessage, Vec<u8>), LinkError> {
        self.send(message, &[])?;
        self.writer.flush().map_err(FrameError::from)?;
        self.receive()
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
