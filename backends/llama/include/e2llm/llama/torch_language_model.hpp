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
  // Up to batch_size() sequences decode together (BatchedGenerator); each request's RoPE is
  // the one generate() would use for it (dynamic NTK: from its own final length).
  std::vector<std::vector<int32_t>> generate_batch(const std::vector<GenerationRequest>& requests,
                                                   const GenerationDone& done) override;
  // The configured batch size, or (0, the default) default_batch_size() for the window from
  // the device's free memory.
  int64_t batch_size() const override;
  void set_batch_size(int64_t batch_size);
  nlohmann::json describe() const override;

  formats::RopeFrequencies frequencies(int64_t seq_len) const { return formats::compute_rope(rope_, seq_len); }
  LlamaModel& model() { return *model_; }
  // Rows of logits materialized at once: at most kLogprobChunk, and at most kLogitElements
  // logits (SmolLM2's 49,152-token vocabulary: 170 rows, 32 MiB).
  static constexpr int64_t kLogprobChunk = 1024;
  static constexpr int64_t kLogitElements = int64_t(1) << 23;
  int64_t logprob_rows() const;

 private:
  std::shared_ptr<LlamaModel> model_;
  formats::RopeConfig rope_;
  int64_t window_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  nlohmann::json extra_;
  SelfExtendOptions self_extend_;
  int64_t batch_size_ = 0;  // 0 = chosen from memory
};

}  // namespace e2llm::llama
