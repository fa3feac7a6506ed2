#include "report_fixture.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "e2llm/harness/cell_store.hpp"
#include "e2llm/harness/view_json.hpp"
#include "e2llm/util/files.hpp"
#include "e2llm/util/sha256.hpp"

namespace report_fixture {
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using e2llm::ReportView;

// The views a sweep would copy into the cells, written the way a task declares them.
json views_of(const std::string& task_plugin) {
  std::vector<ReportView> views;
  if (task_plugin == "proofpile") {
    ReportView v;
    v.kind = e2llm::ViewKind::window_curve;
    v.title = "Perplexity vs window";
    v.metric = "ppl";
    v.higher_is_better = false;
    v.quantity = "perplexity";
    v.note = "Long-document perplexity (`ppl`, lower is better).";
    v.chart = e2llm::ChartScale::log;
    v.summary = e2llm::WindowSummary::geometric_mean;
    views.push_back(v);
  } else if (task_plugin == "passkey") {
    ReportView v;
    v.kind = e2llm::ViewKind::window_curve;
    v.title = "Passkey retrieval";
    v.metric = "accuracy";
    v.quantity = "accuracy";
    v.format = e2llm::ValueFormat::percent;
    v.summary = e2llm::WindowSummary::mean;
    v.pass_threshold = 0.9;
    v.threshold_key = "threshold";
    views.push_back(v);
    ReportView grid;
    grid.kind = e2llm::ViewKind::grid;
    grid.title = "Accuracy by depth";
    grid.metric = "accuracy_by_depth";
    grid.quantity = "accuracy";
    grid.format = e2llm::ValueFormat::percent;
    grid.row_label = "depth";
    views.push_back(grid);
  } else if (task_plugin == "longbench") {
    ReportView v;
    v.kind = e2llm::ViewKind::dataset_table;
    v.title = "LongBench";
    v.metric = "avg_en";
    v.quantity = "score";
    v.row_label = "dataset";
    v.row_order = {"narrativeqa", "qasper", "hotpotqa"};
    v.references = {
        {"Llama2-7B-chat-4k", "paper", "the paper", {{"qasper", 19.2, 1, ""}, {"avg_en", 24.02, 2, "a mean"}}},
        {"E2-LLM-16k", "paper", "the paper", {{"qasper", 34.7, 1, ""}, {"avg_en", 28.66, 2, "a mean"}}}};
    views.push_back(v);
  }
  return e2llm::harness::views_to_json(views);
}

}  // namespace

static std::string write_cell(const fs::path& dir, const std::string& backend, const std::string& task_plugin,
                              std::int64_t window, const json& metrics, const json& metrics_info) {
  std::string key = e2llm::util::sha256_hex(backend + "/" + task_plugin + "/" + std::to_string(window));
  json cell = {{"schema", e2llm::harness::kCellSchema},
               {"schema_version", e2llm::harness::kCellSchemaVersion},
               {"key", key},
               {"backend", {{"label", backend}, {"plugin", "pi"}, {"version", "1.0.0"}}},
               {"task",
                {{"label", task_plugin},
                 {"plugin", task_plugin},
                 {"version", "1.0.0"},
                 {"metrics_info", metrics_info},
                 {"views", views_of(task_plugin)}}},
               {"window", window},
               {"original_window", 512},
               {"window_ratio", double(window) / 512},
               {"served_scale", backend == "none" ? 1.0 : std::max(1.0, std::ceil(double(window) / 512))},
               {"metrics", metrics},
               {"tokens_per_s", 1000.0},
               {"peak_rss_bytes", 100 << 20},
               {"timing", {{"wall_s", 3.0}}},
               {"git_revision", "abc123"}};
  std::string name = key.substr(0, 16) + ".json";
  e2llm::util::write_file_atomic(dir / "cells" / name, cell.dump(2));
  return name;
}

std::string write_run(const fs::path& dir) {
  const std::string evil = "<script>alert(1)</script>";
  const std::vector<std::string> backends = {"none", "e2llm", evil};
  e2llm::util::write_file_atomic(
      dir / "sweep.json",
      json({{"name", "fixture"},
            {"original_window", 512},
            {"backends", {{{"label", "none"}}, {{"label", "e2llm"}}, {{"label", evil}}}},
            {"tasks", {{{"label", "proofpile"}}, {{"label", "passkey"}}, {{"label", "longbench"}}}}})
          .dump());
  json ppl_info = json::array({{{"name", "ppl"}, {"higher_is_better", false}}});
  json pk_info = json::array({{{"name", "accuracy"}, {"higher_is_better", true}}});
  json lb_info = json::array({{{"name", "avg_en"}, {"higher_is_better", true}}});
  std::string target;
  for (std::size_t b = 0; b < backends.size(); ++b) {
    for (std::int64_t w : {512, 1024, 2048}) {
      double ppl = b == 0 ? 6.0 * double(w) / 512 * double(w) / 512 : 6.5 + 0.75 * double(w) / 1024 + double(b);
      if (b == 1 && w == 1024) ppl = 7.25;
      std::string name = write_cell(dir, backends[b], "proofpile", w, {{"ppl", ppl}}, ppl_info);
      if (b == 1 && w == 1024) target = name;
      double acc = b == 0 && w > 512 ? 0.2 : 1.0;
      write_cell(dir, backends[b], "passkey", w,
                 {{"accuracy", acc}, {"accuracy_by_depth", {{"0.0", acc}, {"0.5", acc}, {"1.0", 1.0}}}}, pk_info);
    }
    write_cell(dir, backends[b], "longbench", 2048, {{"qasper", 12.5 + double(b)}, {"hotpotqa", 4.0}, {"avg_en", 8.25}},
               lb_info);
    e2llm::util::write_file_atomic(dir / "backends" / ("b" + std::to_string(b) + ".json"),
                                   json({{"label", backends[b]},
                                         {"plugin", "pi"},
                                         {"trains", b == 1},
                                         {"record", {{"checkpoint_hash", "h"}, {"trained_tokens", b == 1 ? 2500000 : 0},
                                                     {"train_wall_s", b == 1 ? 125.0 : 0.0}}},
                                         {"prepare_wall_s", 1.5}})
                                       .dump());
  }
  return target;
}

}  // namespace report_fixture
