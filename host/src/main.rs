//! `torch-remote-host`: serves remote tensors to torch-remote clients.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tch::Device;
use torch_remote_host::memory;
use torch_remote_host::server::{serve, ServerConfig};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Runs aten ops for torch-remote clients on this machine's GPU or CPU"
)]
struct Cli {
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:7077")]
    listen: String,
    /// The token clients must present.
    #[arg(long, env = "TORCH_REMOTE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// A file holding the token (its first line).
    #[arg(long, conflicts_with = "token")]
    token_file: Option<PathBuf>,
    /// What to compute on: auto (CUDA when present), cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Stop after this many seconds without any client message.
    #[arg(long)]
    idle_timeout: Option<u64>,
    /// Exit when stdin closes: an embedding client holds it open for as long as it lives.
    #[arg(long)]
    exit_on_stdin_close: bool,
    /// Seconds a session waits for its client to reconnect.
    #[arg(long, default_value_t = 30)]
    resume_grace: u64,
    /// Bytes of freed CPU tensor memory kept for reuse (0: none); an eighth of RAM if unset.
    #[arg(long, env = "TORCH_REMOTE_CPU_CACHE_BYTES")]
    cpu_cache_bytes: Option<u64>,
}

fn parse_device(spec: &str) -> anyhow::Result<Device> {
    match spec {
        "auto" => Ok(Device::cuda_if_available()),
        "cpu" => Ok(Device::Cpu),
        "cuda" => Ok(Device::Cuda(0)),
        other => {
            let index = other
                .strip_prefix("cuda:")
                .and_then(|i| i.parse().ok())
                .with_context(|| {
                    format!("unknown device {other:?}: use auto, cpu, cuda or cuda:N")
                })?;
            anyhow::ensure!(
                index < tch::Cuda::device_count() as usize,
                "device cuda:{index} does not exist ({} CUDA devices)",
                tch::Cuda::device_count()
            );
            Ok(Device::Cuda(index))
        }
    }
}

fn token(cli: &Cli) -> anyhow::Result<String> {
    let token = match (&cli.token, &cli.token_file) {
        (Some(token), _) => token.clone(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the token file {}", path.display()))?
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
        (None, None) => anyhow::bail!("no token: set TORCH_REMOTE_TOKEN or pass --token-file"),
    };
    anyhow::ensure!(!token.is_empty(), "the token is empty");
    Ok(token)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TORCH_REMOTE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    memory::cache_cpu_blocks(
        cli.cpu_cache_bytes
            .unwrap_or_else(memory::default_cpu_cache_budget),
    );
    if cli.exit_on_stdin_close {
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            std::process::exit(0);
        });
    }
    let config = ServerConfig {
        token: token(&cli)?,
        device: parse_device(&cli.device)?,
        resume_grace: Duration::from_secs(cli.resume_grace),
        idle_timeout: cli.idle_timeout.map(Duration::from_secs),
    };
    let listener = tokio::net::TcpListener::bind(&cli.listen)
        .await
        .with_context(|| format!("listening on {}", cli.listen))?;
    // The embedding client reads this line to learn the port.
    println!(
        "torch-remote-host listening on {} device {:?}",
        listener.local_addr()?,
        config.device
    );
    serve(listener, config).await
}
