#include "passkey_prompt.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "e2llm/error.hpp"
#include "e2llm/taskkit/lists.hpp"
#include "e2llm/taskkit/seeded_rng.hpp"

namespace e2llm::passkey {

namespace {
struct Split {
  std::size_t prefix, suffix;
};
// As the reference code: n_garbage_prefix = int(depth * n_garbage) (truncation).
Split split_filler(std::size_t total, double depth) {
  std::size_t prefix = std::size_t(std::floor(depth * double(total)));
  if (prefix > total) prefix = total;
  return {prefix, total - prefix};
}
}  // namespace

std::int64_t shortest_prompt_tokens(const taskkit::PromptFraming& framing) {
  std::size_t most = 0;
  for (std::int64_t key : {std::int64_t(1), std::int64_t(10000), std::int64_t(33333), kKeyMax})
    most = std::max(most, framing.ids(prompt_text(key, 0, 0)).size());
  return std::int64_t(most);
}

PasskeyPrompt build_prompt(const taskkit::PromptFraming& framing, std::int64_t key, double depth,
                           std::int64_t target_tokens) {
  if (!(depth >= 0.0 && depth <= 1.0)) throw Error(fmt::format("passkey: depth {} is not in [0, 1]", depth));
  const Tokenizer& tokenizer = framing.tokenizer();
  auto count = [&](std::size_t total) {
    Split s = split_filler(total, depth);
    return std::int64_t(framing.ids(prompt_text(key, s.prefix, s.suffix)).size());
  };
  const std::int64_t minimum = count(0);
  if (minimum > target_tokens)
    throw Error(
        fmt::format("passkey: the prompt needs at least {} tokens without filler; target_tokens {} is too "
                    "small (use a larger window or target_tokens)",
                    minimum, target_tokens));
  // Bracket the answer from the filler's characters per token, then bisect on characters.
  const std::string sample = filler_prefix(4096);
  const double chars_per_token =
      double(sample.size()) / double(std::max<std::size_t>(1, tokenizer.encode(sample).size()));
  std::size_t lo = 0;  // count(lo) <= target
  std::size_t hi = std::size_t(double(target_tokens - minimum) * chars_per_token * 1.25) + 64;
  while (count(hi) <= target_tokens) lo = hi, hi *= 2;
  while (hi - lo > 1) {
    std::size_t mid = lo + (hi - lo) / 2;
    (count(mid) <= target_tokens ? lo : hi) = mid;
  }

  PasskeyPrompt p;
  Split s = split_filler(lo, depth);
  p.key = key;
  p.depth = depth;
  p.prefix_chars = s.prefix;
  p.suffix_chars = s.suffix;
  p.text = prompt_text(key, s.prefix, s.suffix);
  p.ids = framing.ids(p.text);
  p.key_token = framing.tokens_before(p.text, p.text.find(key_line(key)));
  return p;
}

std::int64_t draw_key(std::uint64_t seed, std::int64_t window, double depth, std::int64_t trial) {
  std::string tag = fmt::format("passkey/window={}/depth={}/trial={}", window, taskkit::format_fraction(depth), trial);
  taskkit::SeededRng rng(taskkit::derive_seed(seed, tag));
  return rng.uniform_int(kKeyMin, kKeyMax);
}

std::optional<std::string> first_integer(const std::string& text) {
  std::size_t begin = text.find_first_of("0123456789");
  if (begin == std::string::npos) return std::nullopt;
  std::size_t end = text.find_first_not_of("0123456789", begin);
  return text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

bool is_correct(const std::string& output, std::int64_t key) {
  auto digits = first_integer(output);
  if (!digits) return false;
  std::size_t nonzero = digits->find_first_not_of('0');
  std::string value = nonzero == std::string::npos ? "0" : digits->substr(nonzero);
  return value == std::to_string(key);
}

}  // namespace e2llm::passkey
