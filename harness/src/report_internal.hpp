// What the report's model builders share (report_model.cpp reads the run, report_views.cpp
// fills the task views).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "e2llm/harness/report.hpp"
#include "e2llm/taskkit/uncertainty.hpp"

namespace e2llm::harness {

// A checked cell file of the latest plan.
struct LoadedCell {
  nlohmann::json json;
  std::string file;            // relative to the run folder: "cells/<stem>.json"
  std::filesystem::path path;  // for error messages
  std::string backend() const { return json["backend"]["label"]; }
  std::string task() const { return json["task"]["label"]; }
  std::int64_t window() const { return json["window"]; }
  // The training seed of a seed axis, if the cell has one.
  std::optional<std::uint64_t> training_seed() const {
    auto it = json.find("training_seed");
    if (it == json.end() || !it->is_number_unsigned()) return std::nullopt;
    return it->get<std::uint64_t>();
  }
};

// The cells of one backend at one window: one, or one per training seed (ascending).
using SeedCells = std::vector<const LoadedCell*>;

// A cell's "uncertainty" object, parsed (docs/results-schema.md).
struct CellUncertainty {
  taskkit::ItemTable items;
  double level = 0.95;
  std::int64_t resamples = 2000;
  std::uint64_t seed = 0;
  nlohmann::json metrics;
};

// The report's statistics over cells (report_stats.cpp, docs/statistics.md): intervals of
// values shown (recorded, or recomputed at the run's level, or over seeds), and paired
// comparisons of two backends at a window or over the windows W > L.
class ReportStats {
 public:
  explicit ReportStats(const ReportSettings& settings) : settings_(settings) {}
  // The cell's parsed uncertainty; null when it recorded none. A malformed one is an Error
  // naming the file.
  const CellUncertainty* of(const LoadedCell& cell);
  // The metric's (or the grid row's) spec in a cell; nothing when it has none.
  std::optional<taskkit::MetricSpec> spec(const LoadedCell& cell, const std::string& metric, const std::string& row);
  // The interval of the shown value: one cell's recorded one (recomputed from its items when
  // the run asks for another level), or over seeds the bootstrap of their mean.
  std::optional<ValueInterval> interval(const SeedCells& cells, const std::string& metric, const std::string& row);
  // A against B at one window (the same items), per seed pairing.
  Comparison compare(const SeedCells& a, const SeedCells& b, const std::string& metric, const std::string& row,
                     bool higher_is_better, const std::string& with);
  // A against B over several windows, combined as the view's summary.
  Comparison compare_summary(const std::vector<SeedCells>& a, const std::vector<SeedCells>& b,
                             const std::string& metric, taskkit::Combine combine, bool higher_is_better,
                             const std::string& with);
  std::optional<ValueInterval> summary_interval(const std::vector<SeedCells>& windows, const std::string& metric,
                                                taskkit::Combine combine);
  // value(A at its window) / value(B at its window), paired over their common items.
  std::optional<ValueInterval> ratio_interval(const SeedCells& a, const SeedCells& b, const std::string& metric);
  const ReportSettings& settings() const { return settings_; }

 private:
  taskkit::BootstrapOptions options(const LoadedCell& cell, const std::string& stream) const;
  ReportSettings settings_;
  std::map<std::string, std::optional<CellUncertainty>> cache_;
};

std::optional<double> finite_number(const nlohmann::json& v);
// The index of `item` in `list`, appended when absent.
std::size_t index_of(std::vector<std::string>& list, const std::string& item);
std::size_t backend_row(const ReportModel& m, const std::string& label);
std::size_t window_col(const ReportModel& m, std::int64_t window);
std::vector<std::string> window_labels(const ReportModel& m);
ValueTable backends_x_windows(const ReportModel& m);

// One section per task label with the views its cells declare (or that
// options.views_of_plugin gives for cells that declare none), ordered by what leads: a
// charted curve, other curves, grids, dataset tables; ties in `task_order` (the sweep's),
// then in the cells' order.
std::vector<TaskSection> build_sections(const ReportModel& m, const std::vector<LoadedCell>& cells,
                                        const std::vector<std::string>& task_order);

// Every task's headline metric (the first of its metrics_info), backends x windows.
std::vector<GenericView> build_headline(const ReportModel& m, const std::vector<LoadedCell>& cells);

// The sentence that names a comparison's outcome: "better", "worse", "not separable", ...
std::string verdict_word(Verdict v);

}  // namespace e2llm::harness
