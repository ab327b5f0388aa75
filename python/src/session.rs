//! Where the client's ops go: a configured host, an embedded local host started on first
//! use, or nowhere (the dry run).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};

use crate::core::{core, Core, CoreError, Result};
use crate::link::Link;

/// What `torch_remote` was told at import or by `connect`.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub url: Option<String>,
    pub token: Option<String>,
    pub dry_run: bool,
    /// The `torch-remote-host` program for the embedded default.
    pub host_program: Option<String>,
}

static CONFIG: Mutex<Config> = Mutex::new(Config {
    url: None,
    token: None,
    dry_run: false,
    host_program: None,
});
static EMBEDDED: Mutex<Option<Child>> = Mutex::new(None);

fn config() -> MutexGuard<'static, Config> {
    CONFIG.lock().unwrap_or_else(|p| p.into_inner())
}

/// Replaces the configuration; the next op attaches accordingly. A URL whose scheme is
/// neither `tcp://` nor `tls://` is refused here, before any op.
pub fn configure(new: Config) -> Result<()> {
    if let Some(url) = &new.url {
        crate::link::parse_url(url)?;
    }
    *config() = new;
    core()?
        .as_mut()
        .expect("core() initialises the core")
        .set_link(None);
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
    1
}

/// The core, attached to its host (or to the dry run) as configured.
pub fn attached_core() -> Result<MutexGuard<'static, Option<Core>>> {
    let mut guard = core()?;
    let core = guard.as_mut().expect("core() initialises the core");
    let config = config().clone();
    core.set_dry_run(config.dry_run);
    if !config.dry_run && !core.has_link() {
        core.set_link(Some(connect(&config)?));
    }
    Ok(guard)
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

fn connect(config: &Config) -> Result<Link> {
    let (url, token) = match (&config.url, &config.token) {
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
    *EMBEDDED.lock().unwrap_or_else(|p| p.into_inner()) = Some(child);
    Ok((format!("tcp://{address}"), token))
}

/// Stops the embedded host, if this process started one.
pub fn shutdown() {
    if let Some(mut child) = EMBEDDED.lock().unwrap_or_else(|p| p.into_inner()).take() {
        drop(child.stdin.take());
        let _ = child.kill();
        let _ = child.wait();
    }
}
