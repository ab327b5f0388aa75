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

// `torch.use_deterministic_algorithms` as the client had it for the op (0 off, 1 on, 2 warn
// only): a GPU's kernels choose their algorithms by it. It is the process's setting, so each
// op sets it when it differs; the guest has already refused what has no deterministic kernel.
extern "C" void trh_set_determinism(int32_t mode) {
  auto& context = at::globalContext();
  const bool on = mode != 0;
  const bool warn_only = mode == 2;
  if (context.deterministicAlgorithms() != on || context.deterministicAlgorithmsWarnOnly() != warn_only) {
    context.setDeterministicAlgorithms(on, warn_only);
  }
}

extern "C" void trh_enter_session_thread() {
  // Both last as long as the thread: the mode is a thread-local guard, the handler is
  // installed per thread.
  thread_local c10::InferenceMode no_autograd;
  static Quiet quiet;
  c10::WarningUtils::set_warning_handler(&quiet);
}
