// Where a model runs and in which precision, from the strings configs and flags carry:
//   device = "auto" | "cpu" | "cuda" | "cuda:N"   (auto: CUDA when a GPU is visible, else CPU)
//   dtype  = "float32" | "bfloat16"               (evaluation weights and activations)
//   precision = "auto" | "float32" | "bf16-autocast"   (training; auto: bf16 autocast on CUDA,
//                                                        float32 on CPU, the bit-exact reference)
// This header is free of LibTorch (backend headers include it); device_torch.hpp resolves the
// names to torch::Device / torch::Dtype.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "e2llm/util/device_name.hpp"

namespace e2llm::llama {

// Throw e2llm::ConfigError(field, ...) for a name outside the lists above (device names: the
// torch-free parser of e2llm/util/device_name.hpp, shared with the harness).
using util::check_device_name;
void check_dtype_name(const std::string& dtype, const std::string& field = "dtype");
void check_precision_name(const std::string& precision, const std::string& field = "precision");

// What a result records about the machine: {"device": "cuda:0", "device_name": "NVIDIA H200",
// "torch": "2.11.0", "cuda_runtime": "13.0"} ("device_name" is the CPU model on CPU).
nlohmann::json describe_device(const std::string& resolved_device);

// The device `name` resolves to now ("auto" -> "cuda:0" or "cpu"; "cuda" -> "cuda:<current>").
// Throws e2llm::Error when CUDA is named but no GPU is visible, or the index is out of range.
std::string resolve_device_name(const std::string& name);

// The training precision a name means on a resolved device: "bf16-autocast" or "float32"
// ("auto": autocast on CUDA, float32 on CPU). Throws ConfigError for an unknown name.
std::string effective_precision(const std::string& precision, const std::string& resolved_device);

// Makes `resolved_device` the current CUDA device of this process (no-op for "cpu").
void make_current_device(const std::string& resolved_device);

// Peak memory of the device since the last reset, in bytes: the CUDA caching allocator's peak
// for a GPU; -1 on the CPU (measure RSS there).
long long device_peak_bytes(const std::string& resolved_device);
void reset_device_peak(const std::string& resolved_device);
// Memory free for new allocations, in bytes: the GPU's free memory (cudaMemGetInfo) or the
// machine's MemAvailable (/proc/meminfo) on the CPU; -1 when unknown.
long long device_available_bytes(const std::string& resolved_device);

}  // namespace e2llm::llama
