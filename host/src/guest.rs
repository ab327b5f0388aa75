//! Runs the `guest-ops` component in wasmtime; the embedder supplies the kernel imports.
//!
//! The client embeds it with kernels that only hand out storage ids (shapes without a
//! round trip, and the dry run); the server embeds it with libtorch kernels.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use wasmtime::component::{Component, HasData, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Bindings generated from `wit/` (do not edit: `wasmtime::component::bindgen!` output).
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "guest",
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
    });
}

pub use bindings::exports::torch_remote::ops::dispatch::{
    CpuConvolutions, Determinism, OpContext, OpOutcome, OpSettings, Warning,
};
pub use bindings::torch_remote::ops::kernels::{
    ActivationOp, AdagradParams, AdamParams, AttentionParams, BinaryOp, ConvParams,
    EmbeddingBagParams, EncoderLayerParams, Factorization, FftKind, FftParams, GatherOp,
    GridSampleParams, Host as KernelsHost, IndexReduceOp, IsinParams, LibraryOp, LinalgOp, LossOp,
    LossOptions, LstmLayerParams, LstsqDriver, MomentOp, NmsQuery, Operand, PadMode, PoolOp,
    PoolParams, RandomOp, ReduceOp, Reduction, RnnLayerParams, RnnMode, RoiAlignParams,
    RoiPoolParams, SampleOp, ScanOp, ScatterOp, SegmentReduceParams, SelectOp, SgdParams,
    SizeQuery, TernaryOp, UnaryOp, UpsampleMode,
};
pub use bindings::torch_remote::ops::types::{
    Arg, ErrorKind, Host as TypesHost, OpError, Output, Scalar, ScalarType, StorageId, TensorMeta,
};

/// PyTorch's settings in a new process: float32 by default, deterministic algorithms off.
pub const DEFAULT_SETTINGS: OpSettings = OpSettings {
    default_float: ScalarType::Float32,
    determinism: Determinism::Off,
    fill_uninitialized_memory: false,
    convolutions: CpuConvolutions {
        mkldnn: true,
        mkldnn_bfloat16: false,
        mkldnn_float16: false,
        single_threaded: false,
    },
};

/// The component, compiled once per process.
const GUEST_WASM: &[u8] = include_bytes!(env!("TORCH_REMOTE_GUEST_WASM"));

/// Failures of the wasm machinery itself (never an op's own error, which is an [`OpError`]).
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    /// The engine could not compile or instantiate the component.
    #[error("cannot load the guest-ops component: {0}")]
    Load(String),
    /// The guest trapped while running an op (a bug in guest-ops).
    #[error("guest-ops trapped while running {op}: {message}")]
    Trap {
        /// The op, `name.overload`.
        op: String,
        /// What wasmtime reported.
        message: String,
    },
}

/// What a kernel backend must provide: the WIT `kernels` imports (and the empty `types` ones).
pub trait Kernels: KernelsHost + TypesHost + Send + 'static {}
impl<T: KernelsHost + TypesHost + Send + 'static> Kernels for T {}

struct State<K> {
    wasi: WasiCtx,
    table: ResourceTable,
    /// Always present but while [`GuestRuntime::recover`] moves them to a new store.
    kernels: Option<K>,
}

impl<K> State<K> {
    fn kernels(&mut self) -> &mut K {
        self.kernels.as_mut().expect("a store holds its kernels")
    }
}

impl<K: Send> WasiView for State<K> {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

struct KernelsOf<K>(std::marker::PhantomData<K>);

impl<K: 'static> HasData for KernelsOf<K> {
    type Data<'a> = &'a mut K;
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new(&Config::new()).expect("default wasmtime config is valid"))
}

fn component() -> Result<&'static Component, GuestError> {
    static COMPONENT: OnceLock<Result<Component, String>> = OnceLock::new();
    COMPONENT
        .get_or_init(|| load_component(cache_dir().as_deref()).map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| GuestError::Load(e.clone()))
}

/// Where compiled guests are kept between processes: `$XDG_CACHE_HOME/torch-remote`, else
/// `~/.cache/torch-remote`.
fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))?;
    Some(base.join("torch-remote"))
}

/// The guest compiled for this engine. Compiling it costs each process (client and host)
/// most of a second, so the result is kept in `dir`, named by a hash of the guest's bytes,
/// and later processes load it instead; a file this engine cannot load is compiled again.
fn load_component(dir: Option<&Path>) -> wasmtime::Result<Component> {
    let Some(dir) = dir else {
        return Component::new(engine(), GUEST_WASM);
    };
    let mut hasher = std::hash::DefaultHasher::new();
    GUEST_WASM.hash(&mut hasher);
    let path = dir.join(format!("guest-{:016x}.cwasm", hasher.finish()));
    // SAFETY: the file is one `Component::serialize` wrote (moved into place whole, below)
    // for these bytes, in the user's own cache; wasmtime refuses one of another version or
    // configuration, and that one is compiled again.
    if let Ok(component) = unsafe { Component::deserialize_file(engine(), &path) } {
        return Ok(component);
    }
    let component = Component::new(engine(), GUEST_WASM)?;
    if let Ok(compiled) = component.serialize() {
        // Best effort: a cache that cannot be written costs the next process the compile.
        let partial = path.with_extension(format!("{}.partial", std::process::id()));
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&partial, compiled))
            .and_then(|()| std::fs::rename(&partial, &path));
        if written.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
    }
    Ok(component)
}

