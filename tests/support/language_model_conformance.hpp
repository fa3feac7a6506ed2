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
//   generate_batch(requests, done): e2llm::Error naming the request ("request i") when any
//     request breaks generate()'s rules, before generating anything (done is never called);
//     else results[i] == generate(requests[i]...) and done(i, results[i]) exactly once each.
//   batch_size() >= 1.
//
// `prompt` is a prompt the model under test can answer (a test double may expect one);
// `options` carries what the double expects (stop tokens, temperature).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
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

inline void expect_generate_batch_contract(LanguageModel& m, const std::vector<std::int32_t>& prompt,
                                           const GenerationOptions& options, std::int64_t room) {
  EXPECT_GE(m.batch_size(), 1);
  std::vector<GenerationRequest> requests;
  for (std::int64_t max_new : {std::int64_t(3), std::int64_t(0), std::min<std::int64_t>(room, 16), std::int64_t(1)}) {
    GenerationRequest r{prompt, options};
    r.options.max_new_tokens = std::int32_t(max_new);
    r.options.seed = std::uint64_t(requests.size());
    requests.push_back(r);
  }
  std::vector<int> seen(requests.size(), 0);
  std::vector<std::vector<std::int32_t>> delivered(requests.size());
  auto results = m.generate_batch(requests, [&](std::size_t i, const std::vector<std::int32_t>& tokens) {
    ASSERT_LT(i, requests.size());
    ++seen[i];
    delivered[i] = tokens;
  });
  ASSERT_EQ(results.size(), requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(seen[i], 1) << "done() must see request " << i << " exactly once";
    EXPECT_EQ(delivered[i], results[i]) << "request " << i;
    EXPECT_EQ(results[i], m.generate(requests[i].prompt, requests[i].options))
        << "request " << i << " must equal generate() of the same prompt and options";
  }
  EXPECT_TRUE(m.generate_batch({}, {}).empty());
  // A bad request anywhere is refused, naming it, before anything is generated.
  const std::int32_t vocab = m.tokenizer().vocab_size();
  std::vector<std::pair<std::size_t, std::function<void(GenerationRequest&)>>> breakers = {
      {1, [](GenerationRequest& r) { r.options.max_new_tokens = -1; }},
      {2, [](GenerationRequest& r) { r.prompt.clear(); }},
      {3, [&](GenerationRequest& r) { r.prompt.back() = vocab; }},
      {3, [&](GenerationRequest& r) { r.options.max_new_tokens = std::int32_t(room + 1); }}};
  for (const auto& [index, breaker] : breakers) {
    auto bad = requests;
    breaker(bad[index]);
    int calls = 0;
    try {
      m.generate_batch(bad, [&](std::size_t, const std::vector<std::int32_t>&) { ++calls; });
      ADD_FAILURE() << "a bad request " << index << " must be refused";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("request " + std::to_string(index)), std::string::npos) << e.what();
    }
    EXPECT_EQ(calls, 0) << "nothing may be generated before every request is checked";
  }
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
  expect_generate_batch_contract(m, prompt, options, room);
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
