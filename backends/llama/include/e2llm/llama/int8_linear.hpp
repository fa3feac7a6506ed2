// Weight-only int8 linear layers for inference on the CPU: each output row of a float32
// weight is stored as int8 with one float32 scale (symmetric, per output channel). The
// product takes the activations rounded to bfloat16, multiplies them by the integers with
// float accumulation, rounds the result to bfloat16 and scales it by the float32 scales: up to
// kGemmRows - 1 rows (decoding) in ATen's int8-weight kernel (at::_weight_int8pack_mm, which
// reads one byte per weight), from kGemmRows rows on (a prefill) in the bfloat16 GEMM on the
// same integers held as bfloat16 (exact: |q| <= 127), which is several times faster there.
// Accuracy and speed against float32: docs/throughput.md, "Weight-only int8".
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace e2llm::llama {

// How a model stores its projection weights for inference: as its dtype (Float) or as
// per-channel int8 (Int8: CPU and float32 models only; training always uses the float copy).
enum class WeightStorage { Float, Int8 };
// "float" | "int8"; throws e2llm::ConfigError(field, ...) for another name.
WeightStorage parse_weight_storage(const std::string& name, const std::string& field = "weights");
const char* weight_storage_name(WeightStorage storage);

class Int8Linear {
 public:
  Int8Linear() = default;
  // Quantizes `weight` [N, K] (float32, CPU): scale_n = max_k |w_nk| / 127 (1 for a zero row),
  // q_nk = round(w_nk / scale_n) in [-127, 127]. K is padded with zero columns to a multiple
  // of 16, which the kernel needs (other K crash it or give NaN).
  static Int8Linear quantize(const torch::Tensor& weight);

  bool defined() const { return weight_.defined(); }
  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return defined() ? weight_.size(0) : 0; }
  // Rows from which operator() takes the bfloat16 GEMM: above any decoding batch (at most 16
  // sequences by default), so batched and one-at-a-time decoding take the same kernel (a
  // batch_size set to 64 or more decodes those steps in the GEMM).
  static constexpr int64_t kGemmRows = 64;
  // x [..., K] float32 -> [..., N] float32: x rounded to bfloat16, multiplied by the int8
  // rows with float accumulation, the bfloat16 result scaled by the float32 scales.
  torch::Tensor operator()(const torch::Tensor& x) const;
  // The float32 weight this layer multiplies by (q * scale, unpadded): the reference.
  torch::Tensor dequantized() const;
  // Bytes of the int8 rows, their bfloat16 twin and the scales.
  int64_t bytes() const;
  // weight._version() when it was quantized (in-place changes since make this copy stale).
  int64_t source_version() const { return source_version_; }

 private:
  torch::Tensor weight_;    // int8 [N, K16]
  torch::Tensor scale_;     // float32 [N]
  torch::Tensor unit_;      // bfloat16 ones [N]: the kernel's own scales (the float32 ones apply after)
  torch::Tensor integers_;  // bfloat16 [N, K]: the same integers, for kGemmRows rows and more
  int64_t in_features_ = 0;
  int64_t source_version_ = -1;
};

}  // namespace e2llm::llama
