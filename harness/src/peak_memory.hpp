// Peak resident memory of the sweep process, per cell and over its life.
//
// Linux keeps one high-water mark of resident memory per address space (VmHWM in
// /proc/self/status). Writing "5" to /proc/self/clear_refs resets it to the current
// resident size, so the mark read after a cell is the process's peak while that cell ran
// (including what earlier work left resident, e.g. a loaded base model). The reset lowers
// getrusage's ru_maxrss as well (it reads the same mark), so the lifetime peak is kept
// across resets here.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace e2llm::harness {

// The process's peak resident memory over its whole life so far, in bytes: the largest of
// ru_maxrss, VmHWM and every mark seen before a reset.
std::int64_t lifetime_peak_rss_bytes();

// VmHWM of /proc/self/status in bytes, when it can be read.
std::optional<std::int64_t> vm_hwm_bytes();

// Measures the peak of one unit of work: start() before it, fields() after it.
class PeakRssMeter {
 public:
  // Resets the high-water mark; when /proc/self/clear_refs refuses, the reading that
  // follows is the process's peak so far (an upper bound for the cell) and says so.
  void start();
  // {"peak_rss_bytes_cell": N | null, "peak_rss_cell_reset": bool, "peak_rss_cell_method": "..."}
  nlohmann::json fields() const;

 private:
  bool reset_ = false;
  std::string why_not_;  // why the reset failed
};

}  // namespace e2llm::harness
