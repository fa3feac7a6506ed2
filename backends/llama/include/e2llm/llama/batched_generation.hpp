// Generation for many sequences at once (docs/throughput.md §Batched generation): up to
// `slots` sequences decode together, one token each per step, so a step reads every weight
// once for all of them. Each sequence keeps its own KV cache (no padding: its keys are only
// its own, its positions 0 .. len − 1, its RoPE its own), is prefilled alone exactly as
// generate_tokens prefills it, and leaves the batch when it stops; a waiting sequence takes
// its slot (continuous batching). Attention runs per sequence on the same kernel and shapes as
// one-at-a-time decoding; the projections run on the stacked rows.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "e2llm/formats/model_config.hpp"
#include "e2llm/formats/rope_scaling.hpp"
#include "e2llm/language_model.hpp"
#include "e2llm/llama/model.hpp"

namespace e2llm::llama {

struct GenerationJob {
  std::vector<int32_t> prompt;    // non-empty
  formats::RopeFrequencies rope;  // fixed for the whole sequence (as in generate_tokens)
  GenerationOptions options;
};

class BatchedGenerator {
 public:
  BatchedGenerator(LlamaModel& model, int64_t slots);
  // Runs every job; done(i, tokens) as soon as job i stops (at a stop token, not returned, or
  // after max_new_tokens). Returns the tokens of every job, in job order. Each result equals
  // generate_tokens(model, job.prompt, job.rope, job.options) (greedy: token for token).
  std::vector<std::vector<int32_t>> run(const std::vector<GenerationJob>& jobs, const GenerationDone& done);

 private:
  struct Sequence;
  // Prefills job `index` alone and samples its first token; false when it is finished already.
  bool start(const GenerationJob& job, Sequence& seq);
  // One token for every active sequence.
  void step(std::vector<Sequence>& active);

  LlamaModel& model_;
  int64_t slots_;
};

// KV-cache bytes one sequence of `tokens` tokens holds (keys and values of every layer).
int64_t kv_cache_bytes(const formats::ModelConfig& config, int64_t tokens, int64_t element_bytes);
// The batch size a backend chooses when none is configured: as many sequences of `window`
// tokens as a quarter of `available_bytes` holds in KV cache, between 1 and kMaxAutoBatch
// (1 when the memory is unknown, available_bytes < 0).
inline constexpr int64_t kMaxAutoBatch = 16;
int64_t default_batch_size(const formats::ModelConfig& config, int64_t window, int64_t element_bytes,
                           long long available_bytes);

}  // namespace e2llm::llama
