// e2llm report RUN_DIR [--passkey-threshold X]: leaderboard.md, leaderboard.html, summary.json.
#include <fmt/core.h>

#include "e2llm/harness/app.hpp"
#include "e2llm/harness/report.hpp"

namespace e2llm::harness {
namespace {

void install(CLI::App& app, AppContext& context) {
  struct Args {
    std::string run_dir;
    double threshold = -1;  // unset: the task's own threshold
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("report", "Write leaderboard.md, leaderboard.html and summary.json from a run's cells");
  cmd->add_option("RUN_DIR", a->run_dir, "Run folder written by `e2llm sweep` (e.g. results/quickstart)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--passkey-threshold", a->threshold,
                  "Passkey accuracy (0..1) a window must reach to pass (default: the task's threshold, else 0.9)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->callback([&context, a] {
    (void)context;
    ReportOptions options;
    if (a->threshold >= 0) options.passkey_threshold = a->threshold;
    ReportModel model = build_report_model(a->run_dir, options);
    for (const auto& path : write_report(model)) fmt::print("wrote {}\n", path.string());
  });
}

const RegisterCommand registered(install);

}  // namespace
}  // namespace e2llm::harness
