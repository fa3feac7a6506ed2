// Batched generation (docs/throughput.md §Batched generation) against one-at-a-time
// generation on stories260K: prompts of different lengths, sequences stopping at different
// steps (each at its own stop token, or at its own max_new_tokens), more requests than slots
// (continuous batching), under plain RoPE, PI and dynamic NTK (a RoPE per sequence); greedy
// token for token, seeded sampling draw for draw.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "e2llm/error.hpp"
#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/llama/batched_generation.hpp"
#include "e2llm/llama/model.hpp"
#include "e2llm/llama/torch_language_model.hpp"

using namespace e2llm::llama;
namespace formats = e2llm::formats;
namespace fs = std::filesystem;

namespace {

std::shared_ptr<LlamaModel> stories() {
  static auto m = load_model(formats::load_checkpoint(fs::path(E2LLM_SHARED_DATA) / "models" / "stories260K.gguf"));
  return m;
}

// Prompts of lengths 1 .. ~300: BOS, then the model's own greedy story cut at different points
// (a real text for this model), one of them with a token repeated.
std::vector<std::vector<int32_t>> prompts(TorchLanguageModel& lm) {
  e2llm::GenerationOptions o;
  o.max_new_tokens = 300;
  auto story = lm.generate({1}, o);
  story.insert(story.begin(), 1);
  std::vector<std::vector<int32_t>> out;
  for (size_t n : {size_t(1), size_t(7), size_t(120), size_t(33), size_t(280), size_t(2), size_t(64)})
    out.emplace_back(story.begin(), story.begin() + std::min(n, story.size()));
  out.push_back(std::vector<int32_t>(50, 403));
  return out;
}

// Requests that stop at different steps: request i stops at the token its own greedy
// continuation produces at step 3 + 5i (when it gets that far), or after its max_new_tokens.
std::vector<e2llm::GenerationRequest> requests(TorchLanguageModel& lm, double temperature) {
  std::vector<e2llm::GenerationRequest> out;
  const auto ps = prompts(lm);
  for (size_t i = 0; i < ps.size(); ++i) {
    e2llm::GenerationRequest r{ps[i], {}};
    r.options.max_new_tokens = static_cast<int32_t>(std::min<int64_t>(60, lm.window() - ps[i].size()));
    r.options.temperature = temperature;
    r.options.seed = 100 + i;
    auto free_run = lm.generate(r.prompt, r.options);
    const size_t k = 3 + 5 * i;
    if (k < free_run.size()) r.options.stop_tokens = {free_run[k]};
    if (i % 3 == 2) r.options.max_new_tokens = static_cast<int32_t>(9 + i);  // stops by length instead
    out.push_back(r);
  }
  return out;
}

void expect_batch_equals_one_at_a_time(TorchLanguageModel& lm, double temperature) {
  const auto reqs = requests(lm, temperature);
  std::vector<std::vector<int32_t>> single;
  std::set<size_t> lengths;
  for (const auto& r : reqs) {
    single.push_back(lm.generate(r.prompt, r.options));
    lengths.insert(single.back().size());
  }
  ASSERT_GE(lengths.size(), 4u) << "the requests must stop at different steps";
  for (int64_t slots : {2, 16}) {
    SCOPED_TRACE("batch size " + std::to_string(slots));
    lm.set_batch_size(slots);
    std::vector<size_t> order;
    auto batch = lm.generate_batch(reqs, [&](size_t i, const std::vector<int32_t>& tokens) {
      order.push_back(i);
      EXPECT_EQ(tokens, single[i]) << "request " << i << " handed over";
    });
    ASSERT_EQ(batch.size(), reqs.size());
    for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(batch[i], single[i]) << "request " << i;
    EXPECT_EQ(order.size(), reqs.size());
    std::sort(order.begin(), order.end());
    EXPECT_EQ(std::adjacent_find(order.begin(), order.end()), order.end()) << "each request is handed over once";
  }
}

}  // namespace

TEST(BatchedGeneration, GreedyEqualsOneAtATimeTokenForToken) {
  auto model = stories();
  formats::RopeConfig pi = model->config().rope;
  pi.type = formats::RopeType::Linear;
  pi.factor = 2.0;
  formats::RopeConfig dyn = model->config().rope;
  dyn.type = formats::RopeType::DynamicNtk;
  dyn.factor = 2.0;
  dyn.original_max_position = 256;  // so that prompts of different lengths get different bases
  for (const auto& rope : {model->config().rope, pi, dyn}) {
    SCOPED_TRACE(formats::rope_type_name(rope.type));
    TorchLanguageModel lm(model, rope, 512, nullptr);
    expect_batch_equals_one_at_a_time(lm, 0.0);
  }
}

TEST(BatchedGeneration, SeededSamplingDrawsAsOneAtATime) {
  auto model = stories();
  TorchLanguageModel lm(model, model->config().rope, 512, nullptr);
  expect_batch_equals_one_at_a_time(lm, 0.9);
}

TEST(BatchedGeneration, BatchSizeDefaultsFromMemory) {
  const auto& c = stories()->config();
  const int64_t per = kv_cache_bytes(c, 512, 4);
  EXPECT_EQ(per, 2 * 5 * 4 * 8 * 512 * 4);                   // keys and values, 5 layers, 4 KV heads of 8
  EXPECT_EQ(default_batch_size(c, 512, 4, -1), 1);           // memory unknown
  EXPECT_EQ(default_batch_size(c, 512, 4, 4 * per * 3), 3);  // a quarter of the memory holds 3
  EXPECT_EQ(default_batch_size(c, 512, 4, 4 * per / 2), 1);  // never below 1
  EXPECT_EQ(default_batch_size(c, 512, 4, 1LL << 50), kMaxAutoBatch);
  TorchLanguageModel lm(stories(), c.rope, 512, nullptr);
  EXPECT_GE(lm.batch_size(), 1);
  EXPECT_EQ(lm.describe().at("batch_size").at("rule"), "from free memory");
  lm.set_batch_size(5);
  EXPECT_EQ(lm.batch_size(), 5);
  EXPECT_EQ(lm.describe().at("batch_size").at("rule"), "configured");
  EXPECT_THROW(lm.set_batch_size(-1), e2llm::Error);
}
