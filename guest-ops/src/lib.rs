//! `guest-ops`: the single source of PyTorch op semantics for the `remote` device.
//!
//! Built as a `wasm32-wasip2` component, it exports `dispatch.find` and `dispatch.run`: for one aten op it checks
//! the arguments like PyTorch 2.13 on CPU, computes every output's metadata (sizes, strides,
//! storage offset, dtype), allocates storages and lowers the op to the host's `kernels`
//! imports. `dispatch.supported` lists every op `run` serves. `rules` holds the pure metadata rules, `ops` the handlers and their registry.

#[cfg(target_arch = "wasm32")]
mod arena;
mod bindings;
mod error;
mod kernels;
mod ops;
mod rules;
mod types;

use bindings::exports::torch_remote::ops::dispatch::{Guest, OpContext, OpOutcome};
use types::{Arg, OpError};

// Only the component exports it; native builds exist for the tests.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Component;

impl Guest for Component {
    fn find(name: String, overload: String) -> Result<u32, OpError> {
        ops::find(&name, &overload)
    }

    fn run(op: u32, args: Vec<Arg>, context: OpContext) -> Result<OpOutcome, OpError> {
        #[cfg(target_arch = "wasm32")]
        arena::begin_op();
        let mut host = kernels::Host::new(context.launch_kernels);
        let (outputs, warnings) = ops::run(op, &args, context.settings, &mut host)?;
        Ok(OpOutcome {
            outputs,
            launches: host.launched,
            warnings,
        })
    }

    fn supported() -> Vec<String> {
        ops::registry::supported()
    }
}

// The export's symbol names (`ns:pkg/iface#run`) only link as a wasm component.
#[cfg(target_arch = "wasm32")]
bindings::export!(Component with_types_in bindings);
