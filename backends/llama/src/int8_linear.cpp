#include "e2llm/llama/int8_linear.hpp"

#include "e2llm/error.hpp"

namespace e2llm::llama {

using torch::Tensor;

WeightStorage parse_weight_storage(const std::string& name, const std::string& field) {
  if (name == "float") return WeightStorage::Float;
  if (name == "int8") return WeightStorage::Int8;
  throw ConfigError(field, "unknown weight storage '" + name + "' (expected \"float\" or \"int8\")");
}

const char* weight_storage_name(WeightStorage storage) {
  return storage == WeightStorage::Int8 ? "int8" : "float";
}

Int8Linear Int8Linear::quantize(const Tensor& weight) {
  if (weight.dim() != 2 || weight.scalar_type() != torch::kFloat32 || !weight.device().is_cpu())
    throw Error("Int8Linear::quantize: needs a float32 CPU weight [N, K]");
  torch::NoGradGuard no_grad;
  Int8Linear out;
  const int64_t n = weight.size(0), k = weight.size(1), k16 = (k + 15) / 16 * 16;
  auto amax = weight.detach().abs().amax(1);
  out.scale_ = torch::where(amax > 0, amax / 127.0, torch::ones_like(amax)).contiguous();
  auto q = torch::round(weight.detach() / out.scale_.unsqueeze(1)).clamp(-127, 127).to(torch::kInt8);
  out.weight_ = torch::zeros({n, k16}, torch::kInt8);
  out.weight_.narrow(1, 0, k).copy_(q);
  out.unit_ = torch::ones({n}, torch::kBFloat16);
  out.integers_ = q.to(torch::kBFloat16).contiguous();  // -127 .. 127: exact in bfloat16
  out.in_features_ = k;
  out.source_version_ = static_cast<int64_t>(weight._version());
  return out;
}

Tensor Int8Linear::operator()(const Tensor& x) const {
  if (!defined()) throw Error("Int8Linear: not quantized");
  if (x.size(-1) != in_features_)
    throw Error("Int8Linear: input has " + std::to_string(x.size(-1)) + " features, expected " +
                std::to_string(in_features_));
  auto rows = x.reshape({-1, in_features_}).to(torch::kBFloat16);
  Tensor y;
  if (rows.size(0) >= kGemmRows) {
    // Many rows (a prefill): the same integers through the bfloat16 GEMM, which is several
    // times faster than the int8 kernel there and computes the same products.
    y = torch::linear(rows, integers_);
  } else {
    const int64_t k16 = weight_.size(1);
    if (k16 != in_features_) rows = torch::constant_pad_nd(rows, {0, k16 - in_features_});
    y = at::_weight_int8pack_mm(rows.contiguous(), weight_, unit_);
  }
  y = y.to(torch::kFloat32) * scale_;
  auto shape = x.sizes().vec();
  shape.back() = weight_.size(0);
  return y.view(shape);
}

Tensor Int8Linear::dequantized() const {
  if (!defined()) throw Error("Int8Linear: not quantized");
  return weight_.narrow(1, 0, in_features_).to(torch::kFloat32) * scale_.unsqueeze(1);
}

int64_t Int8Linear::bytes() const {
  return defined() ? weight_.numel() + integers_.numel() * 2 + scale_.numel() * static_cast<int64_t>(sizeof(float)) : 0;
}

}  // namespace e2llm::llama
