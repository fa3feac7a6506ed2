#include "peak_memory.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace e2llm::harness {

namespace {
// The highest mark seen before any reset: clear_refs lowers ru_maxrss too (it reads the
// same mark unless a thread has exited since), so the lifetime peak is kept here.
std::int64_t peak_before_resets = 0;
}  // namespace

std::int64_t lifetime_peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const std::int64_t maxrss = static_cast<std::int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
  return std::max({maxrss, peak_before_resets, vm_hwm_bytes().value_or(0)});
}

std::optional<std::int64_t> vm_hwm_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) != 0) continue;
    std::istringstream fields(line.substr(6));
    std::int64_t kib = -1;
    std::string unit;
    if (fields >> kib >> unit && kib >= 0 && unit == "kB") return kib * 1024;
    return std::nullopt;
  }
  return std::nullopt;
}

void PeakRssMeter::start() {
  peak_before_resets = lifetime_peak_rss_bytes();
  std::ofstream clear("/proc/self/clear_refs");
  if (!clear) {
    reset_ = false;
    why_not_ = std::string("cannot open /proc/self/clear_refs: ") + std::strerror(errno);
    return;
  }
  clear << "5" << std::flush;
  reset_ = bool(clear);
  why_not_ = reset_ ? "" : "/proc/self/clear_refs refused \"5\"";
}

nlohmann::json PeakRssMeter::fields() const {
  auto hwm = vm_hwm_bytes();
  std::string method;
  if (!hwm)
    method = "unavailable: /proc/self/status has no VmHWM";
  else if (reset_)
    method =
        "VmHWM of /proc/self/status, reset by writing 5 to /proc/self/clear_refs before the cell: the sweep "
        "process's peak resident memory while this cell ran (what earlier work left resident included)";
  else
    method = "VmHWM of /proc/self/status, not reset (" + why_not_ +
             "): the sweep process's peak so far, an upper bound for this cell";
  return {{"peak_rss_bytes_cell", hwm ? nlohmann::json(*hwm) : nlohmann::json(nullptr)},
          {"peak_rss_cell_reset", reset_ && hwm.has_value()},
          {"peak_rss_cell_method", method}};
}

}  // namespace e2llm::harness
