// Reads a run folder into the ReportModel every printer uses.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <regex>
#include <set>

#include "e2llm/error.hpp"
#include "e2llm/harness/cell_store.hpp"
#include "e2llm/harness/report.hpp"
#include "e2llm/util/files.hpp"

namespace e2llm::harness {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::optional<double> number(const json& v) {
  if (v.is_number()) {
    double d = v.get<double>();
    if (std::isfinite(d)) return d;
  }
  return std::nullopt;
}

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
    throw Error(path.string() + ": not a valid e2llm cell (" + why + "); delete it and rerun `e2llm sweep` to recompute it");
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
    if (!cell.contains(part) || !cell[part].is_object() || !cell[part].contains("label") || !cell[part]["label"].is_string())
      fail(std::string("no \"") + part + ".label\"");
  }
  if (!cell["task"].contains("plugin") || !cell["task"]["plugin"].is_string()) fail("no \"task.plugin\"");
  if (!cell.contains("window") || !cell["window"].is_number_integer()) fail("no integer \"window\"");
  if (!cell.contains("metrics") || !cell["metrics"].is_object()) fail("no \"metrics\" object");
}

std::size_t index_of(std::vector<std::string>& list, const std::string& item) {
  auto it = std::find(list.begin(), list.end(), item);
  if (it != list.end()) return std::size_t(it - list.begin());
  list.push_back(item);
  return list.size() - 1;
}

std::string window_label(std::int64_t w) { return std::to_string(w); }

// Depth -> accuracy from the forms a passkey task may use: {"0.25": acc, ...},
// [{"depth": d, "accuracy": a}, ...], or [acc, ...] with details.depths.
std::vector<std::pair<std::string, double>> depth_series(const json& cell) {
  std::vector<std::pair<std::string, double>> out;
  const json& m = cell["metrics"];
  auto it = m.find("accuracy_by_depth");
  if (it == m.end()) return out;
  auto depth_text = [](const json& d) { return d.is_string() ? d.get<std::string>() : d.dump(); };
  if (it->is_object()) {
    for (const auto& [k, v] : it->items())
      if (auto n = number(v)) out.emplace_back(k, *n);
  } else if (it->is_array()) {
    const json* depths = nullptr;
    if (cell.contains("details") && cell["details"].is_object() && cell["details"].contains("depths") &&
        cell["details"]["depths"].is_array())
      depths = &cell["details"]["depths"];
    for (std::size_t i = 0; i < it->size(); ++i) {
      const json& e = (*it)[i];
      if (e.is_object()) {
        auto acc = e.contains("accuracy") ? number(e["accuracy"]) : std::nullopt;
        if (acc && e.contains("depth")) out.emplace_back(depth_text(e["depth"]), *acc);
      } else if (auto n = number(e)) {
        out.emplace_back(depths && i < depths->size() ? depth_text((*depths)[i]) : std::to_string(i), *n);
      }
    }
  }
  return out;
}

void sort_numeric(std::vector<std::string>& labels) {
  auto key = [](const std::string& s) {
    try {
      return std::stod(s);
    } catch (...) {
      return 0.0;
    }
  };
  std::stable_sort(labels.begin(), labels.end(), [&](const std::string& a, const std::string& b) { return key(a) < key(b); });
}

