#include "e2llm/util/device_name.hpp"

#include "e2llm/error.hpp"

namespace e2llm::util {

std::optional<DeviceName> parse_device_name(const std::string& name) {
  if (name == "auto") return DeviceName{DeviceName::Kind::automatic, -1};
  if (name == "cpu") return DeviceName{DeviceName::Kind::cpu, -1};
  if (name == "cuda") return DeviceName{DeviceName::Kind::cuda, -1};
  const std::string prefix = "cuda:";
  if (name.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string digits = name.substr(prefix.size());
  if (digits.empty() || digits.size() > 4 || digits.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return DeviceName{DeviceName::Kind::cuda, std::stoi(digits)};
}

DeviceName check_device_name(const std::string& name, const std::string& field) {
  if (auto parsed = parse_device_name(name)) return *parsed;
  throw ConfigError(field, "must be \"auto\", \"cpu\", \"cuda\" or \"cuda:N\", not \"" + name + "\"");
}

bool is_cuda_device(const std::string& name) {
  const auto parsed = parse_device_name(name);
  return parsed && parsed->kind == DeviceName::Kind::cuda;
}

}  // namespace e2llm::util
