// Per-cell peak memory: the high-water mark is reset before a cell, so a cell that follows
// a large allocation (freed) reports its own peak, while the lifetime peak keeps the large one.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>

#include "../../harness/src/peak_memory.hpp"

using e2llm::harness::lifetime_peak_rss_bytes;
using e2llm::harness::PeakRssMeter;
using e2llm::harness::vm_hwm_bytes;

namespace {
constexpr std::size_t kBig = 256u << 20;

// Maps, touches and unmaps kBig bytes: resident for a moment, then returned to the system.
void touch_and_release() {
  void* p = mmap(nullptr, kBig, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  std::memset(p, 1, kBig);
  munmap(p, kBig);
}
}  // namespace

TEST(PeakMemory, ACellsPeakIsItsOwnAndTheLifetimePeakIsKept) {
  ASSERT_TRUE(vm_hwm_bytes().has_value()) << "no VmHWM in /proc/self/status";
  touch_and_release();
  const std::int64_t lifetime_before = lifetime_peak_rss_bytes();
  EXPECT_GE(lifetime_before, std::int64_t(kBig));

  PeakRssMeter cell;
  cell.start();
  auto fields = cell.fields();
  ASSERT_TRUE(fields["peak_rss_bytes_cell"].is_number_integer());
  const std::int64_t small_cell = fields["peak_rss_bytes_cell"];
  if (!fields["peak_rss_cell_reset"].get<bool>()) {
    // No clear_refs here: the reading is the process's peak so far, and says so.
    EXPECT_NE(fields["peak_rss_cell_method"].get<std::string>().find("not reset"), std::string::npos);
    EXPECT_GE(small_cell, std::int64_t(kBig));
    GTEST_SKIP() << fields["peak_rss_cell_method"].get<std::string>();
  }
  EXPECT_LT(small_cell, lifetime_before - std::int64_t(kBig / 2)) << "the earlier allocation leaked into the cell";
  EXPECT_GE(lifetime_peak_rss_bytes(), lifetime_before) << "the reset lost the lifetime peak";

  PeakRssMeter big_cell;
  big_cell.start();
  touch_and_release();
  EXPECT_GE(big_cell.fields()["peak_rss_bytes_cell"].get<std::int64_t>(), std::int64_t(kBig));
}
