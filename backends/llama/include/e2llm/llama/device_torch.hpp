// The LibTorch side of device.hpp: names to torch::Device / torch::Dtype.
#pragma once

#include <torch/torch.h>

#include <string>

#include "e2llm/llama/device.hpp"

namespace e2llm::llama {

torch::Device to_torch_device(const std::string& name);  // resolves "auto" / "cuda" first
torch::Dtype to_torch_dtype(const std::string& name);     // "float32" | "bfloat16"
// Training precision on `device`: true = bf16 autocast (fp32 master weights and optimizer
// state); false = float32 throughout. "auto" = autocast on CUDA, float32 on CPU.
bool use_bf16_autocast(const std::string& precision, const torch::Device& device);

// Autocast to bf16 on `device` for the lifetime of the guard (no-op when !enabled). Restores
// the previous state and clears the autocast weight cache on exit.
class AutocastGuard {
 public:
  AutocastGuard(const torch::Device& device, bool enabled);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  c10::DeviceType type_;
  bool enabled_, was_enabled_ = false;
  at::ScalarType old_dtype_ = at::kBFloat16;
};

}  // namespace e2llm::llama
