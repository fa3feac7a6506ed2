// The trainer's random stream: mix64(key), mix64(key + 1), ... — counter-based, so a draw
// depends only on its key (seed, domain, step or sample) and the same numbers come out on every
// platform. The position policy's draws (g, t, PoSE skips) and the retrieval mix's rows use it.
// The task kit's SeededRng is the tasks' own stream (a Weyl sequence, seeded by derive_seed);
// the two are kept apart because changing either would change what committed runs drew.
#pragma once

#include <cstdint>

#include "e2llm/util/mix64.hpp"

namespace e2llm::util {

class CounterStream {
 public:
  explicit CounterStream(std::uint64_t key) : state_(key) {}
  std::uint64_t next() { return mix64(state_++); }
  // Uniform on {0 .. n-1} by rejection (no modulo bias); 0 when n <= 1.
  std::uint64_t below(std::uint64_t n) {
    if (n <= 1) return 0;
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    std::uint64_t x;
    do x = next();
    while (x >= limit);
    return x % n;
  }
  // lo + next() mod (hi - lo + 1): biased by less than (hi - lo + 1) / 2^64, which is nothing
  // at the spans the retrieval mix draws; kept as its rows were drawn. Requires lo <= hi.
  std::int64_t modulo_uniform(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }

 private:
  std::uint64_t state_;
};

}  // namespace e2llm::util
