// e2llm plugins [--json]: what the registry found.
#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "e2llm/harness/app.hpp"

namespace e2llm::harness {
namespace {

void install(CLI::App& app, AppContext& context) {
  auto* cmd = app.add_subcommand("plugins", "List the plugins found (name, kind, version, path)");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print JSON for machines");
  cmd->callback([&context, json] {
    auto& registry = context.registry();
    if (*json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& r : registry.plugins())
        out.push_back({{"name", r.name}, {"kind", r.kind}, {"version", r.version}, {"path", r.path.string()}});
      fmt::print("{}\n", out.dump(2));
      return;
    }
    if (registry.plugins().empty()) {
      fmt::print("no plugins found; searched:\n");
      for (const auto& f : registry.folders()) fmt::print("  {}\n", f.string());
      return;
    }
    fmt::print("{:<16} {:<10} {:<8} {}\n", "NAME", "KIND", "VERSION", "PATH");
    for (const auto& r : registry.plugins())
      fmt::print("{:<16} {:<10} {:<8} {}\n", r.name, r.kind, r.version, r.path.string());
  });
}

const RegisterCommand registered(install);

}  // namespace
}  // namespace e2llm::harness
