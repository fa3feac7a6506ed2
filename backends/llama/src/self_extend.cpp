#include "e2llm/llama/self_extend.hpp"

#include <algorithm>
#include <string>

#include "e2llm/error.hpp"

namespace e2llm::llama {

int64_t SelfExtendOptions::max_relative_position(int64_t n) const {
  if (!enabled() || n <= window) return n - 1;
  return std::max(window - 1, (n - 1) / group + query_shift());
}

nlohmann::json SelfExtendOptions::to_json() const {
  return {{"group", group}, {"neighbor_window", window}};
}

int64_t smallest_group_for(int64_t n, int64_t window, int64_t L) {
  if (window < 1 || window >= L)
    throw Error("self-extend: the neighbour window w = " + std::to_string(window) +
                " must be in [1, L = " + std::to_string(L) + ")");
  for (int64_t g = 1;; ++g) {
    const SelfExtendOptions o{g, window};
    if (o.max_relative_position(n) <= L - 1) return g;
  }
}

}  // namespace e2llm::llama