void reorder_rows(ValueTable& t, std::vector<std::string> order) {
  std::map<std::pair<std::size_t, std::size_t>, CellValue> moved;
  for (auto& [rc, v] : t.values) {
    auto row = std::size_t(std::find(order.begin(), order.end(), t.rows[rc.first]) - order.begin());
    moved[{row, rc.second}] = v;
  }
  t.rows = std::move(order);
  t.values = std::move(moved);
}


}  // namespace

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
  fs::path cells_dir = run_dir / "cells";
  if (!fs::is_directory(cells_dir, ec))
    throw Error(run_dir.string() + " has no cells/ folder; run `e2llm sweep CONFIG` first (or name the run folder)");

  // The sweep's own order of backends and windows, when it left its plan.
  std::vector<std::string> backend_order;
  std::set<std::int64_t> windows;
  std::optional<std::set<std::string>> planned;  // the latest sweep's cell keys, when it recorded them
  bool planned_pretrain = false;                  // ... and whether its base was pretrained
  if (fs::is_regular_file(run_dir / "sweep.json", ec)) {
    json sweep = parse_file(run_dir / "sweep.json", "sweep.json");
    m.run_name = sweep.value("name", m.run_name);
    m.original_window = sweep.value("original_window", std::int64_t(0));
    if (sweep.contains("backends") && sweep["backends"].is_array())
      for (const auto& b : sweep["backends"])
        if (b.is_object() && b.contains("label") && b["label"].is_string()) backend_order.push_back(b["label"]);
    if (sweep.contains("cells") && sweep["cells"].is_array()) {
      planned.emplace();
      const json& cfg = sweep.value("config", json::object());
      planned_pretrain = cfg.is_object() && cfg.contains("base") && cfg["base"].is_object() &&
                         cfg["base"].value("source", std::string()) == "pretrain";
      for (const auto& k : sweep["cells"])
        if (k.is_string()) planned->insert(k.get<std::string>().substr(0, 16));  // cell files are named by it
    }
  }

  static const std::regex cell_name("[0-9a-f]{16}\\.json");
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(cells_dir, ec))
    if (std::regex_match(entry.path().filename().string(), cell_name)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());

  std::vector<std::pair<json, std::string>> cells;
  std::set<std::string> revisions;
  for (const auto& path : files) {
    if (planned && !planned->count(path.stem().string())) {
      ++m.cells_not_in_plan;  // from an earlier sweep with another config: a cache, not this run
      continue;
    }
    json cell = parse_file(path, "cell file");
    check_cell(cell, path);
    std::string rel = "cells/" + path.filename().string();
    index_of(backend_order, cell["backend"]["label"]);
    windows.insert(cell["window"].get<std::int64_t>());
    if (!m.original_window && cell.contains("original_window") && cell["original_window"].is_number_integer())
      m.original_window = cell["original_window"];
    if (cell.contains("git_revision") && cell["git_revision"].is_string()) revisions.insert(cell["git_revision"]);
    cells.emplace_back(std::move(cell), rel);
  }
  m.backends = backend_order;
  m.windows.assign(windows.begin(), windows.end());
  m.git_revisions.assign(revisions.begin(), revisions.end());
  std::vector<std::string> window_labels;
  for (auto w : m.windows) window_labels.push_back(window_label(w));

  auto backend_row = [&](const std::string& label) {
    return std::size_t(std::find(m.backends.begin(), m.backends.end(), label) - m.backends.begin());
  };
  auto window_col = [&](std::int64_t w) {
    return std::size_t(std::find(m.windows.begin(), m.windows.end(), w) - m.windows.begin());
  };
  auto backends_x_windows = [&]() {
    ValueTable t;
    t.rows = m.backends;
    t.columns = window_labels;
    return t;
  };

  // Cells in a stable order: backend (sweep order), task, window.
  std::stable_sort(cells.begin(), cells.end(), [&](const auto& a, const auto& b) {
    auto ka = std::make_tuple(backend_row(a.first["backend"]["label"]), a.first["task"]["label"].template get<std::string>(),
                              a.first["window"].template get<std::int64_t>());
    auto kb = std::make_tuple(backend_row(b.first["backend"]["label"]), b.first["task"]["label"].template get<std::string>(),
                              b.first["window"].template get<std::int64_t>());
    return ka < kb;
  });

  for (const auto& [cell, file] : cells) {
    const std::string backend = cell["backend"]["label"], task = cell["task"]["label"], plugin = cell["task"]["plugin"];
    const std::int64_t window = cell["window"];
    const json& metrics = cell["metrics"];
    CellSummary s;
    s.file = file;
    s.key = cell["key"];
    s.backend = backend;
    s.task = task;
    s.task_plugin = plugin;
    s.window = window;
    s.g = number(cell.value("g", json())).value_or(m.original_window ? double(window) / double(m.original_window) : 0);
    s.tokens_per_s = number(cell.value("tokens_per_s", json())).value_or(0);
    if (cell.contains("timing") && cell["timing"].is_object()) s.wall_s = number(cell["timing"].value("wall_s", json())).value_or(0);
    s.peak_rss_bytes = cell.value("peak_rss_bytes", std::int64_t(0));
    s.git_revision = cell.value("git_revision", "");
    m.cells.push_back(s);

    // Headline metric of every task (the first in the task's metric list).
    std::string headline;
    bool higher = true;
    if (cell["task"].contains("metrics_info") && cell["task"]["metrics_info"].is_array() && !cell["task"]["metrics_info"].empty()) {
      const json& mi = cell["task"]["metrics_info"][0];
      headline = mi.value("name", "");
      higher = mi.value("higher_is_better", true);
    }
    if (headline.empty() && !metrics.empty()) headline = metrics.begin().key();
    auto gv = std::find_if(m.headline.begin(), m.headline.end(), [&](const GenericView& v) { return v.task_label == task; });
    if (gv == m.headline.end()) {
      m.headline.push_back({task, plugin, headline, higher, backends_x_windows()});
      gv = m.headline.end() - 1;
    }
    if (metrics.contains(gv->metric))
      if (auto v = number(metrics[gv->metric])) gv->table.values[{backend_row(backend), window_col(window)}] = {*v, file};

    if (plugin == "proofpile") {
      auto pv = std::find_if(m.perplexity.begin(), m.perplexity.end(), [&](const PerplexityView& v) { return v.task_label == task; });
      if (pv == m.perplexity.end()) {
        m.perplexity.push_back({task, "ppl", backends_x_windows(), {}});
        pv = m.perplexity.end() - 1;
      }
      if (metrics.contains("ppl"))
        if (auto v = number(metrics["ppl"])) pv->table.values[{backend_row(backend), window_col(window)}] = {*v, file};
    } else if (plugin == "passkey") {
      auto pv = std::find_if(m.passkey.begin(), m.passkey.end(), [&](const PasskeyView& v) { return v.task_label == task; });
      if (pv == m.passkey.end()) {
        PasskeyView v;
        v.task_label = task;
        v.accuracy = backends_x_windows();
        v.threshold = options.passkey_threshold.value_or(0.9);
        if (!options.passkey_threshold && cell["task"].contains("config") && cell["task"]["config"].is_object())
          v.threshold = number(cell["task"]["config"].value("threshold", json())).value_or(0.9);
        m.passkey.push_back(v);
        pv = m.passkey.end() - 1;
      }
      if (metrics.contains("accuracy"))
        if (auto v = number(metrics["accuracy"])) {
          pv->accuracy.values[{backend_row(backend), window_col(window)}] = {*v, file};
          if (*v > 1.0) pv->percent = true;
        }
      auto series = depth_series(cell);
      if (!series.empty()) {
        ValueTable& t = pv->by_depth[backend];
        if (t.columns.empty()) t.columns = window_labels;
        for (const auto& [depth, acc] : series) {
          t.values[{index_of(t.rows, depth), window_col(window)}] = {acc, file};
          if (acc > 1.0) pv->percent = true;
        }
      }
    } else if (plugin == "longbench") {
      auto lv = std::find_if(m.longbench.begin(), m.longbench.end(),
                             [&](const LongBenchView& v) { return v.task_label == task && v.window == window; });
      if (lv == m.longbench.end()) {
        LongBenchView v;
        v.task_label = task;
        v.window = window;
        v.table.columns = m.backends;
        m.longbench.push_back(v);
        lv = m.longbench.end() - 1;
      }
      for (const auto& [name, value] : metrics.items())
        if (auto v = number(value)) lv->table.values[{index_of(lv->table.rows, name), backend_row(backend)}] = {*v, file};
    }
  }

  // Rows in a readable order: depths numerically, LongBench datasets in the paper's order.
  for (auto& pv : m.passkey) {
    for (auto& [backend, t] : pv.by_depth) {
      auto order = t.rows;
      sort_numeric(order);
      reorder_rows(t, order);
    }
    double threshold = pv.threshold * (pv.percent ? 100.0 : 1.0);
    for (std::size_t r = 0; r < m.backends.size(); ++r) {
      std::optional<std::int64_t> best;
      for (std::size_t c = 0; c < m.windows.size(); ++c) {
        const CellValue* v = pv.accuracy.at(r, c);
        if (!v) continue;  // not evaluated at this window: neither passes nor fails
        if (v->value < threshold) break;  // "stays >= threshold": stop at the first failure
        best = m.windows[c];
      }
      pv.max_window_passing[m.backends[r]] = best;
    }
  }
  for (auto& lv : m.longbench) {
    std::vector<std::string> order;
    for (const auto& d : longbench_dataset_order())
      if (std::find(lv.table.rows.begin(), lv.table.rows.end(), d) != lv.table.rows.end()) order.push_back(d);
    for (const auto& r : lv.table.rows)
      if (std::find(order.begin(), order.end(), r) == order.end() && r != "avg_en") order.push_back(r);
    if (std::find(lv.table.rows.begin(), lv.table.rows.end(), "avg_en") != lv.table.rows.end()) order.push_back("avg_en");
    reorder_rows(lv.table, order);
    lv.table.columns = m.backends;
  }
  std::sort(m.longbench.begin(), m.longbench.end(), [](const LongBenchView& a, const LongBenchView& b) {
    return std::tie(a.task_label, a.window) < std::tie(b.task_label, b.window);
  });

  // Summaries over the extended windows (W > L): geometric mean perplexity, mean accuracy.
  auto extended = [&](const ValueTable& t, bool geometric, bool lower_first) {
    std::vector<ExtendedSummary> out;
    if (!m.original_window) return out;
    for (std::size_t r = 0; r < t.rows.size(); ++r) {
      double sum = 0;
      std::size_t n = 0, wanted = 0;
      for (std::size_t c = 0; c < m.windows.size(); ++c) {
        if (m.windows[c] <= m.original_window) continue;
        ++wanted;
        const CellValue* v = t.at(r, c);
        if (!v || (geometric && !(v->value > 0))) continue;
        sum += geometric ? std::log(v->value) : v->value;
        ++n;
      }
      if (n == 0 || n != wanted) continue;  // a partial row would not compare
      out.push_back({t.rows[r], geometric ? std::exp(sum / double(n)) : sum / double(n), 0});
    }
    auto better = [&](const ExtendedSummary& a, const ExtendedSummary& b) {
      return lower_first ? a.value < b.value : a.value > b.value;
    };
    std::stable_sort(out.begin(), out.end(), better);
    for (std::size_t i = 0; i < out.size(); ++i) out[i].rank = i > 0 && !better(out[i - 1], out[i]) ? out[i - 1].rank : i + 1;
    return out;
  };
  for (auto& pv : m.perplexity) pv.extended = extended(pv.table, /*geometric=*/true, /*lower_first=*/true);
  for (auto& pv : m.passkey) pv.extended = extended(pv.accuracy, /*geometric=*/false, /*lower_first=*/false);

  // Training cost: the prepare records the sweep saved per backend.
  if (fs::is_directory(run_dir / "backends", ec)) {
    std::vector<fs::path> records;
    for (const auto& entry : fs::directory_iterator(run_dir / "backends", ec))
      if (entry.path().extension() == ".json") records.push_back(entry.path());
    std::sort(records.begin(), records.end());
    for (const auto& path : records) {
      json saved = parse_file(path, "prepare record");
      if (!saved.is_object()) throw Error(path.string() + ": not a prepare record (expected a JSON object); rerun `e2llm sweep`");
      CostRow row;
      row.label = saved.value("label", path.stem().string());
      if (planned && (row.label == "base.pretrain" ? !planned_pretrain
                                                   : std::find(backend_order.begin(), backend_order.end(), row.label) == backend_order.end()))
        continue;  // a backend of an earlier config in this folder
      row.plugin = saved.value("plugin", "");
      row.file = "backends/" + path.filename().string();
      row.trains = saved.value("trains", false);
      row.prepare_wall_s = number(saved.value("prepare_wall_s", json())).value_or(0);
      if (saved.contains("record") && saved["record"].is_object()) {
        row.trained_tokens = number(saved["record"].value("trained_tokens", json()));
        row.train_wall_s = number(saved["record"].value("train_wall_s", json()));
      }
      m.cost.push_back(row);
    }
    // The base pretraining first, then the sweep's backend order.
    std::stable_sort(m.cost.begin(), m.cost.end(), [&](const CostRow& a, const CostRow& b) {
      auto rank = [&](const CostRow& r) { return r.label == "base.pretrain" ? 0 : 1 + backend_row(r.label); };
      return rank(a) < rank(b);
    });
  }
  return m;
}

}  // namespace e2llm::harness
