// How a session thread runs libtorch. Called once from the thread (`host/src/server.rs`).
// - Without autograd: the client's autograd sends the backward ops themselves, so the
//   host's tensors need no version counters and its ops no pass through autograd's
//   dispatch keys, which cost about a tenth of a tiny op.
// - With libtorch's warnings going nowhere: the guest hands each op's warnings to the
//   client, which raises them where the op was called; libtorch's own would print on the
//   host's terminal, later and without the caller's context.

#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>

namespace {

struct Quiet final : c10::WarningHandler {
  void process(const c10::Warning&) override {}
};

}  // namespace

extern "C" void trh_enter_session_thread() {
  // Both last as long as the thread: the mode is a thread-local guard, the handler is
  // installed per thread.
  thread_local c10::InferenceMode no_autograd;
  static Quiet quiet;
  c10::WarningUtils::set_warning_handler(&quiet);
}
