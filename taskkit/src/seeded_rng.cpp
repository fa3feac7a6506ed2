#include "e2llm/taskkit/seeded_rng.hpp"

#include "e2llm/error.hpp"
#include "e2llm/util/mix64.hpp"
#include "e2llm/util/sha256.hpp"

namespace e2llm::taskkit {

// splitmix64: a Weyl sequence (state advanced by the golden gamma) through the mixer.
std::uint64_t SeededRng::next_u64() {
  const std::uint64_t x = state_;
  state_ += util::kGoldenGamma;
  return util::mix64(x);
}

std::int64_t SeededRng::uniform_int(std::int64_t lo, std::int64_t hi) {
  if (lo > hi) throw Error("uniform_int: empty range");
  const std::uint64_t span = std::uint64_t(hi) - std::uint64_t(lo);  // hi - lo, may be 2^64 - 1
  if (span == ~0ull) return std::int64_t(next_u64());
  const std::uint64_t range = span + 1;
  // Reject the top partial bucket so every value has the same number of preimages.
  const std::uint64_t limit = ~0ull - (~0ull % range + 1) % range;
  std::uint64_t x;
  do x = next_u64();
  while (x > limit);
  return std::int64_t(std::uint64_t(lo) + x % range);
}

std::uint64_t derive_seed(std::uint64_t base_seed, std::string_view tag) {
  util::Sha256 h;
  h.update(std::to_string(base_seed));
  h.update("|");
  h.update(tag);
  auto d = h.digest();
  std::uint64_t seed = 0;
  for (int i = 0; i < 8; ++i) seed = (seed << 8) | d[std::size_t(i)];
  return seed;
}

}  // namespace e2llm::taskkit