/// `name.overload` as PyTorch writes it: `name` alone for the default overload.
pub fn op_name(name: &str, overload: &str) -> String {
    if overload.is_empty() {
        name.to_string()
    } else {
        format!("{name}.{overload}")
    }
}

/// One instance of the guest with its kernels: runs ops one after another.
pub struct GuestRuntime<K: Kernels> {
    store: Store<State<K>>,
    guest: bindings::Guest,
    ids: OpIds,
}

/// The guest's id of each `name.overload` found so far. Only ops the guest runs are kept,
/// so names a peer makes up cannot grow it.
#[derive(Default)]
struct OpIds(HashMap<String, Overloads>);

/// The ids of one name's overloads. The default overload (`""`) is kept apart, not compared:
/// glibc's AVX-512 `memcmp` of zero bytes at an empty `String`'s dangling address costs about
/// 90 ns here (a masked load's fault assist), a tenth of a small op's whole lowering.
#[derive(Default)]
struct Overloads {
    default: Option<u32>,
    named: Vec<(String, u32)>,
}

impl OpIds {
    fn get(&self, name: &str, overload: &str) -> Option<u32> {
        let overloads = self.0.get(name)?;
        if overload.is_empty() {
            return overloads.default;
        }
        overloads
            .named
            .iter()
            .find(|(o, _)| o == overload)
            .map(|&(_, id)| id)
    }

    fn insert(&mut self, name: &str, overload: &str, id: u32) {
        let overloads = self.0.entry(name.to_string()).or_default();
        if overload.is_empty() {
            overloads.default = Some(id);
        } else {
            overloads.named.push((overload.to_string(), id));
        }
    }
}

fn store_of<K>(kernels: K) -> Store<State<K>> {
    let state = State {
        wasi: WasiCtx::builder().build(),
        table: ResourceTable::new(),
        kernels: Some(kernels),
    };
    Store::new(engine(), state)
}

fn instantiate<K: Kernels>(store: &mut Store<State<K>>) -> Result<bindings::Guest, GuestError> {
    let load = |e: wasmtime::Error| GuestError::Load(format!("{e:#}"));
    let mut linker = Linker::<State<K>>::new(engine());
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(load)?;
    bindings::Guest::add_to_linker::<State<K>, KernelsOf<K>>(&mut linker, State::kernels)
        .map_err(load)?;
    bindings::Guest::instantiate(store, component()?, &linker).map_err(load)
}

impl<K: Kernels> GuestRuntime<K> {
    /// Instantiates the guest over `kernels`.
    pub fn new(kernels: K) -> Result<Self, GuestError> {
        let mut store = store_of(kernels);
        let guest = instantiate(&mut store)?;
        Ok(Self {
            store,
            guest,
            ids: OpIds::default(),
        })
    }

    /// After a trap: wasmtime never enters a trapped instance again, and the guest keeps no
    /// state between ops, so a new instance over the same kernels carries on as the old one
    /// would have. The trapped instance's memory goes with its store.
    fn recover(&mut self) {
        let kernels = self.store.data_mut().kernels.take();
        let mut store = store_of(kernels.expect("a store holds its kernels"));
        match instantiate(&mut store) {
            Ok(guest) => {
                self.store = store;
                self.guest = guest;
                self.ids = OpIds::default();
            }
            Err(_) => self.store.data_mut().kernels = store.into_data().kernels,
        }
    }

    /// Validates and lowers one op; kernel calls go to this runtime's kernels if `context`
    /// launches them.
    pub fn run(
        &mut self,
        name: &str,
        overload: &str,
        args: &[Arg],
        context: OpContext,
    ) -> Result<Result<OpOutcome, OpError>, GuestError> {
        let outcome = self.try_run(name, overload, args, context);
        outcome.map_err(|e| {
            self.recover();
            GuestError::Trap {
                op: op_name(name, overload),
                message: format!("{e:#}"),
            }
        })
    }

    fn try_run(
        &mut self,
        name: &str,
        overload: &str,
        args: &[Arg],
        context: OpContext,
    ) -> wasmtime::Result<Result<OpOutcome, OpError>> {
        let dispatch = self.guest.torch_remote_ops_dispatch();
        let id = match self.ids.get(name, overload) {
            Some(id) => id,
            None => match dispatch.call_find(&mut self.store, name, overload)? {
                Ok(id) => {
                    self.ids.insert(name, overload, id);
                    id
                }
                Err(e) => return Ok(Err(e)),
            },
        };
        dispatch.call_run(&mut self.store, id, args, context)
    }

    /// Every `name.overload` the guest runs.
    pub fn supported(&mut self) -> Result<Vec<String>, GuestError> {
        self.guest
            .torch_remote_ops_dispatch()
            .call_supported(&mut self.store)
            .map_err(|e| GuestError::Trap {
                op: "supported".into(),
                message: format!("{e:#}"),
            })
    }

    /// The kernels, for the embedder to prepare or inspect around a run.
    pub fn kernels(&mut self) -> &mut K {
        self.store.data_mut().kernels()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_guests_are_kept_and_a_file_that_is_not_one_is_replaced() {
        let dir = std::env::temp_dir().join(format!("torch-remote-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        load_component(Some(&dir)).unwrap();
        let kept: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        assert_eq!(kept.len(), 1, "{kept:?}");
        let compiled = std::fs::read(&kept[0]).unwrap();
        load_component(Some(&dir)).unwrap();
        std::fs::write(&kept[0], b"not a compiled guest").unwrap();
        load_component(Some(&dir)).unwrap();
        assert_eq!(std::fs::read(&kept[0]).unwrap(), compiled);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
