// Dequantization of ggml's block-quantized tensor types (the formats of ggml-common.h),
// written to give the same floats as the gguf package's gguf.quants (float32 arithmetic in
// the same order), which the tests compare against bit for bit.
#pragma once

#include <cstdint>

#include "e2llm/formats/checkpoint.hpp"

namespace e2llm::formats {

// Writes `numel` floats (a whole number of blocks of `dtype`) from the packed blocks at `src`.
void dequantize(DType dtype, const unsigned char* src, float* dst, int64_t numel);

}  // namespace e2llm::formats
