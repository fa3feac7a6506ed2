// SIGKILL from outside, at a moment the test chooses: the fault tests (tests/train,
// tests/sweep) poll a condition on the files of a running process and kill it when it holds.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

namespace e2llm::testing {

// Polls `when()` every ~0.5 ms and kills `pid` with SIGKILL once it holds. Returns true when
// the condition held and the process, still running, died of the signal; false when it exited
// first (it is reaped either way). When `timeout` passes before the condition held, the process
// is killed too, but that is no kill at the chosen moment: the test fails (ADD_FAILURE) and
// false is returned, so a condition that never holds can never be counted as a hit.
template <class When>
bool kill_when(pid_t pid, When when, std::chrono::milliseconds timeout = std::chrono::minutes(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  bool held = false;
  while (std::chrono::steady_clock::now() < deadline && !(held = when())) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  if (::waitpid(pid, &status, WNOHANG) == pid) return false;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  if (!held) {
    ADD_FAILURE() << "kill_when: the condition did not hold within "
                  << std::chrono::duration_cast<std::chrono::seconds>(timeout).count()
                  << " s while the process ran; it was killed, but not at the moment the test wanted";
    return false;
  }
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

}  // namespace e2llm::testing
