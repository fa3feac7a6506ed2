// The LanguageModel contract (docs/adding-a-plugin.md, "The LanguageModel contract") as a
// GoogleTest check, run against the LibTorch model and every test double that stands in for
// it, so a double is never laxer than the real thing:
//
//   token_logprobs(ids, score_from): e2llm::Error when score_from < 1, ids.size() > window()
//     or an id outside [0, vocab_size()); else exactly ids.size() - score_from values (none
//     when score_from >= ids.size()), each finite and <= 0, and the log-probabilities of a
//     distribution: different next tokens after the same context have probabilities summing
//     to at most 1 (a model whose log-probs are all 0 fails).
//   generate(prompt, options): e2llm::Error when the prompt is empty, an id is outside the
//     vocabulary, max_new_tokens < 0 or prompt.size() + max_new_tokens > window(); else at
//     most max_new_tokens ids, each in the vocabulary and none a stop token — exactly
//     max_new_tokens when there is no stop token to end on (a model that generates nothing
//     fails); greedy (temperature 0), its first token is one its token_logprobs rank first.
//
// `prompt` is a prompt the model under test can answer (a test double may expect one);
// `options` carries what the double expects (stop tokens, temperature).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "e2llm/error.hpp"
#include "e2llm/language_model.hpp"
#include "language_model_checks.hpp"

