#include "kv_prompt.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "e2llm/error.hpp"
#include "e2llm/taskkit/lists.hpp"
#include "e2llm/taskkit/seeded_rng.hpp"

namespace e2llm::kv_retrieval {

PairStream::PairStream(std::uint64_t trial_seed, Shape shape) : rng_(trial_seed), shape_(shape) {
  for (int chars : {shape.key_chars, shape.value_chars})
    if (chars < kMinChars || chars > kMaxChars)
      throw Error(fmt::format("kv-retrieval: strings of {} characters (allowed {}..{})", chars, kMinChars, kMaxChars));
}

std::string PairStream::draw(int chars) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (;;) {
    std::string s;
    for (int i = 0; i < chars; ++i) s += kHex[rng_.uniform_int(0, 15)];
    auto taken = [&](const Pair& p) { return p.key == s || p.value == s; };
    if (std::none_of(pairs_.begin(), pairs_.end(), taken)) return s;
  }
}

const std::vector<Pair>& PairStream::first(std::size_t n) {
  while (pairs_.size() < n) {
    Pair p;
    p.key = draw(shape_.key_chars);
    // A value may not repeat the key it belongs to either.
    do p.value = draw(shape_.value_chars);
    while (p.value == p.key);
    pairs_.push_back(std::move(p));
  }
  return pairs_;
}

std::uint64_t trial_seed(std::uint64_t seed, std::int64_t window, double depth, std::int64_t trial) {
  return taskkit::derive_seed(
      seed, fmt::format("kv-retrieval/window={}/depth={}/trial={}", window, taskkit::format_fraction(depth), trial));
}

std::size_t asked_index(double depth, std::size_t n) {
  if (n == 0) throw Error("kv-retrieval: no pairs to ask about");
  return std::size_t(std::llround(depth * double(n - 1)));
}

std::string object_text(const std::vector<Pair>& pairs, std::size_t n) {
  std::string s = "{";
  for (std::size_t i = 0; i < n; ++i) s += (i ? ", \"" : "\"") + pairs[i].key + "\": \"" + pairs[i].value + "\"";
  return s + "}";
}

std::string prompt_text(const std::vector<Pair>& pairs, std::size_t n, std::size_t asked) {
  return std::string(kInstruction) + "\n\n" + kObjectLabel + "\n" + object_text(pairs, n) + "\n\n" + kKeyLabel + "\"" +
         pairs.at(asked).key + "\"\n" + kValueLabel;
}

std::int64_t shortest_prompt_tokens(const taskkit::PromptFraming& framing, Shape shape) {
  std::size_t most = 0;
  for (std::uint64_t seed = 0; seed < 4; ++seed) {
    PairStream stream(seed, shape);
    most = std::max(most, framing.ids(prompt_text(stream.first(1), 1, 0)).size());
  }
  return std::int64_t(most);
}

KvPrompt build_prompt(const taskkit::PromptFraming& framing, std::uint64_t seed, double depth,
                      std::int64_t target_tokens, Shape shape) {
  if (!(depth >= 0.0 && depth <= 1.0)) throw Error(fmt::format("kv-retrieval: depth {} is not in [0, 1]", depth));
  PairStream stream(seed, shape);
  auto count = [&](std::size_t n) {
    const auto& pairs = stream.first(n);
    return std::int64_t(framing.ids(prompt_text(pairs, n, asked_index(depth, n))).size());
  };
  if (count(1) > target_tokens)
    throw Error(
        fmt::format("kv-retrieval: a prompt with one pair needs {} tokens, more than the target of {} (raise "
                    "the window or lower max_new_tokens)",
                    count(1), target_tokens));
  // Exponential search, then bisection, keeping count(lo) <= target: the token count grows
  // with n (up to a token or two from the asked key), so lo ends at or near the largest fit.
  std::size_t lo = 1, hi = 2;
  while (count(hi) <= target_tokens) lo = hi, hi *= 2;
  while (hi - lo > 1) {
    const std::size_t mid = lo + (hi - lo) / 2;
    (count(mid) <= target_tokens ? lo : hi) = mid;
  }
  KvPrompt p;
  p.depth = depth;
  p.pairs.assign(stream.first(lo).begin(), stream.first(lo).begin() + std::ptrdiff_t(lo));
  p.asked = asked_index(depth, lo);
  p.text = prompt_text(p.pairs, lo, p.asked);
  p.ids = framing.ids(p.text);
  return p;
}

std::optional<std::string> first_run(const std::string& text) {
  auto alnum = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  auto begin = std::find_if(text.begin(), text.end(), alnum);
  if (begin == text.end()) return std::nullopt;
  std::string run(begin, std::find_if_not(begin, text.end(), alnum));
  for (char& c : run)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return run;
}

bool is_correct(const std::string& output, const std::string& value) {
  const auto run = first_run(output);
  return run && *run == value;
}

}  // namespace e2llm::kv_retrieval
