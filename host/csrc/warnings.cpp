// libtorch's warnings on the host's session threads go nowhere: the guest hands each op's
// warnings to the client, which raises them where the op was called; libtorch's own would
// print on the host's terminal, later and without the caller's context. Called from
// `host/src/kernels.rs`.

#include <c10/util/Exception.h>

namespace {

struct Quiet final : c10::WarningHandler {
  void process(const c10::Warning&) override {}
};

}  // namespace

// The handler is per thread: each session thread installs it for itself.
extern "C" void trh_quiet_warnings() {
  static Quiet quiet;
  c10::WarningUtils::set_warning_handler(&quiet);
}
