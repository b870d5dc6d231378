#include "core/interrupt.h"

#include <signal.h>
#include <string.h>  // sigabbrev_np

namespace lockstep {
namespace {

std::atomic<bool> g_interrupted{false};
std::atomic<int> g_signal{0};

void OnSignal(int sig) {
  int none = 0;
  g_signal.compare_exchange_strong(none, sig);
  g_interrupted.store(true);
}

static_assert(SIGINT == 2 && SIGTERM == 15 && SIGHUP == 1,
              "the signal numbers InterruptScope lists");

}  // namespace

struct InterruptScope::Saved {
  struct sigaction old[3];
};

InterruptScope::InterruptScope() : saved_(new Saved) {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &sa, &saved_->old[i]);
}

InterruptScope::~InterruptScope() {
  for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &saved_->old[i], nullptr);
  delete saved_;
}

const std::atomic<bool>& InterruptScope::Flag() {
  return g_interrupted;
}
int InterruptScope::Signal() {
  return g_signal.load();
}

std::string InterruptScope::SignalName() {
  const int sig = Signal();
  return sig > 0 ? std::string("SIG") + sigabbrev_np(sig) : std::string("a signal");
}
void InterruptScope::Reset() {
  g_interrupted.store(false);
  g_signal.store(0);
}

}  // namespace lockstep
