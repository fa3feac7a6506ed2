// What every subcommand shares: global options and a lazily created plugin registry.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "e2llm/harness/registry.hpp"

namespace e2llm::harness {

// Where plugins are searched, first match wins (README "Commands" says the same; a test
// checks): --plugin-path, $E2LLM_PLUGIN_PATH, the config's [plugins] path, then the plugin
// folder beside the executable (build/lib/e2llm/plugins/).
std::vector<std::filesystem::path> plugin_search_path(const std::vector<std::string>& command_line,
                                                      const std::vector<std::filesystem::path>& config);

struct AppContext {
  std::vector<std::string> plugin_paths;  // --plugin-path, repeatable
  int exit_code = 0;

  // Loads the plugins on first use from plugin_search_path(plugin_paths, extra); `extra`
  // are the config's [plugins] path folders.
  PluginRegistry& registry(const std::vector<std::filesystem::path>& extra = {});

 private:
  std::unique_ptr<PluginRegistry> registry_;
};

// Each subcommand lives in its own file and adds itself to the app.
using CommandInstaller = void (*)(CLI::App& app, AppContext& context);
std::vector<CommandInstaller>& command_installers();

struct RegisterCommand {
  explicit RegisterCommand(CommandInstaller installer) { command_installers().push_back(installer); }
};

}  // namespace e2llm::harness
