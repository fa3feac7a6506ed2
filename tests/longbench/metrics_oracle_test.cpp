// QA-F1 and ROUGE-L of metrics.cpp against the official implementation run as a dependency:
// metrics_oracle.py scores 20k seeded prediction/answer pairs with the PyPI `rouge` package
// (as LongBench's rouge_score does) and LongBench's qa_f1_score; every score must be the same
// double, bit for bit.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../support/run_command.hpp"
#include "e2llm/longbench/metrics.hpp"

namespace fs = std::filesystem;
using e2llm::testing::quote;

TEST(longbench_metrics_oracle, GeneratedPairsScoreExactlyAsTheOfficialMetrics) {
  const fs::path python = fs::path(E2LLM_SOURCE_DIR) / ".venv" / "bin" / "python";
  ASSERT_TRUE(fs::exists(python)) << python << " is missing: run scripts/setup.sh (it installs rouge)";
  const fs::path out = fs::path(E2LLM_BINARY_DIR) / "tests" / "longbench_metric_pairs.jsonl";
  const std::string command = quote(python.string()) + " " +
                              quote((fs::path(E2LLM_SOURCE_DIR) / "tests/longbench/metrics_oracle.py").string()) + " " +
                              quote(out.string());
  auto r = e2llm::testing::run_command(command);
  ASSERT_EQ(r.exit_code, 0) << command << "\n" << r.err;

  std::ifstream in(out);
  std::string line;
  std::size_t pairs = 0, f1_diffs = 0, rouge_diffs = 0, rouge_positive = 0, f1_positive = 0;
  while (std::getline(in, line)) {
    auto row = nlohmann::json::parse(line);
    const std::string pred = row["pred"], gold = row["gold"];
    const double f1 = e2llm::longbench::qa_f1_score(pred, gold);
    const double rouge = e2llm::longbench::rouge_score(pred, gold);
    const double f1_ref = row["qa_f1"].get<double>(), rouge_ref = row["rouge"].get<double>();
    ++pairs;
    f1_positive += f1_ref > 0;
    rouge_positive += rouge_ref > 0;
    if (f1 != f1_ref && ++f1_diffs <= 5)
      ADD_FAILURE() << "qa_f1 " << f1 << " != official " << f1_ref << " for pred " << nlohmann::json(pred).dump()
                    << " gold " << nlohmann::json(gold).dump();
    if (rouge != rouge_ref && ++rouge_diffs <= 5)
      ADD_FAILURE() << "rouge " << rouge << " != official " << rouge_ref << " for pred "
                    << nlohmann::json(pred.substr(0, 200)).dump() << " gold "
                    << nlohmann::json(gold.substr(0, 200)).dump();
  }
  std::printf("%zu pairs (%zu with qa_f1 > 0, %zu with rouge > 0): %zu qa_f1 and %zu rouge differences\n", pairs,
              f1_positive, rouge_positive, f1_diffs, rouge_diffs);
  EXPECT_GE(pairs, 20000u);
  // The pairs must exercise both outcomes, not only zeros.
  EXPECT_GT(f1_positive, pairs / 5);
  EXPECT_GT(rouge_positive, pairs / 5);
  EXPECT_EQ(f1_diffs, 0u);
  EXPECT_EQ(rouge_diffs, 0u);
}
