// End to end: the shipped configs/longbench-smoke.toml (its relative paths resolved against
// configs/, reaching the shared test data beside the checkout) runs through `e2llm sweep` and `e2llm report`
// with one row per dataset; the cells hold every dataset's score, each row's score equal to
// what LongBench's metrics (metrics_oracle.py: qa_f1, and ROUGE-L of the `rouge` package, as
// eval.py picks them per dataset) give its prediction against the row's answers, and the
// report holds the LongBench table with a row per dataset.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>

#include "../support/run_command.hpp"
#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;
using e2llm::testing::quote;
using e2llm::testing::run_command;
using nlohmann::json;

namespace {
const std::vector<std::string> kDatasets = {"qasper",     "multifieldqa_en", "hotpotqa",  "2wikimqa",
                                            "gov_report", "qmsum",           "multi_news"};
}

TEST(LongBenchSweep, SmokeConfigGivesCellsAndAReportWithPerDatasetScores) {
  const fs::path config = fs::path(E2LLM_SOURCE_DIR) / "configs" / "longbench-smoke.toml";
  ASSERT_TRUE(fs::exists(config));
  const fs::path dir = fs::temp_directory_path() / ("e2llm_lb_sweep_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path out = dir / "run";
  auto sweep = run_command(quote(E2LLM_EXE) + " sweep " + quote(config.string()) + " --out " + quote(out.string()) +
                           " --set tasks.longbench.limit=1 --set run.threads=1");
  ASSERT_EQ(sweep.exit_code, 0) << sweep.out << sweep.err;

  std::set<std::pair<std::string, std::int64_t>> cells;
  for (const auto& e : fs::directory_iterator(out / "cells")) {
    if (!std::regex_match(e.path().filename().string(), std::regex("[0-9a-f]{16}\\.json"))) continue;
    const json cell = json::parse(e2llm::util::read_file(e.path()));
    const std::int64_t window = cell.at("window").get<std::int64_t>();
    cells.insert({cell.at("backend").at("label").get<std::string>(), window});
    const json& m = cell.at("metrics");
    const auto records = e2llm::util::read_jsonl_tolerant(out / "cells" / cell.at("samples").at("records_file"));
    ASSERT_EQ(records.size(), kDatasets.size());  // limit = 1
    // LongBench's own scoring of the predictions in the records.
    const auto official =
        run_command(quote(std::string(E2LLM_SOURCE_DIR) + "/.venv/bin/python") + " " +
                    quote(std::string(E2LLM_SOURCE_DIR) + "/tests/longbench/metrics_oracle.py") + " --score-records " +
                    quote((out / "cells" / cell.at("samples").at("records_file")).string()) + " " +
                    quote(std::string(E2LLM_SHARED_DATA) + "/longbench/rows"));
    ASSERT_EQ(official.exit_code, 0) << official.err;
    std::map<std::string, double> official_score;
    for (const json& o : json::parse(official.out)) official_score[o.at("dataset").get<std::string>()] = o.at("score");
    std::map<std::string, double> row_score;
    for (const json& r : records) {
      row_score[r.at("dataset").get<std::string>()] = r.at("score").get<double>();
      EXPECT_NEAR(r.at("score").get<double>(), official_score.at(r.at("dataset")), 1e-9)
          << r.at("dataset") << ": " << r.at("pred");
      // Middle-truncated to the budget W - reserve (pred.py's re-encoding may drift a token or two).
      EXPECT_LE(r.at("prompt_tokens").get<std::int64_t>(), window - 128 + 2);
      EXPECT_LE(r.at("prompt_tokens").get<std::int64_t>() + r.at("generated_tokens").get<std::int64_t>(), window);
      EXPECT_TRUE(r.at("truncated").get<bool>());  // every context is longer than 1k tokens
    }
    double sum = 0;
    for (const auto& name : kDatasets) {
      ASSERT_TRUE(m.contains(name)) << name;
      const double score = m.at(name).get<double>();
      EXPECT_GE(score, 0.0);
      EXPECT_LE(score, 100.0);
      EXPECT_NEAR(score, 100.0 * row_score.at(name), 0.005 + 1e-9) << name;  // one row: round(100 * s, 2)
      sum += score;
    }
    EXPECT_NEAR(m.at("avg_en").get<double>(), sum / double(kDatasets.size()), 0.005 + 1e-9);
  }
  EXPECT_EQ(cells.size(), 4u);  // none and pi at W = 512 and 1024

  auto report = run_command(quote(E2LLM_EXE) + " report " + quote(out.string()));
  ASSERT_EQ(report.exit_code, 0) << report.out << report.err;
  const std::string md = e2llm::util::read_file(out / "leaderboard.md");
  for (const char* window : {"512", "1024"}) {
    const std::string heading = std::string("## LongBench — longbench at W = ") + window;
    const auto at = md.find(heading);
    ASSERT_NE(at, std::string::npos) << md;
    const std::string section = md.substr(at, md.find("\n## ", at + 1) - at);
    EXPECT_NE(section.find("| none"), std::string::npos) << section;
    for (const auto& name : kDatasets) {
      static const std::regex number("[0-9]+\\.[0-9]{2}");
      const auto row = section.find("\n| " + name + " |");
      ASSERT_NE(row, std::string::npos) << name << "\n" << section;
      const std::string line = section.substr(row + 1, section.find('\n', row + 1) - row - 1);
      EXPECT_TRUE(std::regex_search(line, number)) << line;
    }
    EXPECT_NE(section.find("avg_en"), std::string::npos) << section;
  }
  fs::remove_all(dir);
}
