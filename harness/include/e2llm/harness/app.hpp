// What every subcommand shares: global options and a lazily created plugin registry.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "e2llm/harness/registry.hpp"

namespace e2llm::harness {

struct AppContext {
  std::vector<std::string> plugin_paths;  // --plugin-path (before $E2LLM_PLUGIN_PATH? no: after it)
  int exit_code = 0;

  // Loads the plugins on first use; `extra` folders (from a config) are searched too.
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
