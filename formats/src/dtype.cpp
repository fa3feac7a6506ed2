// The dtype table (checkpoint.hpp): names, ggml type numbers and block geometry.
#include <fmt/format.h>

#include <algorithm>

#include "e2llm/error.hpp"
#include "e2llm/formats/checkpoint.hpp"

namespace e2llm::formats {

const std::vector<DTypeInfo>& dtype_table() {
  // Block layouts (ggml-common.h): d/m are f16 scales; qs packed quants; qh high bits;
  // K-quants carry 256-element super-blocks with packed 6-bit (or 4-bit) sub-block scales.
  static const std::vector<DTypeInfo> table = {
      {DType::F32, "F32", 0, 1, 4},
      {DType::F16, "F16", 1, 1, 2},
      {DType::BF16, "BF16", 30, 1, 2},
      {DType::Q4_0, "Q4_0", 2, 32, 2 + 16},                   // d, 32 x 4-bit
      {DType::Q4_1, "Q4_1", 3, 32, 2 + 2 + 16},               // d, m, 32 x 4-bit
      {DType::Q5_0, "Q5_0", 6, 32, 2 + 4 + 16},               // d, 32 high bits, 32 x 4-bit
      {DType::Q5_1, "Q5_1", 7, 32, 2 + 2 + 4 + 16},           // d, m, high bits, 32 x 4-bit
      {DType::Q8_0, "Q8_0", 8, 32, 2 + 32},                   // d, 32 x int8
      {DType::Q2_K, "Q2_K", 10, 256, 16 + 64 + 2 + 2},        // scales, 256 x 2-bit, d, dmin
      {DType::Q3_K, "Q3_K", 11, 256, 32 + 64 + 12 + 2},       // hmask, 256 x 2-bit, scales, d
      {DType::Q4_K, "Q4_K", 12, 256, 2 + 2 + 12 + 128},       // d, dmin, scales, 256 x 4-bit
      {DType::Q5_K, "Q5_K", 13, 256, 2 + 2 + 12 + 32 + 128},  // d, dmin, scales, qh, qs
      {DType::Q6_K, "Q6_K", 14, 256, 128 + 64 + 16 + 2},      // ql, qh, int8 scales, d
  };
  return table;
}

const DTypeInfo& dtype_info(DType d) {
  const auto& t = dtype_table();
  auto it = std::find_if(t.begin(), t.end(), [d](const DTypeInfo& i) { return i.dtype == d; });
  return *it;  // every enumerator has a row
}

std::optional<DType> dtype_from_ggml(uint32_t ggml_type) {
  for (const auto& i : dtype_table())
    if (i.ggml_type == ggml_type) return i.dtype;
  return std::nullopt;
}

const char* dtype_name(DType d) {
  return dtype_info(d).name;
}

bool is_quantized(DType d) {
  return dtype_info(d).block > 1;
}

size_t dtype_bytes(DType d, const std::vector<int64_t>& shape) {
  const DTypeInfo& info = dtype_info(d);
  int64_t numel = 1;
  for (int64_t s : shape) numel *= s;
  const int64_t row = shape.empty() ? 1 : shape.back();
  if (row % info.block != 0)
    throw Error(fmt::format("a {} tensor's rows must be whole blocks of {} elements; this one has rows of {}",
                            info.name, info.block, row));
  return static_cast<size_t>(numel / info.block) * info.block_bytes;
}

}  // namespace e2llm::formats
