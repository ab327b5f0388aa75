//! The network server: authenticates connections and feeds each session's messages to its
//! executor thread, so decoding the next batch overlaps running the current one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use subtle::ConstantTimeEq;
use tch::Device;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use crate::payload::Payload;
use crate::protocol::{
    self, ClientMessage, FrameError, FrameHead, Hello, HostMessage, PROTOCOL_VERSION,
};
use crate::session::{Reply, Session};

/// How long a new connection may take to present its token.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the listener waits after a failed accept before it tries again.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// Replies a connection may owe before the host stops reading its requests. The client
/// waits for each answer before it asks again; one that never reads would otherwise have the
/// host make every reply it asks for and hold them all (a download of an expanded view
/// materialises its dense bytes).
const OWED_REPLIES: usize = 4;

/// Settings of a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub token: String,
    pub device: Device,
    /// How long a session outlives its last connection, waiting for a resume.
    pub resume_grace: Duration,
    /// Stop the whole server after this long without any message from any client.
    pub idle_timeout: Option<Duration>,
}

struct Job {
    message: ClientMessage,
    payload: Payload,
    reply: Option<oneshot::Sender<Reply>>,
}

struct SessionHandle {
    jobs: mpsc::Sender<Job>,
    last_seq: Arc<Mutex<u64>>,
    connections: usize,
    generation: u64,
}

#[derive(Default)]
struct Registry {
    sessions: HashMap<u64, SessionHandle>,
    next_generation: u64,
}

struct Shared {
    config: ServerConfig,
    registry: Mutex<Registry>,
    activity: tokio::sync::watch::Sender<()>,
}

/// Serves clients on `listener` until the idle timeout, if any, passes.
pub async fn serve(listener: TcpListener, config: ServerConfig) -> anyhow::Result<()> {
    let (activity, mut idle) = tokio::sync::watch::channel(());
    let idle_timeout = config.idle_timeout;
    let shared = Arc::new(Shared {
        config,
        registry: Mutex::new(Registry::default()),
        activity,
    });
    loop {
        let accepted = match idle_timeout {
            Some(limit) => tokio::select! {
                accepted = listener.accept() => accepted,
                changed = tokio::time::timeout(limit, idle.changed()) => {
                    if changed.is_err() {
                        tracing::info!("no client activity for {limit:?}; stopping");
                        return Ok(());
                    }
                    continue;
                }
            },
            None => listener.accept().await,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, say, with idle connections still to time out:
                // the sessions being served go on, and accepting resumes once some close.
                tracing::warn!("cannot accept a connection: {e}");
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        shared.activity.send_replace(());
        tokio::spawn(async move {
            if let Err(e) = connection(stream, shared).await {
                tracing::info!("connection from {peer} ended: {e}");
            }
        });
    }
}

async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
) -> Result<(ClientMessage, Payload), FrameError> {
    let mut raw = [0; FrameHead::BYTES];
    r.read_exact(&mut raw).await?;
    let head = FrameHead::parse(raw)?;
    let mut header = vec![0; head.header_len as usize];
    r.read_exact(&mut header).await?;
    let message = protocol::decode(&header)?;
    if head.payload_len == 0 {
        return Ok((message, Payload::default()));
    }
    // Tensor bytes land in a libtorch buffer at once; its pages are only touched as bytes
    // arrive, so a length that lies costs address space, not memory.
    let mut payload = Payload::with_len(head.payload_len)
        .map_err(|e| FrameError::Io(std::io::Error::other(e)))?;
    r.read_exact(payload.as_bytes_mut()).await?;
    Ok((message, payload))
}

async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    (message, payload): Reply,
) -> std::io::Result<()> {
    let header = protocol::encode(&message);
    let head = FrameHead {
        header_len: header.len() as u32,
        payload_len: payload.len() as u64,
    };
    w.write_all(&head.to_bytes()).await?;
    w.write_all(&header).await?;
    w.write_all(payload.as_bytes()).await?;
    w.flush().await
}

/// Reads the `Hello` without decoding anything else, and checks version and token.
async fn authenticate<R: AsyncRead + Unpin>(r: &mut R, token: &str) -> anyhow::Result<Hello> {
    let mut raw = [0; FrameHead::BYTES];
    r.read_exact(&mut raw).await?;
    let head = FrameHead::parse(raw)?;
    anyhow::ensure!(
        head.header_len <= 4096 && head.payload_len == 0,
        "first frame is not a hello"
    );
    let mut header = vec![0; head.header_len as usize];
    r.read_exact(&mut header).await?;
    let hello: Hello = protocol::decode(&header)?;
    let token_ok: bool = hello.token.as_bytes().ct_eq(token.as_bytes()).into();
    anyhow::ensure!(token_ok, "wrong token");
    anyhow::ensure!(
        hello.version == PROTOCOL_VERSION,
        "client speaks protocol {}, host speaks {PROTOCOL_VERSION}",
        hello.version
    );
    Ok(hello)
}

