// e2llm report RUN_DIR [--threshold X] [--reference L] [--base L] [--level P]:
// leaderboard.md, leaderboard.html, summary.json and the charts' SVG files.
#include <fmt/core.h>

#include "e2llm/error.hpp"
#include "e2llm/harness/app.hpp"
#include "e2llm/harness/report.hpp"

namespace e2llm::harness {
namespace {

// For cells written before cells recorded their task's views: the views the task plugin
// declares now. Without the plugin, such a task shows only its headline metric (said once).
std::vector<ReportView> views_from_plugin(AppContext& context, const std::string& plugin) {
  try {
    return context.registry().make_task(plugin)->info().views;
  } catch (const Error& e) {
    fmt::print(stderr,
               "e2llm report: note: cells of task plugin '{}' record no views and the plugin is not "
               "available ({}); only its headline metric is shown\n",
               plugin, e.what());
    return {};
  }
}

void install(CLI::App& app, AppContext& context) {
  struct Args {
    std::string run_dir;
    double threshold = -1;  // unset: each view's own threshold
    std::string reference, base;
    double level = 0;  // unset: the run's [report] level
  };
  auto a = std::make_shared<Args>();
  auto* cmd =
      app.add_subcommand("report", "Write leaderboard.md, leaderboard.html and summary.json from a run's cells");
  cmd->add_option("RUN_DIR", a->run_dir, "Run folder written by `e2llm sweep` (e.g. results/quickstart)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--threshold", a->threshold,
                  "The value (0..1 for percentages) a window must reach to pass, in every view that ranks "
                  "windows by a threshold (default: each task's own)")
      ->check(CLI::Range(0.0, 1e300));
  cmd->add_option("--reference", a->reference,
                  "Backend label the others are compared with (marks, paired tests); default: the config's "
                  "[report] reference, else its base");
  cmd->add_option("--base", a->base,
                  "Backend label that serves the base model (ratios to the base at W = L, relative thresholds); "
                  "default: the config's [report] base");
  cmd->add_option("--level", a->level, "Confidence level of intervals and tests (default: [report] level, else 0.95)")
      ->check(CLI::Range(0.5, 0.999999));
  cmd->callback([&context, a] {
    ReportOptions options;
    if (a->threshold >= 0) options.threshold = a->threshold;
    if (!a->reference.empty()) options.reference = a->reference;
    if (!a->base.empty()) options.base = a->base;
    if (a->level > 0) options.level = a->level;
    options.views_of_plugin = [&context](const std::string& plugin) { return views_from_plugin(context, plugin); };
    ReportModel model = build_report_model(a->run_dir, options);
    for (const auto& path : write_report(model)) fmt::print("wrote {}\n", path.string());
  });
}

const RegisterCommand registered(install);

}  // namespace
}  // namespace e2llm::harness
