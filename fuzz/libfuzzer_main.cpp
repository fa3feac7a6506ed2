// The libFuzzer entry point for every target (the fuzz build links -fsanitize=fuzzer).
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  e2llm::fuzz::one_input(data, size);
  return 0;
}