async fn connection(stream: TcpStream, shared: Arc<Shared>) -> anyhow::Result<()> {
    let (read, write) = stream.into_split();
    let mut reader = BufReader::with_capacity(1 << 20, read);
    let mut writer = BufWriter::with_capacity(1 << 20, write);
    let hello = tokio::time::timeout(
        HELLO_TIMEOUT,
        authenticate(&mut reader, &shared.config.token),
    )
    .await??;
    let (jobs, last_seq, generation) = attach(&shared, hello.session)?;
    let welcome = (
        HostMessage::Welcome {
            session: hello.session,
            last_seq,
        },
        Payload::default(),
    );
    write_frame(&mut writer, welcome).await?;

    let (pending_tx, mut pending_rx) = mpsc::channel::<oneshot::Receiver<Reply>>(OWED_REPLIES);
    let replies = tokio::spawn(async move {
        while let Some(pending) = pending_rx.recv().await {
            let Ok(reply) = pending.await else { break };
            if write_frame(&mut writer, reply).await.is_err() {
                break;
            }
        }
    });
    let outcome = pump(&mut reader, &jobs, &pending_tx, &shared).await;
    drop(pending_tx);
    let _ = replies.await;
    detach(&shared, hello.session, generation);
    outcome
}

/// Forwards frames to the session until the client goes away.
async fn pump<R: AsyncRead + Unpin>(
    reader: &mut R,
    jobs: &mpsc::Sender<Job>,
    pending: &mpsc::Sender<oneshot::Receiver<Reply>>,
    shared: &Shared,
) -> anyhow::Result<()> {
    loop {
        let (message, payload) = match read_frame(reader).await {
            Ok(frame) => frame,
            Err(FrameError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Ok(())
            }
            Err(e) => return Err(e.into()),
        };
        shared.activity.send_replace(());
        let waits = matches!(
            message,
            ClientMessage::Download { .. }
                | ClientMessage::Query { .. }
                | ClientMessage::Sync
                | ClientMessage::Stats
        );
        let reply = if waits {
            let (tx, rx) = oneshot::channel();
            let _ = pending.send(rx).await;
            Some(tx)
        } else {
            None
        };
        jobs.send(Job {
            message,
            payload,
            reply,
        })
        .await
        .map_err(|_| anyhow::anyhow!("session executor stopped"))?;
    }
}

/// Joins the session `id`, starting it if new. Returns its job queue, the last batch it ran
/// and the registration's generation.
fn attach(shared: &Arc<Shared>, id: u64) -> anyhow::Result<(mpsc::Sender<Job>, u64, u64)> {
    let mut registry = shared.registry.lock().unwrap();
    registry.next_generation += 1;
    let generation = registry.next_generation;
    if let Some(handle) = registry.sessions.get_mut(&id) {
        handle.connections += 1;
        handle.generation = generation;
        let last_seq = *handle.last_seq.lock().unwrap();
        return Ok((handle.jobs.clone(), last_seq, generation));
    }
    let (jobs, receiver) = mpsc::channel(256);
    let last_seq = Arc::new(Mutex::new(0));
    spawn_executor(shared.config.device, receiver, last_seq.clone())?;
    registry.sessions.insert(
        id,
        SessionHandle {
            jobs: jobs.clone(),
            last_seq,
            connections: 1,
            generation,
        },
    );
    Ok((jobs, 0, generation))
}

/// Leaves the session; after the grace period with no new connection, it ends and its
/// storages are freed.
fn detach(shared: &Arc<Shared>, id: u64, generation: u64) {
    if let Some(handle) = shared.registry.lock().unwrap().sessions.get_mut(&id) {
        handle.connections -= 1;
    }
    let shared = shared.clone();
    tokio::spawn(async move {
        tokio::time::sleep(shared.config.resume_grace).await;
        let mut registry = shared.registry.lock().unwrap();
        let expired = registry
            .sessions
            .get(&id)
            .is_some_and(|h| h.connections == 0 && h.generation == generation);
        if expired {
            registry.sessions.remove(&id);
        }
    });
}

fn spawn_executor(
    device: Device,
    mut jobs: mpsc::Receiver<Job>,
    last_seq: Arc<Mutex<u64>>,
) -> anyhow::Result<()> {
    let mut session = Session::new(device)?;
    std::thread::Builder::new()
        .name("session".into())
        .spawn(move || {
            crate::kernels::enter_session_thread();
            while let Some(job) = jobs.blocking_recv() {
                let reply = session.handle(job.message, job.payload);
                *last_seq.lock().unwrap() = session.last_seq();
                if let (Some(tx), Some(reply)) = (job.reply, reply) {
                    let _ = tx.send(reply);
                }
            }
        })?;
    Ok(())
}
