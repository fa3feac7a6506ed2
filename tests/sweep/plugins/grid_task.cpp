// Test-only task with report views the harness has never heard of: a grid (hits by
// distance x window, one heatmap per backend) first, then a curve (hit rate per window,
// linear chart, threshold). Its `table` key is a path (a declared path key): a text file of
// "<row> <strength>" lines, read at configure(), so a relative path only works when the
// harness resolved it against the config's folder. Each row is asked `trials` times; trial
// i hits when (i + 0.5) / trials < strength * min(1, 1024 / W).
#include <fstream>
#include <sstream>

#include "e2llm/config_reader.hpp"
#include "e2llm/plugin.hpp"
#include "e2llm/task.hpp"

namespace {

std::vector<e2llm::ReportView> views() {
  e2llm::ReportView grid;
  grid.kind = e2llm::ViewKind::grid;
  grid.title = "Hits by distance";
  grid.metric = "hits_by_distance";
  grid.quantity = "hit rate";
  grid.note = "Hit rate per *distance* and window (`hits_by_distance`).";
  grid.format = e2llm::ValueFormat::percent;
  grid.row_label = "distance";
  e2llm::ReportView curve;
  curve.kind = e2llm::ViewKind::window_curve;
  curve.title = "Hit rate vs window";
  curve.metric = "hit_rate";
  curve.quantity = "hit rate";
  curve.format = e2llm::ValueFormat::percent;
  curve.chart = e2llm::ChartScale::linear;
  curve.summary = e2llm::WindowSummary::mean;
  curve.pass_threshold = 0.5;
  return {grid, curve};
}

class GridTask : public e2llm::Task {
 public:
  e2llm::TaskInfo info() const override {
    e2llm::TaskInfo info{"gridtask", "0.0.1", "test task with a grid view", {{"hit_rate", true}}};
    info.views = views();
    info.path_keys = {"table"};
    return info;
  }
  void configure(const nlohmann::json& section) override {
    e2llm::ConfigReader cfg(section);
    const auto table = cfg.require<std::string>("table");
    trials_ = cfg.get<int>("trials", 4);
    cfg.finish();
    if (trials_ < 1) throw e2llm::ConfigError("trials", "must be at least 1");
    std::ifstream in(table);
    if (!in) throw e2llm::ConfigError("table", "cannot read " + table);
    rows_.clear();
    std::string name;
    double strength = 0;
    for (std::string line; std::getline(in, line);)
      if (std::istringstream(line) >> name >> strength) rows_.emplace_back(name, strength);
    if (rows_.empty()) throw e2llm::ConfigError("table", table + " has no \"<row> <strength>\" line");
  }
  std::string fingerprint() const override {
    return "grid-" + std::to_string(trials_) + "-" + std::to_string(rows_.size());
  }
  std::optional<std::int64_t> planned_items(std::int64_t) const override {
    return std::int64_t(rows_.size()) * trials_;
  }
  e2llm::CellResult evaluate(e2llm::LanguageModel& model, e2llm::EvalContext& ctx) override {
    e2llm::CellResult result;
    const std::size_t total = rows_.size() * std::size_t(trials_);
    const double reach = std::min(1.0, 1024.0 / double(ctx.window));
    nlohmann::json by_row = nlohmann::json::object();
    int hits = 0;
    for (const auto& [row, strength] : rows_) {
      int row_hits = 0;
      for (int i = 0; i < trials_; ++i) {
        bool hit = (i + 0.5) / trials_ < strength * reach;
        row_hits += hit;
        result.samples.push_back({{"row", row}, {"trial", i}, {"hit", hit}, {"window", model.window()}});
        if (ctx.progress) ctx.progress->update(result.samples.size(), total, "trials");
      }
      by_row[row] = double(row_hits) / trials_;
      hits += row_hits;
    }
    result.metrics = {{"hit_rate", double(hits) / double(total)}, {"hits_by_distance", by_row}};
    result.tokens_processed = total;
    return result;
  }

 private:
  int trials_ = 4;
  std::vector<std::pair<std::string, double>> rows_;
};

}  // namespace

E2LLM_PLUGIN("task", "gridtask", "0.0.1", GridTask)
