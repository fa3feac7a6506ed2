// What tasks see of a model: token ids in, floats and token ids out. No LibTorch types.
#pragma once

#include <cstdint>
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

  // What was opened: rope type and parameters (g, factor, base), dtype, device, checkpoint.
  virtual nlohmann::json describe() const = 0;
};

}  // namespace e2llm
