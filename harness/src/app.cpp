#include "e2llm/harness/app.hpp"

namespace e2llm::harness {

std::vector<std::filesystem::path> plugin_search_path(const std::vector<std::string>& command_line,
                                                      const std::vector<std::filesystem::path>& config) {
  std::vector<std::filesystem::path> folders(command_line.begin(), command_line.end());
  for (auto& folder : PluginRegistry::default_folders(config)) folders.push_back(std::move(folder));
  return folders;
}

PluginRegistry& AppContext::registry(const std::vector<std::filesystem::path>& extra) {
  if (!registry_) registry_ = std::make_unique<PluginRegistry>(plugin_search_path(plugin_paths, extra));
  return *registry_;
}

std::vector<CommandInstaller>& command_installers() {
  static std::vector<CommandInstaller> installers;
  return installers;
}

}  // namespace e2llm::harness
