// A deterministic stand-in for a model, so tests can check exactly which context every token
// was scored with (the tokenizer is the shared byte tokenizer, ../support/fakes.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../support/fakes.hpp"
#include "../support/language_model_checks.hpp"
#include "e2llm/error.hpp"
#include "e2llm/language_model.hpp"
#include "e2llm/tokenizer.hpp"

namespace e2llm::fakes {

// log p(token at window index j) = -(log 259 + 0.001 * token + 1 / (j + 1)): depends on the
// token and on how much context it had (j tokens), so a token scored in the wrong window shows;
// over the 259-token vocabulary the probabilities sum to less than 1 (a distribution, as the
// LanguageModel contract wants).
inline double fake_logprob(std::int32_t token, std::size_t context) {
  return -(std::log(259.0) + 0.001 * double(token) + 1.0 / double(context + 1));
}

class ContextProbeModel final : public LanguageModel {
 public:
  explicit ContextProbeModel(std::int64_t window) : window_(window) {}
  std::int64_t window() const override { return window_; }
  const Tokenizer& tokenizer() const override { return tokenizer_; }
  // Keeps the contract as strictly as the LibTorch model (tests/support/language_model_checks.hpp):
  // at most window() tokens, ids in the vocabulary, and token 0 of a call has no context.
  std::vector<float> token_logprobs(const std::vector<std::int32_t>& ids, std::size_t score_from) override {
    testing::check_token_logprobs_args(window_, tokenizer_.vocab_size(), ids, score_from);
    calls.push_back({ids.size(), score_from});
    std::vector<float> out;
    for (std::size_t j = score_from; j < ids.size(); ++j) out.push_back(float(fake_logprob(ids[j], j)));
    return out;
  }
  std::vector<std::int32_t> generate(const std::vector<std::int32_t>& prompt, const GenerationOptions& o) override {
    testing::check_generate_args(window_, tokenizer_.vocab_size(), prompt, o);
    // Greedy: token 0 is always the most likely; it ends only at a stop token.
    if (std::count(o.stop_tokens.begin(), o.stop_tokens.end(), 0)) return {};
    return std::vector<std::int32_t>(std::size_t(o.max_new_tokens), 0);
  }
  std::vector<std::vector<std::int32_t>> generate_batch(const std::vector<GenerationRequest>& requests,
                                                        const GenerationDone& done) override {
    return testing::generate_each(*this, window_, tokenizer_.vocab_size(), requests, done);
  }
  std::int64_t batch_size() const override { return 2; }
  nlohmann::json describe() const override { return {{"model", "context-probe"}}; }

  struct Call {
    std::size_t length, score_from;
  };
  std::vector<Call> calls;

 private:
  std::int64_t window_;
  testing::ByteTokenizer tokenizer_;
};

}  // namespace e2llm::fakes
