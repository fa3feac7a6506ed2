// The one 64-bit mixer of the project: splitmix64's finalizer applied to x + 2^64/φ. Every
// counter-based random stream (the task kit's SeededRng, the trainer's position draws, data
// order and retrieval rows) is built on it, so that the same seed gives the same numbers on
// every platform and standard library (std:: distributions are implementation-defined).
#pragma once

#include <cstdint>

namespace e2llm::util {

inline constexpr std::uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ull;

constexpr std::uint64_t mix64(std::uint64_t x) {
  x += kGoldenGamma;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace e2llm::util
