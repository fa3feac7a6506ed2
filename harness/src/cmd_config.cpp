// e2llm config show FILE [--set k=v]... [--json]: the resolved configuration.
#include <fmt/core.h>

#include "e2llm/harness/app.hpp"
#include "e2llm/harness/config.hpp"

namespace e2llm::harness {
namespace {

void install(CLI::App& app, AppContext&) {
  auto* config = app.add_subcommand("config", "Inspect run configurations");
  config->require_subcommand(1);
  auto* show = config->add_subcommand("show", "Print the fully resolved config (file + --set overrides)");
  struct Args {
    std::string file;
    std::vector<std::string> overrides;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  show->add_option("FILE", args->file, "TOML config")->required();
  show->add_option("--set", args->overrides, "Override a key: a.b=value (repeatable)");
  show->add_flag("--json", args->json, "Print JSON instead of TOML");
  show->callback([args] {
    Config c = Config::load(args->file, args->overrides);
    validate_harness_keys(c);
    if (args->json)
      fmt::print("{}\n", c.json().dump(2));
    else
      fmt::print("{}", c.to_toml());
  });
}

const RegisterCommand registered(install);

}  // namespace
}  // namespace e2llm::harness
