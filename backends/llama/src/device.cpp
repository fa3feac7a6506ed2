// Device and precision names -> LibTorch, and what results record about the device.
#include <ATen/autocast_mode.h>

#include <fstream>
#include <string>

#include "e2llm/error.hpp"
#include "e2llm/llama/device_torch.hpp"
#include "e2llm/util/device_name.hpp"

#if defined(E2LLM_TORCH_CUDA)
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#endif

namespace e2llm::llama {
namespace {

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      auto v = line.substr(line.find(':') + 1);
      return v.substr(v.find_first_not_of(' '));
    }
  return "unknown CPU";
}

}  // namespace

void check_dtype_name(const std::string& dtype, const std::string& field) {
  if (dtype == "float32" || dtype == "bfloat16") return;
  throw ConfigError(field, "must be \"float32\" or \"bfloat16\", not \"" + dtype + "\"");
}

void check_precision_name(const std::string& precision, const std::string& field) {
  if (precision == "auto" || precision == "float32" || precision == "bf16-autocast") return;
  throw ConfigError(field, "must be \"auto\" (bf16 autocast on CUDA, float32 on CPU), \"float32\" or "
                           "\"bf16-autocast\", not \"" + precision + "\"");
}

std::string resolve_device_name(const std::string& name) {
  const util::DeviceName parsed = util::check_device_name(name, "device");
  if (parsed.kind == util::DeviceName::Kind::cpu) return "cpu";
  const bool have_cuda = torch::cuda::is_available();
  if (parsed.kind == util::DeviceName::Kind::automatic) {
    if (!have_cuda) return "cpu";
#if defined(E2LLM_TORCH_CUDA)
    return "cuda:" + std::to_string(static_cast<int>(c10::cuda::current_device()));
#else
    return "cuda:0";
#endif
  }
  int index = parsed.index;
  if (!have_cuda)
    throw Error("device \"" + name + "\" was asked for but no CUDA GPU is visible to LibTorch; use device = \"cpu\" or \"auto\"");
  const int count = static_cast<int>(torch::cuda::device_count());
  if (index < 0) {
#if defined(E2LLM_TORCH_CUDA)
    index = static_cast<int>(c10::cuda::current_device());
#else
    index = 0;
#endif
  }
  if (index >= count)
    throw Error("device \"" + name + "\": only " + std::to_string(count) + " CUDA device(s) visible (cuda:0 .. cuda:" +
                std::to_string(count - 1) + ")");
  return "cuda:" + std::to_string(index);
}

torch::Device to_torch_device(const std::string& name) { return torch::Device(resolve_device_name(name)); }

torch::Dtype to_torch_dtype(const std::string& name) {
  check_dtype_name(name, "dtype");
  return name == "bfloat16" ? torch::kBFloat16 : torch::kFloat32;
}

std::string effective_precision(const std::string& precision, const std::string& resolved_device) {
  check_precision_name(precision, "precision");
  if (precision == "auto") return util::is_cuda_device(resolved_device) ? "bf16-autocast" : "float32";
  return precision;
}

bool use_bf16_autocast(const std::string& precision, const torch::Device& device) {
  return effective_precision(precision, device.str()) == "bf16-autocast";
}

void make_current_device(const std::string& resolved) {
#if defined(E2LLM_TORCH_CUDA)
  if (util::is_cuda_device(resolved)) c10::cuda::set_device(torch::Device(resolved).index());
#endif
  (void)resolved;
}

nlohmann::json describe_device(const std::string& resolved) {
  nlohmann::json j = {{"device", resolved}, {"torch", TORCH_VERSION}};
  if (util::is_cuda_device(resolved)) {
#if defined(E2LLM_TORCH_CUDA)
    const auto index = torch::Device(resolved).index();
    const auto* props = at::cuda::getDeviceProperties(index < 0 ? 0 : index);
    j["device_name"] = props->name;
    j["device_memory_bytes"] = static_cast<long long>(props->totalGlobalMem);
    j["cuda_runtime"] = std::to_string(CUDART_VERSION / 1000) + "." + std::to_string(CUDART_VERSION % 1000 / 10);
#endif
  } else {
    j["device_name"] = cpu_model_name();
  }
  return j;
}

long long device_peak_bytes(const std::string& resolved) {
#if defined(E2LLM_TORCH_CUDA)
  if (util::is_cuda_device(resolved)) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(torch::Device(resolved).index());
    return stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak;
  }
#endif
  (void)resolved;
  return -1;
}

long long device_available_bytes(const std::string& resolved) {
#if defined(E2LLM_TORCH_CUDA)
  if (util::is_cuda_device(resolved)) {
    size_t free_bytes = 0, total_bytes = 0;
    c10::cuda::CUDAGuard guard(torch::Device(resolved).index());
    if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) return static_cast<long long>(free_bytes);
    return -1;
  }
#endif
  (void)resolved;
  std::ifstream in("/proc/meminfo");  // "MemAvailable:   12345678 kB"
  std::string key;
  long long kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit)
    if (key == "MemAvailable:") return kib * 1024;
  return -1;
}

void reset_device_peak(const std::string& resolved) {
#if defined(E2LLM_TORCH_CUDA)
  if (util::is_cuda_device(resolved)) c10::cuda::CUDACachingAllocator::resetPeakStats(torch::Device(resolved).index());
#endif
  (void)resolved;
}

AutocastGuard::AutocastGuard(const torch::Device& device, bool enabled) : type_(device.type()), enabled_(enabled) {
  if (!enabled_) return;
  was_enabled_ = at::autocast::is_autocast_enabled(type_);
  old_dtype_ = at::autocast::get_autocast_dtype(type_);
  at::autocast::set_autocast_dtype(type_, at::kBFloat16);
  at::autocast::set_autocast_enabled(type_, true);
}

AutocastGuard::~AutocastGuard() {
  if (!enabled_) return;
  at::autocast::set_autocast_enabled(type_, was_enabled_);
  at::autocast::set_autocast_dtype(type_, old_dtype_);
  at::autocast::clear_cache();
}

}  // namespace e2llm::llama
