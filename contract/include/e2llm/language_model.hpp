// What tasks see of a model: token ids in, floats and token ids out. No LibTorch types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "e2llm/tokenizer.hpp"

namespace e2llm {

struct GenerationOptions {
  std::int32_t max_new_tokens = 32;
  double temperature = 0.0;  // 0 = greedy
  double top_p = 1.0;
  std::uint64_t seed = 0;
  std::vector<std::int32_t> stop_tokens;  // generation ends when one is produced (not returned)
};

// One sequence of a batch: its prompt and its own options (length, stop tokens, seed).
struct GenerationRequest {
  std::vector<std::int32_t> prompt;
  GenerationOptions options;
};

// Called once per request of generate_batch() as soon as that request is finished, with its
// index and its new tokens, on the calling thread, in the order the requests finish (not
// necessarily their order). An exception thrown here ends generate_batch() with it.
using GenerationDone = std::function<void(std::size_t index, const std::vector<std::int32_t>& tokens)>;

class LanguageModel {
 public:
  virtual ~LanguageModel() = default;

  // The context window this model was opened for (tokens).
  virtual std::int64_t window() const = 0;
  virtual const Tokenizer& tokenizer() const = 0;

  // log p(ids[i] | ids[0..i)) for i in [score_from, ids.size()), from one causal forward
  // pass over `ids` (so ids.size() <= window()). score_from >= 1.
  virtual std::vector<float> token_logprobs(const std::vector<std::int32_t>& ids,
                                            std::size_t score_from) = 0;

  // New tokens only (the prompt is not repeated). prompt.size() + max_new_tokens may not
  // exceed window().
  virtual std::vector<std::int32_t> generate(const std::vector<std::int32_t>& prompt,
                                             const GenerationOptions& options) = 0;

  // Several sequences at once. results[i] is what generate(requests[i].prompt,
  // requests[i].options) returns: greedy decoding gives the same tokens; sampling draws from
  // each request's own generator, seeded by its options.seed. Every request is checked first,
  // with generate()'s rules, and a bad one is refused (e2llm::Error naming its index) before
  // any generation. `done` (may be empty) sees each result as soon as it is finished, so a
  // caller can store it before the others end.
  virtual std::vector<std::vector<std::int32_t>> generate_batch(const std::vector<GenerationRequest>& requests,
                                                                const GenerationDone& done) = 0;
  // How many sequences generate_batch() decodes together (>= 1): a task may hand it any
  // number of requests; this is a hint for how many make a batch worth having.
  virtual std::int64_t batch_size() const = 0;

  // What was opened: rope type and parameters (g, factor, base), dtype, device, checkpoint.
  virtual nlohmann::json describe() const = 0;
};

}  // namespace e2llm
