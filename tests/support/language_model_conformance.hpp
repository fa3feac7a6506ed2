// The LanguageModel contract (docs/adding-a-plugin.md, "The LanguageModel contract") as a
// GoogleTest check, run against the LibTorch model and every test double that stands in for
// it, so a double is never laxer than the real thing:
//
//   token_logprobs(ids, score_from): e2llm::Error when score_from < 1, ids.size() > window()
//     or an id outside [0, vocab_size()); else exactly ids.size() - score_from values (none
//     when score_from >= ids.size()), each finite and <= 0.
//   generate(prompt, options): e2llm::Error when the prompt is empty, an id is outside the
//     vocabulary, max_new_tokens < 0 or prompt.size() + max_new_tokens > window(); else at
//     most max_new_tokens ids, each in the vocabulary and none a stop token.
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
  // generate: lengths and ids.
  for (std::int32_t max_new : {0, 1, 3, std::int32_t(std::min<std::int64_t>(room, 16))}) {
    auto out = m.generate(prompt, with(max_new));
    EXPECT_LE(out.size(), std::size_t(max_new)) << "max_new_tokens " << max_new;
    for (auto id : out) {
      EXPECT_TRUE(id >= 0 && id < vocab) << id;
      EXPECT_EQ(std::count(options.stop_tokens.begin(), options.stop_tokens.end(), id), 0) << "stop token " << id;
    }
  }
}

}  // namespace e2llm::testing
