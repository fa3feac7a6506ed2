// SIGKILL from outside, at a moment the test chooses: the fault tests (tests/train,
// tests/sweep) poll a condition on the files of a running process and kill it when it holds.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

namespace e2llm::testing {

// Polls `when()` every ~0.5 ms; kills `pid` with SIGKILL once it holds or `timeout` passes.
// Returns true when the process was still running and died of the signal; false when it
// exited first (it is reaped either way).
template <class When>
bool kill_when(pid_t pid, When when, std::chrono::milliseconds timeout = std::chrono::minutes(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline && !when()) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  if (::waitpid(pid, &status, WNOHANG) == pid) return false;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

}  // namespace e2llm::testing
