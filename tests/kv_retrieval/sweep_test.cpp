// End to end: the real `e2llm` binary sweeps the kv-retrieval task with the real stories260K
// model (backends none and pi, W = L/2 .. 2L) and a test backend that reads the prompt
// (plugins/kv_reader.cpp: right at depths 0 and 1, the neighbouring pair's value at 0.5), and
// `e2llm report` renders the task's curve and its depth x window grid from the cells alone.
// Every record's verdict is recomputed from its output by the documented rule (the first run
// of ASCII letters and digits, lowercased, equals the value), and the reader's cells must
// score exactly 1, 0 and 1 by depth: a scorer or an aggregation that erred would show.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "../support/run_command.hpp"
#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;
using e2llm::testing::quote;
using e2llm::testing::run_command;
using nlohmann::json;

TEST(KvRetrievalSweep, RealModelCellsAndAReportWithTheGrid) {
  const fs::path shared = fs::path(E2LLM_SHARED_DATA) / "models";
  ASSERT_TRUE(fs::exists(shared / "stories260K.gguf")) << shared;
  const fs::path dir = fs::temp_directory_path() / ("e2llm_kv_sweep_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string config =
      "[run]\nname = \"kv\"\nseed = 5\nthreads = 1\n\n"
      "[tokenizer]\nmodel = \"" +
      (shared / "tok512.model").string() +
      "\"\n\n"
      "[base]\nsource = \"gguf\"\npath = \"" +
      (shared / "stories260K.gguf").string() +
      "\"\nwindow = 512\n\n"
      "[backends.none]\n\n[backends.pi]\n\n[backends.reader]\nplugin = \"kvreader\"\n\n"
      "[tasks.kv]\nplugin = \"kv-retrieval\"\ndepths = [0, 0.5, 1]\ntrials = 1\n\n"
      "[sweep]\nwindows = [256, 512, 1024]\n";
  e2llm::util::write_file_atomic(dir / "kv.toml", config);
  const fs::path out = dir / "run";
  auto sweep = run_command(quote(E2LLM_EXE) + " --plugin-path " + quote(KV_TEST_PLUGIN_DIR) + " sweep " +
                           quote((dir / "kv.toml").string()) + " --out " + quote(out.string()));
  ASSERT_EQ(sweep.exit_code, 0) << sweep.out << sweep.err;

  // Nine cells (3 backends x 3 windows), each with the planned 3 trials.
  std::set<std::pair<std::string, std::int64_t>> seen;
  std::map<std::string, bool> all_zero = {{"none", true}, {"pi", true}};  // per backend: every depth and window 0
  for (const auto& e : fs::directory_iterator(out / "cells")) {
    if (!std::regex_match(e.path().filename().string(), std::regex("[0-9a-f]{16}\\.json"))) continue;
    const json cell = json::parse(e2llm::util::read_file(e.path()));
    const std::int64_t window = cell.at("window").get<std::int64_t>();
    seen.insert({cell.at("backend").at("label").get<std::string>(), window});
    EXPECT_EQ(cell.at("task").at("plugin"), "kv-retrieval");
    // [run] threads = 1 caps the backends' LibTorch threads (their own `threads` key is unset).
    if (cell.at("model").contains("threads")) EXPECT_EQ(cell.at("model").at("threads"), 1) << e.path();
    const json& m = cell.at("metrics");
    EXPECT_EQ(m.at("trials"), 3);
    const double accuracy = m.at("accuracy").get<double>();
    EXPECT_GE(accuracy, 0.0);
    EXPECT_LE(accuracy, 1.0);
    const json& by_depth = m.at("accuracy_by_depth");
    EXPECT_EQ(by_depth.size(), 3u);
    double sum = 0;
    for (const char* d : {"0", "0.5", "1"}) sum += by_depth.at(d).get<double>();
    if (sum > 0) all_zero[cell.at("backend").at("label").get<std::string>()] = false;
    EXPECT_TRUE(cell.at("uncertainty").at("metrics").at("accuracy_by_depth").at("rows").contains("0.5"));
    EXPECT_NEAR(sum / 3.0, accuracy, 1e-12);  // one trial per depth
    ASSERT_EQ(cell.at("samples").at("count"), 3);
    const auto records = e2llm::util::read_jsonl_tolerant(out / "cells" / cell.at("samples").at("records_file"));
    ASSERT_EQ(records.size(), 3u);
    std::map<std::string, int> right_by_depth;
    int right = 0;
    for (const json& s : records) {
      EXPECT_LE(s.at("prompt_tokens").get<std::int64_t>(), window - 16);
      EXPECT_GE(s.at("prompt_tokens").get<std::int64_t>(), window - 16 - 25);  // fills the window
      // docs/protocols.md: the first run of ASCII letters and digits, lowercased, is the answer.
      static const std::regex run("[A-Za-z0-9]+");
      const std::string output = s.at("output");
      std::smatch m;
      std::string first = std::regex_search(output, m, run) ? m.str() : "";
      for (auto& c : first) c = char(std::tolower(static_cast<unsigned char>(c)));
      const bool correct = first == s.at("value").get<std::string>();
      EXPECT_EQ(s.at("correct").get<bool>(), correct) << output;
      right += correct;
      std::ostringstream depth;
      depth << s.at("depth").get<double>();
      right_by_depth[depth.str()] += correct;
    }
    EXPECT_NEAR(accuracy, right / 3.0, 1e-12);
    for (const auto& [d, n] : right_by_depth) EXPECT_NEAR(by_depth.at(d).get<double>(), n, 1e-12) << d;
    if (cell.at("backend").at("label") == "reader") {
      const json expected = {{"0", 1.0}, {"0.5", 0.0}, {"1", 1.0}};
      EXPECT_EQ(by_depth, expected) << "the reader is right at depths 0 and 1 and wrong at 0.5";
      EXPECT_NEAR(accuracy, 2.0 / 3.0, 1e-12);
    }
  }
  EXPECT_EQ(seen.size(), 9u);

  auto report = run_command(quote(E2LLM_EXE) + " report " + quote(out.string()));
  ASSERT_EQ(report.exit_code, 0) << report.out << report.err;
  const std::string md = e2llm::util::read_file(out / "leaderboard.md");
  EXPECT_NE(md.find("## Key-value retrieval — kv"), std::string::npos) << md;
  // A backend whose grid is 0 everywhere (stories260K retrieves nothing) is listed in one line
  // under "— all 0.0%" instead of a table; the reader always has a table (it scores 2/3).
  const std::string zero_heading = "### Key-value accuracy by depth — all 0.0%\n\n";
  const auto zero_at = md.find(zero_heading);
  const std::string zero_line =
      zero_at == std::string::npos
          ? ""
          : md.substr(zero_at + zero_heading.size(),
                      md.find('\n', zero_at + zero_heading.size()) - zero_at - zero_heading.size());
  for (const char* backend : {"none", "pi", "reader"}) {
    if (all_zero[backend]) {
      EXPECT_NE(zero_line.find(backend), std::string::npos) << md;
      EXPECT_NE(zero_line.find(": every depth at every window is 0.0%"), std::string::npos) << md;
      continue;
    }
    const std::string heading = std::string("### Key-value accuracy by depth — ") + backend;
    const auto at = md.find(heading);
    ASSERT_NE(at, std::string::npos) << md;
    const std::string section = md.substr(at, md.find("\n#", at + 1) - at);
    EXPECT_NE(section.find("| depth | 256"), std::string::npos) << section;
    for (const char* row : {"\n| 0 |", "\n| 0.5 |", "\n| 1 |"})
      EXPECT_NE(section.find(row), std::string::npos) << section;
  }
  const std::string html = e2llm::util::read_file(out / "leaderboard.html");
  EXPECT_NE(html.find("Key-value accuracy by depth"), std::string::npos);
  fs::remove_all(dir);
}
