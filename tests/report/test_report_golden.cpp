// The report of a fixed run folder must not change by accident: `e2llm report` on
// tests/report/golden/run (cells of the three real tasks, made by make_fixture.sh) prints
// exactly the committed leaderboard.md, leaderboard.html and summary.json. Only the
// generation timestamp is normalized.
#include <gtest/gtest.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "../support/run_command.hpp"
#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;
using e2llm::testing::run_command;
using e2llm::testing::slurp;
using nlohmann::json;

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

fs::path copy_of_fixture(const std::string& name) {
  fs::path run = fs::temp_directory_path() / ("e2llm_report_golden_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(run);
  fs::copy(kGolden / "run", run, fs::copy_options::recursive);
  return run;
}

void expect_golden_report(const fs::path& run) {
  auto result = run_command(std::string(E2LLM_EXE) + " report '" + run.string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* name : {"leaderboard.md", "leaderboard.html", "summary.json", "plot-proofpile.svg"}) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(fs::exists(run / name));
    const std::string expected = slurp(kGolden / name), actual = normalized(slurp(run / name));
    EXPECT_TRUE(expected == actual) << first_difference(expected, actual)
                                    << "\n(regenerate only for an intended change: see make_fixture.sh)";
  }
}

// Rewrites every cell file of a run.
void edit_cells(const fs::path& run, const std::function<void(json&)>& edit) {
  for (const auto& entry : fs::directory_iterator(run / "cells")) {
    if (entry.path().extension() != ".json") continue;
    json cell = json::parse(slurp(entry.path()));
    edit(cell);
    e2llm::util::write_file_atomic(entry.path(), cell.dump(2));
  }
}

}  // namespace

// The run's cells record their views, intervals and provenance (cell schema 3).
TEST(ReportGolden, TheThreeRealTasksReportAsCommitted) {
  fs::path run = copy_of_fixture("plugins");
  expect_golden_report(run);
  fs::remove_all(run);
}

// Cells written before cells recorded their task's views (schema 1): the report asks the
// task plugins for them, and renders the same.
TEST(ReportGolden, CellsWithoutRecordedViewsRenderTheSame) {
  fs::path run = copy_of_fixture("views");
  std::size_t stripped = 0;
  edit_cells(run, [&](json& cell) {
    ASSERT_TRUE(cell["task"].contains("views"));
    cell["task"].erase("views");
    ++stripped;
  });
  EXPECT_GT(stripped, 20u);
  expect_golden_report(run);
  fs::remove_all(run);
}

// Cells written before cells had intervals (schema 2) still report: each value says its
// interval is missing, nothing is compared or ranked by paired tests, and the header counts them.
TEST(ReportGolden, CellsWithoutIntervalsSayTheIntervalIsMissing) {
  fs::path run = copy_of_fixture("intervals");
  edit_cells(run, [](json& cell) {
    cell.erase("uncertainty");
    cell.erase("config_sha256");
    cell["schema_version"] = 2;
  });
  auto result = run_command(std::string(E2LLM_EXE) + " report '" + run.string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string md = slurp(run / "leaderboard.md");
  EXPECT_NE(md.find(") [n/a]"), std::string::npos) << md;
  EXPECT_NE(md.find("cells record no interval (written before cells had them)"), std::string::npos) << md;
  EXPECT_NE(md.find("not comparable (a cell records no items for this metric (it predates intervals))"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("cell(s) record no config hash"), std::string::npos) << md;
  const json summary = json::parse(slurp(run / "summary.json"));
  EXPECT_TRUE(summary["views"][0]["by_backend_and_window"]["none"]["512"]["interval"].is_null());
  EXPECT_FALSE(summary["views"][0]["extended_ranking"][0]["paired"].get<bool>());
  fs::remove_all(run);
}
