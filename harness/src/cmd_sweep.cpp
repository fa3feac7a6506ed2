// e2llm sweep CONFIG [--set k=v]... [--dry-run] [--out DIR]: backends x tasks x windows.
#include <fmt/core.h>
#include <algorithm>

#include "e2llm/harness/app.hpp"
#include "e2llm/harness/config.hpp"
#include "e2llm/harness/sweep.hpp"

namespace e2llm::harness {
namespace {

void install(CLI::App& app, AppContext& context) {
  struct Args {
    std::string file, out, device;
    std::vector<std::string> overrides;
    bool dry_run = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("sweep", "Run backends x tasks x windows from a config; resumable, content-addressed cells");
  cmd->add_option("CONFIG", a->file, "Run config (TOML), e.g. configs/quickstart.toml")->required();
  cmd->add_option("--set", a->overrides, "Override a config key: a.b=value (repeatable)");
  cmd->add_flag("--dry-run", a->dry_run, "Print the plan (cells done/todo) and its estimated cost; write nothing");
  cmd->add_option("--out", a->out, "Run folder (default: [run] out, else results/<run name>)");
  cmd->add_option("--device", a->device, "auto | cpu | cuda | cuda:N for every backend (overrides [run] device)");
  cmd->callback([&context, a] {
    Config config = Config::load(a->file, a->overrides);
    // A value, not TOML text: parse_sweep_spec checks it as [run] device, errors naming --device.
    if (!a->device.empty()) config.set("run.device", a->device, "--device");
    SweepSpec spec = parse_sweep_spec(config, a->out.empty() ? std::nullopt : std::optional<std::filesystem::path>(a->out));
    auto& registry = context.registry(spec.plugin_paths);
    if (spec.original_window > 0 && *std::max_element(spec.windows.begin(), spec.windows.end()) <= spec.original_window)
      fmt::print(stderr,
                 "e2llm sweep: note: every window in [sweep] windows is <= L = {} ([base] window): no backend "
                 "extends the context; if the base was trained at a shorter window than that, set [base] window to "
                 "it\n",
                 spec.original_window);
    SweepOptions options;
    options.dry_run = a->dry_run;
    context.exit_code = run_sweep(spec, registry, options);
  });
}

const RegisterCommand registered(install);

}  // namespace
}  // namespace e2llm::harness
