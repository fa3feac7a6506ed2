// Reads a run folder into the ReportModel every printer uses: the sweep's order, the cells
// of its latest plan, the headline table, the training cost; the task views are filled by
// report_views.cpp.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <regex>
#include <set>

#include "e2llm/error.hpp"
#include "e2llm/formats/window_rule.hpp"
#include "e2llm/harness/cell_store.hpp"
#include "e2llm/harness/report.hpp"
#include "e2llm/util/files.hpp"
#include "report_internal.hpp"

namespace e2llm::harness {
namespace fs = std::filesystem;
using nlohmann::json;

std::optional<double> finite_number(const json& v) {
  if (v.is_number()) {
    double d = v.get<double>();
    if (std::isfinite(d)) return d;
  }
  return std::nullopt;
}

std::size_t index_of(std::vector<std::string>& list, const std::string& item) {
  auto it = std::find(list.begin(), list.end(), item);
  if (it != list.end()) return std::size_t(it - list.begin());
  list.push_back(item);
  return list.size() - 1;
}

std::optional<double> model_served_scale(const nlohmann::json& model) {
  if (!model.is_object() || !model.contains("rope") || !model["rope"].is_object()) return std::nullopt;
  try {
    return formats::served_scale(formats::RopeConfig::from_json(model["rope"]));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

namespace {

json parse_file(const fs::path& path, const std::string& what) {
  try {
    return json::parse(util::read_file(path));
  } catch (const json::exception& e) {
    std::string msg = e.what();
    auto cut = msg.find("parse error");
    throw Error(path.string() + ": corrupt " + what + " (" + (cut == std::string::npos ? msg : msg.substr(cut)) +
                "); delete it and rerun `e2llm sweep` to recompute it");
  }
}

// Checks what the report relies on, so a hand-edited or foreign file fails with its name.
void check_cell(const json& cell, const fs::path& path) {
  auto fail = [&](const std::string& why) {
    throw Error(path.string() + ": not a valid e2llm cell (" + why +
                "); delete it and rerun `e2llm sweep` to recompute it");
  };
  if (!cell.is_object()) fail("not a JSON object");
  if (cell.value("schema", "") != kCellSchema) fail("\"schema\" is not \"" + std::string(kCellSchema) + "\"");
  if (!cell.contains("schema_version") || !cell["schema_version"].is_number_integer())
    fail("no integer \"schema_version\"");
  if (cell["schema_version"].get<int>() > kCellSchemaVersion)
    fail("schema_version " + cell["schema_version"].dump() + " is newer than this e2llm reads (" +
         std::to_string(kCellSchemaVersion) + "); update e2llm");
  if (!cell.contains("key") || !cell["key"].is_string()) fail("no \"key\"");
  for (const char* part : {"backend", "task"}) {
    if (!cell.contains(part) || !cell[part].is_object() || !cell[part].contains("label") ||
        !cell[part]["label"].is_string())
      fail(std::string("no \"") + part + ".label\"");
  }
  if (!cell["task"].contains("plugin") || !cell["task"]["plugin"].is_string()) fail("no \"task.plugin\"");
  if (!cell.contains("window") || !cell["window"].is_number_integer()) fail("no integer \"window\"");
  if (!cell.contains("metrics") || !cell["metrics"].is_object()) fail("no \"metrics\" object");
}

// What sweep.json says about the run, when it is there.
struct SweepFacts {
  nlohmann::json report = nlohmann::json::object();  // the config's [report] table
  std::vector<std::string> backend_order, task_order;
  std::optional<std::set<std::string>> planned;  // the latest plan's cell stems, when recorded
  bool planned_pretrain = false;                 // ... and whether its base was pretrained
};

std::vector<std::string> labels_of(const json& sweep, const char* key) {
  std::vector<std::string> out;
  if (sweep.contains(key) && sweep[key].is_array())
    for (const auto& item : sweep[key])
      if (item.is_object() && item.contains("label") && item["label"].is_string()) out.push_back(item["label"]);
  return out;
}

SweepFacts read_sweep(const fs::path& run_dir, ReportModel& m) {
  SweepFacts facts;
  std::error_code ec;
  if (!fs::is_regular_file(run_dir / "sweep.json", ec)) return facts;
  json sweep = parse_file(run_dir / "sweep.json", "sweep.json");
  m.run_name = sweep.value("name", m.run_name);
  m.original_window = sweep.value("original_window", std::int64_t(0));
  facts.backend_order = labels_of(sweep, "backends");
  facts.task_order = labels_of(sweep, "tasks");
  if (sweep.contains("config") && sweep["config"].is_object() && sweep["config"].contains("report"))
    facts.report = sweep["config"]["report"];
  if (sweep.contains("seeds") && sweep["seeds"].is_array())
    for (const auto& s : sweep["seeds"])
      if (s.is_number_unsigned()) m.seeds.push_back(s.get<std::uint64_t>());
  if (sweep.contains("cells") && sweep["cells"].is_array()) {
    facts.planned.emplace();
    const json& cfg = sweep.value("config", json::object());
    facts.planned_pretrain = cfg.is_object() && cfg.contains("base") && cfg["base"].is_object() &&
                             cfg["base"].value("source", std::string()) == "pretrain";
    for (const auto& k : sweep["cells"])
      if (k.is_string()) facts.planned->insert(k.get<std::string>().substr(0, 16));  // cell files are named by it
  }
  return facts;
}

// The cells of the latest plan, checked, in a stable order: backend (sweep order), task, window.
std::vector<LoadedCell> read_cells(const fs::path& run_dir, const SweepFacts& facts, ReportModel& m) {
  static const std::regex cell_name("[0-9a-f]{16}\\.json");
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(run_dir / "cells", ec))
    if (std::regex_match(entry.path().filename().string(), cell_name)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());

  std::vector<LoadedCell> cells;
  std::set<std::int64_t> windows;
  std::set<std::string> revisions, config_hashes;
  std::set<std::uint64_t> eval_seeds;
  m.backends = facts.backend_order;
  for (const auto& path : files) {
    if (facts.planned && !facts.planned->count(path.stem().string())) {
      ++m.cells_not_in_plan;  // from an earlier sweep with another config: a cache, not this run
      continue;
    }
    json cell = parse_file(path, "cell file");
    check_cell(cell, path);
    index_of(m.backends, cell["backend"]["label"]);
    windows.insert(cell["window"].get<std::int64_t>());
    if (!m.original_window && cell.contains("original_window") && cell["original_window"].is_number_integer())
      m.original_window = cell["original_window"];
    if (cell.contains("git_revision") && cell["git_revision"].is_string()) revisions.insert(cell["git_revision"]);
    if (cell.contains("config_sha256") && cell["config_sha256"].is_string())
      config_hashes.insert(cell["config_sha256"]);
    if (cell.contains("seed") && cell["seed"].is_number_unsigned())
      eval_seeds.insert(cell["seed"].get<std::uint64_t>());
    cells.push_back({std::move(cell), "cells/" + path.filename().string(), path});
  }
  m.windows.assign(windows.begin(), windows.end());
  m.git_revisions.assign(revisions.begin(), revisions.end());
  m.config_hashes.assign(config_hashes.begin(), config_hashes.end());
  m.eval_seeds.assign(eval_seeds.begin(), eval_seeds.end());
  std::stable_sort(cells.begin(), cells.end(), [&](const LoadedCell& a, const LoadedCell& b) {
    return std::make_tuple(backend_row(m, a.backend()), a.task(), a.window()) <
           std::make_tuple(backend_row(m, b.backend()), b.task(), b.window());
  });
  return cells;
}

// The scale the model served: the cell's served_scale (schema 4), else (older cells, which
// recorded W / L as "g") the one the RoPE it describes implies, so old runs are read the same way.
std::optional<double> served_scale_of_cell(const json& cell) {
  if (auto s = finite_number(cell.value("served_scale", json()))) return s;
  return model_served_scale(cell.value("model", json()));
}

CellSummary summarize_cell(const ReportModel& m, const LoadedCell& c) {
  const json& cell = c.json;
  CellSummary s;
  s.file = c.file;
  s.key = cell["key"];
  s.backend = c.backend();
  s.task = c.task();
  s.task_plugin = cell["task"]["plugin"];
  s.window = c.window();
  s.window_ratio = m.original_window ? double(s.window) / double(m.original_window) : 0;
  s.served_scale = served_scale_of_cell(cell);
  s.tokens_per_s = finite_number(cell.value("tokens_per_s", json())).value_or(0);
  if (cell.contains("timing") && cell["timing"].is_object())
    s.wall_s = finite_number(cell["timing"].value("wall_s", json())).value_or(0);
  s.peak_rss_bytes = cell.value("peak_rss_bytes", std::int64_t(0));
  if (cell.contains("peak_rss_bytes_cell") && cell["peak_rss_bytes_cell"].is_number_integer()) {
    s.peak_rss_bytes_cell = cell["peak_rss_bytes_cell"].get<std::int64_t>();
    s.peak_rss_cell_reset = cell.value("peak_rss_cell_reset", false);
  }
  s.git_revision = cell.value("git_revision", "");
  s.config_sha256 = cell.value("config_sha256", "");
  if (cell.contains("seed") && cell["seed"].is_number_unsigned()) s.seed = cell["seed"];
  if (cell.contains("training_seed") && cell["training_seed"].is_number_unsigned())
    s.training_seed = cell["training_seed"].get<std::uint64_t>();
  s.has_uncertainty = cell.contains("uncertainty") && cell["uncertainty"].is_object() && !cell["uncertainty"].empty();
  if (s.has_uncertainty && cell["uncertainty"].contains("items") && cell["uncertainty"]["items"].is_object() &&
      cell["uncertainty"]["items"].contains("id") && cell["uncertainty"]["items"]["id"].is_array())
    s.items = std::int64_t(cell["uncertainty"]["items"]["id"].size());
  return s;
}

// The prepare records the sweep saved per backend (the latest plan's backends only).
void read_costs(const fs::path& run_dir, const SweepFacts& facts, ReportModel& m) {
  std::error_code ec;
  if (!fs::is_directory(run_dir / "backends", ec)) return;
  std::vector<fs::path> records;
  for (const auto& entry : fs::directory_iterator(run_dir / "backends", ec))
    if (entry.path().extension() == ".json") records.push_back(entry.path());
  std::sort(records.begin(), records.end());
  const auto& order = m.backends;  // the sweep's backends and those of the cells read
  for (const auto& path : records) {
    json saved = parse_file(path, "prepare record");
    if (!saved.is_object())
      throw Error(path.string() + ": not a prepare record (expected a JSON object); rerun `e2llm sweep`");
    CostRow row;
    row.label = saved.value("label", path.stem().string());
    if (facts.planned &&
        (row.label == "base.pretrain" ? !facts.planned_pretrain
                                      : std::find(order.begin(), order.end(), row.label) == order.end()))
      continue;  // a backend of an earlier config in this folder
    row.plugin = saved.value("plugin", "");
    row.file = "backends/" + path.filename().string();
    if (saved.contains("training_seed") && saved["training_seed"].is_number_unsigned())
      row.training_seed = saved["training_seed"].get<std::uint64_t>();
    row.trains = saved.value("trains", false);
    row.prepare_wall_s = finite_number(saved.value("prepare_wall_s", json())).value_or(0);
    if (saved.contains("record") && saved["record"].is_object()) {
      row.trained_tokens = finite_number(saved["record"].value("trained_tokens", json()));
      row.train_wall_s = finite_number(saved["record"].value("train_wall_s", json()));
    }
    m.cost.push_back(row);
  }
  // The base pretraining first, then the sweep's backend order.
  std::stable_sort(m.cost.begin(), m.cost.end(), [&](const CostRow& a, const CostRow& b) {
    auto rank = [&](const CostRow& r) { return r.label == "base.pretrain" ? 0 : 1 + backend_row(m, r.label); };
    return rank(a) < rank(b);
  });
}

}  // namespace

std::size_t backend_row(const ReportModel& m, const std::string& label) {
  return std::size_t(std::find(m.backends.begin(), m.backends.end(), label) - m.backends.begin());
}

std::size_t window_col(const ReportModel& m, std::int64_t window) {
  return std::size_t(std::find(m.windows.begin(), m.windows.end(), window) - m.windows.begin());
}

std::vector<std::string> window_labels(const ReportModel& m) {
  std::vector<std::string> out;
  for (auto w : m.windows) out.push_back(std::to_string(w));
  return out;
}

ValueTable backends_x_windows(const ReportModel& m) {
  ValueTable t;
  t.rows = m.backends;
  t.columns = window_labels(m);
  return t;
}

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

ReportModel build_report_model(const fs::path& run_dir, const ReportOptions& options) {
  ReportModel m;
  m.run_dir = run_dir;
  m.options = options;
  m.generated_at = now_iso();
  m.run_name = fs::absolute(run_dir).lexically_normal().filename().string();
  if (m.run_name.empty()) m.run_name = fs::absolute(run_dir).lexically_normal().parent_path().filename().string();
  std::error_code ec;
  if (!fs::is_directory(run_dir / "cells", ec))
    throw Error(run_dir.string() + " has no cells/ folder; run `e2llm sweep CONFIG` first (or name the run folder)");

  const SweepFacts facts = read_sweep(run_dir, m);
  m.settings = report_settings_from_json(facts.report, [&](const std::string& field, const std::string& message) {
    throw Error((run_dir / "sweep.json").string() + ": config.report" + (field.empty() ? "" : "." + field) + ": " +
                message + "; fix [report] in the config and rerun `e2llm sweep`");
  });
  if (options.reference) m.settings.reference = *options.reference;
  if (options.base) m.settings.base = *options.base;
  if (options.level) m.settings.level = *options.level;
  const std::vector<LoadedCell> cells = read_cells(run_dir, facts, m);
  for (const auto& c : cells) {
    m.cells.push_back(summarize_cell(m, c));
    if (!m.cells.back().has_uncertainty) ++m.cells_without_intervals;
  }
  m.headline = build_headline(m, cells);
  m.sections = build_sections(m, cells, facts.task_order);
  read_costs(run_dir, facts, m);
  return m;
}

}  // namespace e2llm::harness
