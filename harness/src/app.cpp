#include "e2llm/harness/app.hpp"

namespace e2llm::harness {

PluginRegistry& AppContext::registry(const std::vector<std::filesystem::path>& extra) {
  if (!registry_) {
    std::vector<std::filesystem::path> folders(plugin_paths.begin(), plugin_paths.end());
    folders.insert(folders.end(), extra.begin(), extra.end());
    registry_ = std::make_unique<PluginRegistry>(PluginRegistry::default_folders(folders));
  }
  return *registry_;
}

std::vector<CommandInstaller>& command_installers() {
  static std::vector<CommandInstaller> installers;
  return installers;
}

}  // namespace e2llm::harness
