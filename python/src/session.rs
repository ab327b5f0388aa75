//! Where the client's ops go: for each remote device a configured host or an embedded
//! local host started on first use; or nowhere (the dry run).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::core::{core, Core, CoreError, Result};
use crate::kernels::MAX_DEVICES;
use crate::link::Link;

/// The host of one remote device: a URL and token, or (without a URL) an embedded one.
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    pub url: Option<String>,
    pub token: Option<String>,
}

/// What `torch_remote` was told at import or by `connect`.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `remote:0`, `remote:1`, ...; none means one embedded host.
    pub endpoints: Vec<Endpoint>,
    pub dry_run: bool,
    /// The `torch-remote-host` program for the embedded default.
    pub host_program: Option<String>,
}

impl Config {
    fn endpoints(&self) -> Vec<Endpoint> {
        if self.endpoints.is_empty() {
            vec![Endpoint::default()]
        } else {
            self.endpoints.clone()
        }
    }
}

static CONFIG: Mutex<Config> = Mutex::new(Config {
    endpoints: Vec::new(),
    dry_run: false,
    host_program: None,
});
static EMBEDDED: Mutex<Vec<Child>> = Mutex::new(Vec::new());
static ATTACHED: AtomicBool = AtomicBool::new(false);

fn config() -> MutexGuard<'static, Config> {
    CONFIG.lock().unwrap_or_else(|p| p.into_inner())
}

/// Replaces the configuration; the next op attaches accordingly. A URL whose scheme is
/// neither `tcp://` nor `tls://` is refused here, before any op.
pub fn configure(new: Config) -> Result<()> {
    if new.endpoints.len() > MAX_DEVICES {
        return Err(CoreError::Op(format!(
            "{} remote devices were asked for; at most {MAX_DEVICES} are supported",
            new.endpoints.len()
        )));
    }
    for url in new.endpoints.iter().filter_map(|e| e.url.as_ref()) {
        crate::link::parse_url(url)?;
    }
    let devices = new.endpoints().len();
    *config() = new;
    core()?
        .as_mut()
        .expect("core() initialises the core")
        .detach(devices);
    // Their links are gone; nothing reaches them any more.
    shutdown();
    Ok(())
}

/// Switches the dry run on or off, keeping the link for when it ends.
pub fn set_dry_run(on: bool) {
    config().dry_run = on;
}

pub fn is_dry_run() -> bool {
    config().dry_run
}

pub fn device_count() -> i32 {
    config().endpoints().len() as i32
}

/// The core, attached to its hosts (or to the dry run) as configured.
pub fn attached_core() -> Result<MutexGuard<'static, Option<Core>>> {
    let mut guard = core()?;
    let core = guard.as_mut().expect("core() initialises the core");
    let config = config().clone();
    core.set_dry_run(config.dry_run);
    if !config.dry_run && !core.is_attached() {
        let links = config
            .endpoints()
            .iter()
            .map(|endpoint| connect(endpoint, &config))
            .collect::<Result<Vec<_>>>()?;
        core.attach(links);
        ATTACHED.store(true, Ordering::Relaxed);
    }
    Ok(guard)
}

/// Whether this process ever attached to a host.
pub fn was_attached() -> bool {
    ATTACHED.load(Ordering::Relaxed)
}

fn session_id() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS provides randomness");
    u64::from_le_bytes(bytes)
}

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the OS provides randomness");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn connect(endpoint: &Endpoint, config: &Config) -> Result<Link> {
    let (url, token) = match (&endpoint.url, &endpoint.token) {
        (Some(url), Some(token)) => (url.clone(), token.clone()),
        (Some(url), None) => {
            return Err(CoreError::Op(format!(
                "TORCH_REMOTE_URL is {url} but TORCH_REMOTE_TOKEN is not set"
            )))
        }
        (None, _) => start_embedded(config)?,
    };
    Ok(Link::connect(&url, &token, session_id())?)
}

/// Starts a local `torch-remote-host` on a free port with a fresh token. It exits when this
/// process closes its stdin, at exit or on a crash.
fn start_embedded(config: &Config) -> Result<(String, String)> {
    let program = config
        .host_program
        .clone()
        .unwrap_or_else(|| "torch-remote-host".into());
    let token = random_token();
    let fail =
        |what: String| CoreError::Op(format!("cannot start the local host {program}: {what}"));
    let mut child = Command::new(&program)
        .args(["--listen", "127.0.0.1:0", "--exit-on-stdin-close"])
        .env("TORCH_REMOTE_TOKEN", &token)
        // Failures reach the user as exceptions at the next wait; the log would repeat them.
        .env(
            "TORCH_REMOTE_LOG",
            std::env::var("TORCH_REMOTE_LOG").unwrap_or_else(|_| "error".into()),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| fail(e.to_string()))?;
    let address = line
        .split_whitespace()
        .nth(3)
        .ok_or_else(|| fail(format!("it printed {line:?} instead of its address")))?
        .to_string();
    EMBEDDED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(child);
    Ok((format!("tcp://{address}"), token))
}

/// Stops the embedded hosts this process started.
pub fn shutdown() {
    if crate::core::is_forked() {
        return;
    }
    let children = std::mem::take(&mut *EMBEDDED.lock().unwrap_or_else(|p| p.into_inner()));
    for mut child in children {
        drop(child.stdin.take());
        let _ = child.kill();
        let _ = child.wait();
    }
}
