// Long windows against transformers: perplexity at W = 4k, 8k and 16k (8L, 16L, 32L) of
// stories260K (L = 512) through `e2llm sweep` — the real backends' serving and the proofpile
// task's sliding window — for dynamic NTK, YaRN and an E²-LLM model (trained one step by the
// e2llm backend, served with g = W / L), against long_window_reference.py: transformers'
// LlamaForCausalLM with the RoPE each method defines at that window (dynamic: factor W/L over
// max_position_embeddings L; YaRN: factor W/L over original L; E²-LLM: linear W/L), scoring the
// same token ids with the protocol of docs/protocols.md as tests/cli/oracle.py writes it.
// Every window has W tokens (stride 2048 over a text of 16k tokens), so transformers' dynamic
// NTK, which grows with the length of each forward, sees n = W as e2llm does. The methods
// differ from each other by far more than the tolerance (asserted).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "../support/run_command.hpp"
#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;
using e2llm::testing::quote;
using e2llm::testing::run_command;
using nlohmann::json;

namespace {

const fs::path kSource = E2LLM_SOURCE_DIR;
const fs::path kModels = fs::path(E2LLM_SHARED_DATA) / "models";
constexpr int64_t kL = 512;
constexpr int64_t kTokens = 16384;
constexpr int64_t kStride = 2048;
const std::vector<int64_t> kWindows = {4096, 8192, 16384};
// float32 on both sides; the NLL summed over 16,383 tokens. Measured: relative differences
// up to 3.9e-7 (YaRN at 8k; dynamic NTK and E²-LLM below 3.2e-8). The methods differ from each
// other by at least 8.9e-4 relative (YaRN against E²-LLM at 8k), so 100 x the tolerance
// separates them.
constexpr double kTolerance = 3e-6;

struct WorkDir {
  fs::path path = fs::temp_directory_path() / ("e2llm-long-windows-" + std::to_string(::getpid()));
  WorkDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~WorkDir() { fs::remove_all(path); }
};

std::string must(const std::string& command) {
  const auto r = run_command(command);
  if (r.exit_code != 0) throw std::runtime_error(command + " failed: " + r.err);
  return r.out;
}

}  // namespace

