// Self-Extend (Jin et al. 2024, "LLM Maybe LongLM: Self-Extend LLM Context Window Without
// Tuning", arXiv 2401.01325; docs/methods.md §Self-Extend): training-free grouped attention.
// For a query at position p and a key at position k (token indices), d = p − k:
//   d <  w  (neighbour window): the usual score, q rotated by p and k by k;
//   d >= w: the grouped score, q rotated by floor(p/G) + w − floor(w/G) and k by floor(k/G),
//           so the relative position is floor(p/G) − floor(k/G) + w − floor(w/G) (>= w).
// Both kinds of score enter one softmax. G = 1 is plain attention. The positions here; the
// attention in backends/llama/src/attention.cpp (self_extend_attention). No LibTorch.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

namespace e2llm::llama {

struct SelfExtendOptions {
  int64_t group = 0;   // G; 0 or 1: plain attention
  int64_t window = 0;  // w, the neighbour window (tokens)

  bool enabled() const { return group > 1; }
  // w − floor(w/G): added to a query's grouped position so that the grouped distance of the
  // nearest grouped key (d = w) is w when G divides w.
  int64_t query_shift() const { return window - window / group; }
  // The largest relative position a query at index n − 1 sees over n tokens:
  // max(w − 1, floor((n − 1)/G) + w − floor(w/G)) for n > w, else n − 1.
  int64_t max_relative_position(int64_t n) const;
  bool operator==(const SelfExtendOptions& o) const { return group == o.group && window == o.window; }
  nlohmann::json to_json() const;
};

// The smallest G >= 1 whose grouped positions over n tokens stay below L (every relative
// position the model sees is one it was trained on): max_relative_position(n) <= L − 1.
// Throws e2llm::Error when w >= L (then even the neighbour positions leave the range).
int64_t smallest_group_for(int64_t n, int64_t window, int64_t original_window);

}  // namespace e2llm::llama
