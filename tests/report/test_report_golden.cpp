// The report of a fixed run folder must not change by accident: `e2llm report` on
// tests/report/golden/run (cells of the three real tasks, made by make_fixture.sh) prints
// exactly the committed leaderboard.md, leaderboard.html and summary.json. Only the
// generation timestamp is normalized.
#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>
#include <sstream>

#include "../support/run_command.hpp"

namespace fs = std::filesystem;
using e2llm::testing::run_command;
using e2llm::testing::slurp;

namespace {

const fs::path kGolden = fs::path(E2LLM_SOURCE_DIR) / "tests" / "report" / "golden";

std::string normalized(const std::string& text) {
  static const std::regex timestamp("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z");
  return std::regex_replace(text, timestamp, "2000-01-01T00:00:00Z");
}

// The first line where the two texts differ, for a readable failure.
std::string first_difference(const std::string& expected, const std::string& actual) {
  std::istringstream a(expected), b(actual);
  std::string la, lb;
  for (int line = 1;; ++line) {
    bool more_a = bool(std::getline(a, la)), more_b = bool(std::getline(b, lb));
    if (!more_a && !more_b) return "identical";
    if (la != lb || more_a != more_b)
      return "line " + std::to_string(line) + ":\n  golden: " + (more_a ? la : "<end>") +
             "\n  now:    " + (more_b ? lb : "<end>");
  }
}

}  // namespace

TEST(ReportGolden, TheThreeRealTasksReportAsCommitted) {
  fs::path run = fs::temp_directory_path() / ("e2llm_report_golden_" + std::to_string(getpid()));
  fs::remove_all(run);
  fs::copy(kGolden / "run", run, fs::copy_options::recursive);
  auto result = run_command(std::string(E2LLM_EXE) + " report '" + run.string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* name : {"leaderboard.md", "leaderboard.html", "summary.json"}) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(fs::exists(run / name));
    const std::string expected = slurp(kGolden / name), actual = normalized(slurp(run / name));
    EXPECT_TRUE(expected == actual) << first_difference(expected, actual)
                                    << "\n(regenerate only for an intended change: see make_fixture.sh)";
  }
  fs::remove_all(run);
}