namespace e2llm::testing {

inline std::vector<std::int32_t> conformance_ids(const LanguageModel& m, std::size_t n) {
  const std::int32_t vocab = m.tokenizer().vocab_size();
  std::vector<std::int32_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = i == 0 ? m.tokenizer().bos_id() : std::int32_t((i * 37 + 5) % vocab);
  return ids;
}

inline void expect_language_model_contract(LanguageModel& m, std::vector<std::int32_t> prompt = {},
                                           GenerationOptions options = {}) {
  const std::int64_t window = m.window();
  const std::int32_t vocab = m.tokenizer().vocab_size();
  ASSERT_GE(window, 2);
  ASSERT_GE(vocab, 2);
  const std::size_t n = std::size_t(std::min<std::int64_t>(window, 48));

  // token_logprobs: bounds.
  auto ids = conformance_ids(m, n);
  EXPECT_THROW(m.token_logprobs(ids, 0), Error) << "score_from 0 must be refused (token 0 has no context)";
  EXPECT_THROW(m.token_logprobs(conformance_ids(m, std::size_t(window) + 1), 1), Error)
      << "more than window() ids must be refused";
  for (std::int32_t bad : {-1, vocab}) {
    auto with_bad = ids;
    with_bad[n / 2] = bad;
    EXPECT_THROW(m.token_logprobs(with_bad, 1), Error) << "id " << bad << " is outside the vocabulary";
  }
  // token_logprobs: how many values, and that they are log-probabilities.
  for (std::size_t from : {std::size_t(1), n / 2, n - 1, n, n + 3}) {
    auto lp = m.token_logprobs(ids, from);
    EXPECT_EQ(lp.size(), from < n ? n - from : 0) << "score_from " << from << " of " << n;
    for (float v : lp) EXPECT_TRUE(std::isfinite(v) && v <= 0.0f) << v;
  }
  if (window <= 4096) {  // the whole window in one call
    auto full = m.token_logprobs(conformance_ids(m, std::size_t(window)), 1);
    EXPECT_EQ(full.size(), std::size_t(window - 1));
  }
  // token_logprobs: a distribution. Three different next tokens after the same context cannot
  // have more than probability 1 together.
  {
    double mass = 0;
    std::vector<std::int32_t> tried;
    for (std::int32_t k = 0; k < 3; ++k) {
      auto next = ids;
      next.back() = std::int32_t((ids.back() + 1 + 97 * k) % vocab);
      if (std::count(tried.begin(), tried.end(), next.back())) continue;
      tried.push_back(next.back());
      mass += std::exp(double(m.token_logprobs(next, n - 1).at(0)));
    }
    EXPECT_LE(mass, 1.0 + 1e-4) << "three next tokens have probabilities summing to " << mass
                                << ": these are not the log-probabilities of a distribution";
  }

  // generate: bounds.
  if (prompt.empty()) prompt = conformance_ids(m, std::min<std::size_t>(n, 8));
  const std::int64_t room = window - std::int64_t(prompt.size());
  ASSERT_GE(room, 1) << "the conformance prompt leaves no room in the window";
  auto with = [&](std::int32_t max_new) {
    GenerationOptions o = options;
    o.max_new_tokens = max_new;
    return o;
  };
  EXPECT_THROW(m.generate({}, with(1)), Error) << "an empty prompt must be refused";
  EXPECT_THROW(m.generate(prompt, with(-3)), Error) << "max_new_tokens < 0 must be refused";
  EXPECT_THROW(m.generate(prompt, with(std::int32_t(room + 1))), Error) << "prompt + max_new_tokens > window()";
  auto bad_prompt = prompt;
  bad_prompt.back() = vocab;
  EXPECT_THROW(m.generate(bad_prompt, with(1)), Error) << "a prompt id outside the vocabulary must be refused";
  // generate: lengths and ids; with no stop token to end on, exactly max_new_tokens.
  for (std::int32_t max_new : {0, 1, 3, std::int32_t(std::min<std::int64_t>(room, 16))}) {
    auto out = m.generate(prompt, with(max_new));
    EXPECT_LE(out.size(), std::size_t(max_new)) << "max_new_tokens " << max_new;
    if (options.stop_tokens.empty()) {
      EXPECT_EQ(out.size(), std::size_t(max_new)) << "no stop token was given, yet the generation ended early";
    }
    for (auto id : out) {
      EXPECT_TRUE(id >= 0 && id < vocab) << id;
      EXPECT_EQ(std::count(options.stop_tokens.begin(), options.stop_tokens.end(), id), 0) << "stop token " << id;
    }
  }
  GenerationOptions unstoppable = with(std::int32_t(std::min<std::int64_t>(room, 8)));
  unstoppable.stop_tokens.clear();
  const auto full = m.generate(prompt, unstoppable);
  EXPECT_EQ(full.size(), std::size_t(unstoppable.max_new_tokens))
      << "without stop tokens a generation has exactly max_new_tokens tokens (a model that generates nothing fails)";
  // Greedy: the first token is a most likely next token by the model's own token_logprobs
  // (every token of a vocabulary up to 1024, else a sample of them).
  if (unstoppable.temperature == 0.0 && !full.empty() && std::int64_t(prompt.size()) < window) {
    auto with_first = prompt;
    with_first.push_back(full[0]);
    const float chosen = m.token_logprobs(with_first, prompt.size()).at(0);
    const std::int32_t step = vocab <= 1024 ? 1 : vocab / 64 + 1;
    for (std::int32_t other = 0; other < vocab; other += step) {
      auto with_other = with_first;
      with_other.back() = other;
      const float lp = m.token_logprobs(with_other, prompt.size()).at(0);
      if (lp > chosen + 1e-3f) {
        ADD_FAILURE() << "greedy generation chose token " << full[0] << " (log p " << chosen << "), but token " << other
                      << " has a higher log-probability after the prompt (" << lp << ")";
        break;
      }
    }
  }
}

// For a real model: the next-token log-probabilities after `ids` over the whole vocabulary
// sum to 1 (a vocabulary of up to a few thousand tokens: one call per token).
inline void expect_next_token_distribution(LanguageModel& m, std::vector<std::int32_t> ids, double tolerance = 1e-4) {
  const std::int32_t vocab = m.tokenizer().vocab_size();
  ids.push_back(0);
  double mass = 0;
  for (std::int32_t v = 0; v < vocab; ++v) {
    ids.back() = v;
    mass += std::exp(double(m.token_logprobs(ids, ids.size() - 1).at(0)));
  }
  EXPECT_NEAR(mass, 1.0, tolerance) << "the next-token probabilities over the vocabulary of " << vocab;
}

}  // namespace e2llm::testing
