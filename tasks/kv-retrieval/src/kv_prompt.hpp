// The key-value retrieval prompt (docs/protocols.md §Key-value retrieval; the probe of the
// E²-LLM paper's §5.5, after LongChat's and "Lost in the Middle"'s key-value tasks):
//
//   <instruction>\n\nJSON object:\n{"k_1": "v_1", "k_2": "v_2", ..., "k_n": "v_n"}\n\nKey: "k_a"\nValue:
//
// Keys and values are random lowercase hex strings (6 and 8 characters by default), all
// distinct; n is the largest count whose prompt fits the target token count, and the asked
// pair a = round(depth * (n - 1)) sits at the requested depth of the object.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "e2llm/taskkit/prompt_framing.hpp"
#include "e2llm/taskkit/seeded_rng.hpp"

namespace e2llm::kv_retrieval {

inline constexpr const char* kInstruction = "Find the value of the key asked for in this JSON object.";
inline constexpr const char* kObjectLabel = "JSON object:";
inline constexpr const char* kKeyLabel = "Key: ";
inline constexpr const char* kValueLabel = "Value:";
inline constexpr int kMinChars = 4, kMaxChars = 32;

struct Pair {
  std::string key, value;
};

// The lengths of the random strings.
struct Shape {
  int key_chars = 6;
  int value_chars = 8;
};

// The pairs of one trial, drawn in order from one seeded stream: every key and value is a
// fresh lowercase hex string no earlier key or value equals (a repeat is drawn again), so the
// first n pairs are the same whatever count is drawn later.
class PairStream {
 public:
  PairStream(std::uint64_t trial_seed, Shape shape);
  // The first n pairs (drawing more as needed).
  const std::vector<Pair>& first(std::size_t n);

 private:
  std::string draw(int chars);
  taskkit::SeededRng rng_;
  Shape shape_;
  std::vector<Pair> pairs_;
};

// The seed of one trial: derive_seed(seed, "kv-retrieval/window=W/depth=D/trial=T"), a
// sha256-derived stream of the task kit, independent of the order trials run in.
std::uint64_t trial_seed(std::uint64_t seed, std::int64_t window, double depth, std::int64_t trial);

// Index of the asked pair among n: round(depth * (n - 1)).
std::size_t asked_index(double depth, std::size_t n);

// `{"k": "v", ...}` for the first n pairs, on one line.
std::string object_text(const std::vector<Pair>& pairs, std::size_t n);

// The whole prompt for the first n pairs, asking for pair `asked`.
std::string prompt_text(const std::vector<Pair>& pairs, std::size_t n, std::size_t asked);

struct KvPrompt {
  std::string text;
  std::vector<std::int32_t> ids;  // framing.ids(text): BOS and the chat template as configured
  std::vector<Pair> pairs;        // the n pairs in the object, in order
  std::size_t asked = 0;          // index of the asked pair
  double depth = 0.0;             // requested
};

// The prompt with the most pairs whose framed ids (BOS and the chat template's tokens
// included) number at most `target_tokens`. Throws e2llm::Error naming both numbers when not
// even one pair fits.
KvPrompt build_prompt(const taskkit::PromptFraming& framing, std::uint64_t trial_seed, double depth,
                      std::int64_t target_tokens, Shape shape = {});

// The most ids a one-pair prompt takes over a few trial seeds: below it no window's prompt fits
// (the sweep checks it before work; build_prompt still refuses a drawn pair that needs more).
std::int64_t shortest_prompt_tokens(const taskkit::PromptFraming& framing, Shape shape);

// The first run of ASCII letters and digits in `text`, lowercased (" \"7B20e4d5\"," ->
// "7b20e4d5"); nothing when there is none.
std::optional<std::string> first_run(const std::string& text);

// Whether first_run(output) equals `value` exactly.
bool is_correct(const std::string& output, const std::string& value);

}  // namespace e2llm::kv_retrieval