TEST(LongWindows, Stories260kPerplexityAt4k8k16kEqualsTransformers) {
  const WorkDir work;
  const std::string exe = E2LLM_EXE;
  // The text: the first gov_report row's context (53k characters, ~40k tok512 tokens).
  std::ifstream rows(fs::path(E2LLM_SHARED_DATA) / "longbench/rows/gov_report.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(rows, line));
  const std::string text = json::parse(line).at("context").get<std::string>();
  e2llm::util::write_file_atomic(work.path / "doc.jsonl", json{{"text", text}}.dump() + "\n");
  e2llm::util::write_file_atomic(work.path / "doc.txt", text);
  std::string corpus;
  for (int i = 0; i < 80; ++i)
    corpus += json{{"text", "Once upon a time, a little dog named " + std::to_string(i) +
                                " found a red ball in the park. The dog was happy and played all day long. "}}
                  .dump() +
              "\n";
  e2llm::util::write_file_atomic(work.path / "corpus.jsonl", corpus);
  must(exe + " convert " + quote((kModels / "stories260K.gguf").string()) + " " + quote((work.path / "base").string()));

  const std::string toml =
      "[run]\nseed = 0\n[tokenizer]\nmodel = \"" + (kModels / "tok512.model").string() +
      "\"\n[base]\nsource = \"gguf\"\npath = \"" + (kModels / "stories260K.gguf").string() + "\"\nwindow = 512\n" +
      "[backends.dynamic]\nplugin = \"dynamic-ntk\"\n[backends.yarn]\nplugin = \"yarn\"\n" +
      "[backends.e2llm]\nplugin = \"e2llm\"\ncorpus = \"" + (work.path / "corpus.jsonl").string() +
      "\"\nsteps = 1\nbatch = 2\nseq_len = 64\ngmax = 4\nlr = 1e-3\ncheck_blas = false\n" +
      "[tasks.ppl]\nplugin = \"proofpile\"\ndata = \"" + (work.path / "doc.jsonl").string() +
      "\"\nstride = " + std::to_string(kStride) + "\nmax_documents = 1\n[sweep]\nwindows = [4096, 8192, 16384]\n";
  e2llm::util::write_file_atomic(work.path / "sweep.toml", toml);
  must(exe + " sweep " + quote((work.path / "sweep.toml").string()) + " --out " + quote((work.path / "run").string()));

  // The task's ids: BOS (tok512 adds it) + the text's ids, the first kTokens of them.
  std::vector<int64_t> ids = {1};
  {
    std::istringstream in(must(exe + " tokenizer encode --model " + quote((kModels / "tok512.model").string()) + " < " +
                               quote((work.path / "doc.txt").string())));
    for (int64_t id; in >> id;) ids.push_back(id);
  }
  ASSERT_GE(static_cast<int64_t>(ids.size()), kTokens);
  ids.resize(kTokens);

  std::map<std::string, json> cells;  // "label/W"
  for (const auto& e : fs::directory_iterator(work.path / "run" / "cells")) {
    if (e.path().extension() != ".json") continue;
    const auto cell = json::parse(e2llm::util::read_file(e.path()));
    cells[cell["backend"]["label"].get<std::string>() + "/" + cell["window"].dump()] = cell;
  }
  ASSERT_EQ(cells.size(), 9u);
  std::string trained = cells.at("e2llm/4096")["backend"]["prepare"]["checkpoint_path"];
  if (fs::path(trained).is_relative()) trained = (work.path / "run" / trained).string();

  // The RoPE each method defines at W (docs/methods.md), in transformers' terms.
  const double theta = 10000.0;
  json manifest = {{"ids", ids}, {"out", (work.path / "reference.json").string()}, {"cases", json::array()}};
  for (const auto& [name, cell] : cells) {
    const int64_t W = cell["window"];
    const double g = double(W) / double(kL);
    const std::string label = cell["backend"]["label"];
    EXPECT_DOUBLE_EQ(cell["window_ratio"].get<double>(), g) << name;
    EXPECT_DOUBLE_EQ(cell["served_scale"].get<double>(), g) << name;  // W / L is a power of 2 here
    json rope;
    int64_t max_pos = kL;
    std::string model = (work.path / "base").string();
    if (label == "dynamic") rope = {{"rope_type", "dynamic"}, {"factor", g}, {"rope_theta", theta}};
    if (label == "yarn") {
      rope = {{"rope_type", "yarn"}, {"factor", g}, {"original_max_position_embeddings", kL}, {"rope_theta", theta}};
      max_pos = W;
    }
    if (label == "e2llm") rope = {{"rope_type", "linear"}, {"factor", g}, {"rope_theta", theta}}, model = trained;
    manifest["cases"].push_back({{"name", name},
                                 {"model", model},
                                 {"rope_parameters", rope},
                                 {"max_position_embeddings", max_pos},
                                 {"window", W},
                                 {"stride", kStride}});
  }
  e2llm::util::write_file_atomic(work.path / "manifest.json", manifest.dump());
  const auto r = run_command(quote((kSource / ".venv/bin/python").string()) + " " +
                             quote((kSource / "tests/interop/long_window_reference.py").string()) + " " +
                             quote((work.path / "manifest.json").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ref = json::parse(e2llm::util::read_file(work.path / "reference.json"));

  std::map<std::string, double> nll;
  for (const auto& [name, cell] : cells) {
    SCOPED_TRACE(name);
    const auto& want = ref.at(name);
    const double mine = cell["details"]["nll_sum"], theirs = want["nll_sum"];
    nll[name] = mine;
    EXPECT_EQ(cell["metrics"]["tokens"], want["tokens"]);
    EXPECT_EQ(cell["metrics"]["tokens"], kTokens - 1);
    EXPECT_EQ(cell["details"]["windows"], want["windows"]);
    std::cout << "[ long window ] " << name << ": ppl e2llm " << cell["metrics"]["ppl"] << " transformers "
              << want["ppl"] << ", relative |d nll| " << std::abs(mine - theirs) / theirs << "\n";
    EXPECT_NEAR(mine, theirs, kTolerance * theirs);
  }
  for (const int64_t W : kWindows) {
    const std::string w = "/" + std::to_string(W);
    for (const auto& [a, b] : {std::pair{"dynamic", "yarn"}, {"dynamic", "e2llm"}, {"yarn", "e2llm"}})
      EXPECT_GT(std::abs(nll.at(a + w) - nll.at(b + w)), 100 * kTolerance * nll.at(a + w)) << a << " vs " << b << w;
  }
}
