// What the report's model builders share (report_model.cpp reads the run, report_views.cpp
// fills the task views).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "e2llm/harness/report.hpp"

namespace e2llm::harness {

// A checked cell file of the latest plan.
struct LoadedCell {
  nlohmann::json json;
  std::string file;            // relative to the run folder: "cells/<stem>.json"
  std::filesystem::path path;  // for error messages
  std::string backend() const { return json["backend"]["label"]; }
  std::string task() const { return json["task"]["label"]; }
  std::int64_t window() const { return json["window"]; }
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

}  // namespace e2llm::harness
