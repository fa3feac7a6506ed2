// Device names as configs and flags spell them: "auto" | "cpu" | "cuda" | "cuda:N" (auto: CUDA
// when a GPU is visible, else CPU). One parser, torch-free: the harness checks [run] device and
// --device with it before any work, and backends/llama resolves a checked name to a LibTorch
// device once (resolve_device_name in backends/llama/src/device.cpp).
#pragma once

#include <optional>
#include <string>

namespace e2llm::util {

struct DeviceName {
  enum class Kind { automatic, cpu, cuda };
  Kind kind = Kind::automatic;
  int index = -1;  // N of "cuda:N"; -1 for "cuda" (the current device) and the other kinds
};

// The name parsed, or nothing for a name outside the list (N: decimal digits, at most 4).
std::optional<DeviceName> parse_device_name(const std::string& name);

// parse_device_name or ConfigError(field, "must be \"auto\", \"cpu\", \"cuda\" or \"cuda:N\", ...").
DeviceName check_device_name(const std::string& name, const std::string& field = "device");

// Whether a name, as written or resolved ("cuda:0"), asks for CUDA.
bool is_cuda_device(const std::string& name);

}  // namespace e2llm::util
