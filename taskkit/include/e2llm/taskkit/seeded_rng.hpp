// A small, portable seeded RNG for task protocols. std::uniform_int_distribution is
// implementation-defined (libstdc++ and libc++ give different numbers), so a passkey drawn
// with it would not be the same passkey everywhere; this one is fully specified.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace e2llm::taskkit {

// SplitMix64 (Steele, Lea, Flood 2014): one 64-bit state, full period, good mixing.
class SeededRng {
 public:
  explicit SeededRng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next_u64();
  // Uniform in [lo, hi] (inclusive) by rejection, so no value is favoured. Requires lo <= hi.
  std::int64_t uniform_int(std::int64_t lo, std::int64_t hi);

 private:
  std::uint64_t state_;
};

// A seed for one named unit of work derived from a base seed, e.g.
// derive_seed(seed, "passkey/w=4096/depth=0.25/trial=3"). Stable across platforms and
// independent of the order in which units are visited (the first 8 bytes of
// sha256("<seed>|<tag>"), big-endian).
std::uint64_t derive_seed(std::uint64_t base_seed, std::string_view tag);

}  // namespace e2llm::taskkit
