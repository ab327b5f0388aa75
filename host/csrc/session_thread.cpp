// How a session thread runs libtorch. Called once from the thread (`host/src/server.rs`).
// - Without autograd: the client's autograd sends the backward ops themselves, so the
//   host's tensors need no version counters and its ops no pass through autograd's
//   dispatch keys, which cost about a tenth of a tiny op.
// - With libtorch's warnings going nowhere: the guest hands each op's warnings to the
//   client, which raises them where the op was called; libtorch's own would print on the
//   host's terminal, later and without the caller's context.

#include <ATen/Context.h>
#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>

#include <cstdint>
#include <cstdlib>

namespace {

struct Quiet final : c10::WarningHandler {
  void process(const c10::Warning&) override {}
};

// cuBLAS is deterministic only with a fixed workspace, which it reads when it starts: set
// before main (unless the user set it) so that a client's deterministic algorithms do not
// fail every matmul on a GPU host. It is the default size on Hopper.
const int kCublasWorkspace = setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", 0);

}  // namespace

// Whether the client ran the op under `torch.use_deterministic_algorithms`: a GPU's kernels
// choose deterministic algorithms by it. Only warnings (which go nowhere) where a kernel has
// none: the guest refuses what the CPU refuses, at the call, and a GPU host must not fail
// later where the CPU runs. It is the process's setting, shared by its sessions, so each op
// sets it when it differs.
extern "C" void trh_set_determinism(bool on) {
  auto& context = at::globalContext();
  if (context.deterministicAlgorithms() != on || !context.deterministicAlgorithmsWarnOnly()) {
    context.setDeterministicAlgorithms(on, /*warn_only=*/true);
  }
}

extern "C" void trh_enter_session_thread() {
  // Both last as long as the thread: the mode is a thread-local guard, the handler is
  // installed per thread.
  thread_local c10::InferenceMode no_autograd;
  static Quiet quiet;
  c10::WarningUtils::set_warning_handler(&quiet);
  // The guest fills what a client asks filled; libtorch filling its own new memory too, under
  // deterministic algorithms, would cost every kernel's temporaries a pass, and fill what a
  // client with `fill_uninitialized_memory = False` wants left alone.
  at::globalContext().setDeterministicFillUninitializedMemory(false);
}
