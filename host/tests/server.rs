//! The host end to end over loopback: authentication, uploads, an op batch run by the guest
//! and libtorch, downloads, failures reported at the next wait, freed memory, and a client
//! that does not read its replies.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use tch::Device;
use torch_remote_host::guest::{Arg, Scalar, ScalarType, TensorMeta, DEFAULT_SETTINGS};
use torch_remote_host::protocol::{self, ClientMessage, Hello, HostMessage, Op, PROTOCOL_VERSION};
use torch_remote_host::server::{serve, ServerConfig};

const TOKEN: &str = "integration-token";

fn start_host() -> String {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let config = ServerConfig {
        token: TOKEN.into(),
        device: Device::Cpu,
        resume_grace: Duration::from_secs(1),
        idle_timeout: None,
    };
    std::thread::spawn(move || runtime.block_on(serve(listener, config)));
    address
}

struct Client(TcpStream);

impl Client {
    fn connect(address: &str, token: &str) -> std::io::Result<(Self, HostMessage)> {
        let mut stream = TcpStream::connect(address)?;
        let hello = Hello {
            version: PROTOCOL_VERSION,
            token: token.into(),
            session: 42,
        };
        protocol::write_frame(&mut stream, &hello, &[]).unwrap();
        let mut client = Self(stream);
        let (reply, _) = client.receive()?;
        Ok((client, reply))
    }

    fn send(&mut self, message: &ClientMessage, payload: &[u8]) {
        protocol::write_frame(&mut self.0, message, payload).unwrap();
        self.0.flush().unwrap();
    }

    fn receive(&mut self) -> std::io::Result<(HostMessage, Vec<u8>)> {
        let (message, len) = protocol::read_header::<_, HostMessage>(&mut self.0)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let mut payload = vec![0; len as usize];
        self.0.read_exact(&mut payload)?;
        Ok((message, payload))
    }

    fn request(&mut self, message: &ClientMessage) -> (HostMessage, Vec<u8>) {
        self.send(message, &[]);
        self.receive().unwrap()
    }
}

fn vector(storage: u64, len: i64) -> TensorMeta {
    TensorMeta {
        sizes: vec![len],
        strides: vec![1],
        storage_offset: 0,
        dtype: ScalarType::Float32,
        storage,
    }
}

fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn upload(client: &mut Client, storage: u64, values: &[f32]) {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    client.send(&ClientMessage::Upload { storage }, &bytes);
}

#[test]
fn wrong_token_gets_nothing() {
    let address = start_host();
    let refused = Client::connect(&address, "not-the-token");
    assert!(refused.is_err(), "a wrong token must close the connection");
}

#[test]
fn ops_run_and_failures_wait_for_the_next_read() {
    let address = start_host();
    let (mut client, welcome) = Client::connect(&address, TOKEN).unwrap();
    assert_eq!(
        welcome,
        HostMessage::Welcome {
            session: 42,
            last_seq: 0
        }
    );
    upload(&mut client, 1, &[1.0, 2.0, 3.0]);
    upload(&mut client, 2, &[10.0, 20.0, 30.0]);
    client.send(
        &ClientMessage::Alloc {
            storage: 3,
            nbytes: 12,
        },
        &[],
    );
    let add = Op {
        name: "add".into(),
        overload: "out".into(),
        args: vec![
            Arg::Tensor(vector(1, 3)),
            Arg::Tensor(vector(2, 3)),
            Arg::Scalar(Scalar::Float(2.0)),
            Arg::Tensor(vector(3, 3)),
        ],
        storages: vec![],
        settings: DEFAULT_SETTINGS,
        released: vec![],
    };
    client.send(
        &ClientMessage::Batch {
            seq: 1,
            ops: vec![add.clone()],
        },
        &[],
    );
    let (reply, bytes) = client.request(&ClientMessage::Download {
        tensor: vector(3, 3),
    });
    assert_eq!(reply, HostMessage::Data);
    assert_eq!(floats(&bytes), vec![21.0, 42.0, 63.0]);

    // An op naming a storage the session does not have fails on the host, not the link.
    let bad = Op {
        name: "neg".into(),
        overload: "out".into(),
        args: vec![Arg::Tensor(vector(99, 3)), Arg::Tensor(vector(3, 3))],
        storages: vec![],
        settings: DEFAULT_SETTINGS,
        released: vec![],
    };
    client.send(
        &ClientMessage::Batch {
            seq: 2,
            ops: vec![bad],
        },
        &[],
    );
    match client.request(&ClientMessage::Sync).0 {
        HostMessage::Synced { errors } => {
            assert_eq!(errors.len(), 1);
            assert!(errors[0].contains("neg.out"), "{errors:?}");
        }
        other => panic!("unexpected {other:?}"),
    }
    // A replayed batch (seq already run) is skipped, and the session still answers.
    client.send(
        &ClientMessage::Batch {
            seq: 1,
            ops: vec![add],
        },
        &[],
    );
    match client.request(&ClientMessage::Stats).0 {
        HostMessage::Stats(stats) => {
            assert_eq!((stats.storages, stats.bytes, stats.ops), (3, 36, 2))
        }
        other => panic!("unexpected {other:?}"),
    }
    client.send(
        &ClientMessage::Free {
            storages: vec![1, 2, 3],
        },
        &[],
    );
    match client.request(&ClientMessage::Stats).0 {
        HostMessage::Stats(stats) => assert_eq!((stats.storages, stats.bytes), (0, 0)),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn views_outside_a_storage_are_refused_on_download() {
    let address = start_host();
    let (mut client, _) = Client::connect(&address, TOKEN).unwrap();
    upload(&mut client, 1, &[1.0, 2.0]);
    let (reply, _) = client.request(&ClientMessage::Download {
        tensor: vector(1, 1000),
    });
    assert!(matches!(reply, HostMessage::Failed { .. }), "{reply:?}");
    let (reply, bytes) = client.request(&ClientMessage::Download {
        tensor: vector(1, 2),
    });
    assert_eq!((reply, floats(&bytes)), (HostMessage::Data, vec![1.0, 2.0]));
}

/// Resident bytes of this process, which the hosts of these tests run in.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib << 10
}

#[test]
fn a_client_that_does_not_read_is_owed_few_replies() {
    let address = start_host();
    let (mut client, _) = Client::connect(&address, TOKEN).unwrap();
    upload(&mut client, 1, &[7.0]);
    client.request(&ClientMessage::Sync);
    let before = resident_bytes();
    // One float seen as 32 MiB: the host materialises each download of it.
    let expanded = TensorMeta {
        sizes: vec![8 << 20],
        strides: vec![0],
        ..vector(1, 1)
    };
    let asks = 48;
    for _ in 0..asks {
        let message = ClientMessage::Download {
            tensor: expanded.clone(),
        };
        client.send(&message, &[]);
    }
    std::thread::sleep(Duration::from_secs(2));
    let grown = resident_bytes().saturating_sub(before);
    assert!(grown < 512 << 20, "unread replies hold {} MiB", grown >> 20);
    for _ in 0..asks {
        let (reply, bytes) = client.receive().unwrap();
        assert_eq!(reply, HostMessage::Data);
        assert_eq!(bytes.len(), 32 << 20);
        assert!(floats(&bytes).iter().all(|&v| v == 7.0));
    }
}
