// e2llm::LanguageModel over a LlamaModel with one RoPE configuration (what a backend's
// open(W) returns). Plain ids and floats cross the boundary; LibTorch stays inside.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "e2llm/language_model.hpp"
#include "e2llm/llama/model.hpp"

namespace e2llm::llama {

class TorchLanguageModel : public LanguageModel {
 public:
  // `tokenizer` may be null (then tokenizer() throws): tests and benchmarks work on ids.
  // `extra` is merged into describe() (e.g. {"backend": "pi", "g": 4}).
  // `self_extend` (enabled: G > 1) serves Self-Extend's grouped attention on top of `rope`.
  TorchLanguageModel(std::shared_ptr<LlamaModel> model, formats::RopeConfig rope, int64_t window,
                     std::shared_ptr<const Tokenizer> tokenizer, nlohmann::json extra = nlohmann::json::object(),
                     SelfExtendOptions self_extend = {});

  int64_t window() const override { return window_; }
  const Tokenizer& tokenizer() const override;
  // One causal forward over `ids` (RoPE for length ids.size(): this matters for dynamic
  // NTK), log_softmax over the scored rows only, in chunks, so no [T, V] matrix is held.
  std::vector<float> token_logprobs(const std::vector<int32_t>& ids, size_t score_from) override;
  // Dynamic NTK policy: the base is fixed for the whole call from the final length
  // n = prompt + max_new_tokens (capped at the window), so every cached key carries the
  // base its queries use; the KVCache also refuses a changed base. Other RoPE types do not
  // depend on n.
  std::vector<int32_t> generate(const std::vector<int32_t>& prompt, const GenerationOptions& options) override;
  nlohmann::json describe() const override;

  formats::RopeFrequencies frequencies(int64_t seq_len) const { return formats::compute_rope(rope_, seq_len); }
  LlamaModel& model() { return *model_; }
  static constexpr int64_t kLogprobChunk = 1024;  // rows of logits materialized at once

 private:
  std::shared_ptr<LlamaModel> model_;
  formats::RopeConfig rope_;
  int64_t window_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  nlohmann::json extra_;
  SelfExtendOptions self_extend_;
};

}  // namespace e2llm::llama
