// PLACEHOLDER (being written on this branch): the kernels of ggml_quants.hpp.
#include "ggml_quants.hpp"

#include <fmt/format.h>

#include "e2llm/error.hpp"

namespace e2llm::formats {

void dequantize(DType dtype, const unsigned char*, float*, int64_t) {
  throw Error(fmt::format("dequantization of {} is not written yet", dtype_name(dtype)));
}

}  // namespace e2llm::formats
