// Fills the views each task declared (e2llm/report_view.hpp) from its cells: one builder
// per kind of view, each value with its interval and, against the run's reference backend,
// a paired comparison (report_stats.cpp). The harness knows no task; the cells say what to
// show and how their items compare.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/core.h>

#include "e2llm/error.hpp"
#include "e2llm/harness/view_json.hpp"
#include "report_internal.hpp"

namespace e2llm::harness {
using nlohmann::json;

namespace {

using Cells = std::vector<const LoadedCell*>;
// A task's cells by (backend, window), each list ordered by training seed.
using CellIndex = std::map<std::pair<std::string, std::int64_t>, SeedCells>;

CellIndex index_cells(const Cells& cells) {
  CellIndex index;
  for (const LoadedCell* c : cells) index[{c->backend(), c->window()}].push_back(c);
  for (auto& [key, list] : index)
    std::stable_sort(list.begin(), list.end(), [](const LoadedCell* a, const LoadedCell* b) {
      return a->training_seed().value_or(0) < b->training_seed().value_or(0);
    });
  return index;
}

const SeedCells* cells_at(const CellIndex& index, const std::string& backend, std::int64_t window) {
  auto it = index.find({backend, window});
  return it == index.end() ? nullptr : &it->second;
}

const json* metric_of(const LoadedCell& c, const std::string& name) {
  const json& metrics = c.json["metrics"];
  auto it = metrics.find(name);
  return it == metrics.end() ? nullptr : &*it;
}

// The value of `metric` (or of its grid `row`) over the cells of one backend and window:
// the one cell's, or the mean over training seeds with each seed's value and their sd.
std::optional<CellValue> value_of(const SeedCells& cells, const std::string& metric, const std::string& row) {
  CellValue cv;
  std::vector<double> values;
  for (const LoadedCell* c : cells) {
    const json* m = metric_of(*c, metric);
    if (m && !row.empty()) m = m->is_object() && m->contains(row) ? &(*m)[row] : nullptr;
    auto v = m ? finite_number(*m) : std::nullopt;
    if (!v) continue;
    if (values.empty()) cv.cell = c->file;
    values.push_back(*v);
    if (auto seed = c->training_seed()) cv.seeds.push_back({*seed, *v, c->file});
  }
  if (values.empty()) return std::nullopt;
  double sum = 0;
  for (double v : values) sum += v;
  cv.value = sum / double(values.size());
  if (values.size() >= 2) {
    double ss = 0;
    for (double v : values) ss += (v - cv.value) * (v - cv.value);
    cv.seed_sd = std::sqrt(ss / double(values.size() - 1));
  }
  return cv;
}

void note_value(ViewData& v, double value) {
  if (v.spec.format == ValueFormat::percent && value > 1.0) v.percent = true;
}

// Rows in `order`; values move with their rows.
void reorder_rows(ValueTable& t, std::vector<std::string> order) {
  std::map<std::pair<std::size_t, std::size_t>, CellValue> moved;
  for (auto& [rc, v] : t.values) {
    auto row = std::size_t(std::find(order.begin(), order.end(), t.rows[rc.first]) - order.begin());
    moved[{row, rc.second}] = v;
  }
  t.rows = std::move(order);
  t.values = std::move(moved);
}

// Rows named by numbers (depths, fractions) in numeric order; others keep their order.
void sort_rows_numerically(ValueTable& t) {
  std::vector<std::pair<double, std::string>> keyed;
  for (const auto& r : t.rows) {
    char* end = nullptr;
    double d = std::strtod(r.c_str(), &end);
    if (r.empty() || *end != '\0') return;
    keyed.emplace_back(d, r);
  }
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> order;
  for (const auto& [d, r] : keyed) order.push_back(r);
  reorder_rows(t, order);
}

bool all_zero(const ValueTable& t) {
  if (t.values.empty()) return false;
  for (const auto& [rc, v] : t.values)
    if (v.value != 0) return false;
  return true;
}

taskkit::Combine combine_of(const ReportView& spec) {
  return spec.summary == WindowSummary::geometric_mean ? taskkit::Combine::geometric_mean : taskkit::Combine::mean;
}

std::vector<std::int64_t> extended_windows(const ReportModel& m) {
  std::vector<std::int64_t> out;
  for (auto w : m.windows)
    if (m.original_window && w > m.original_window) out.push_back(w);
  return out;
}

// One number per row over the windows W > L: the mean or geometric mean, best first; ranks
// from the values (replaced by paired ranks when the cells allow, rank_by_pairs).
std::vector<ExtendedSummary> extended_summary(const ReportModel& m, const ValueTable& t, const ReportView& spec) {
  std::vector<ExtendedSummary> out;
  if (!m.original_window || spec.summary == WindowSummary::none) return out;
  const bool geometric = spec.summary == WindowSummary::geometric_mean;
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
    ExtendedSummary e;
    e.backend = t.rows[r];
    e.value = geometric ? std::exp(sum / double(n)) : sum / double(n);
    out.push_back(e);
  }
  auto better = [&](const ExtendedSummary& a, const ExtendedSummary& b) {
    return spec.higher_is_better ? a.value > b.value : a.value < b.value;
  };
  std::stable_sort(out.begin(), out.end(), better);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i].rank = i > 0 && !better(out[i - 1], out[i]) ? out[i - 1].rank : i + 1;
  return out;
}

// Paired ranks: rank = 1 + the backends significantly better over W > L (docs/statistics.md);
// backends not separable share a rank. Needs every pair comparable (cells with items).
void rank_by_pairs(ViewData& v, const ReportModel& m, const CellIndex& index, ReportStats& stats) {
  auto& ext = v.extended;
  if (ext.size() < 2) return;
  const auto windows = extended_windows(m);
  auto cells_of = [&](const std::string& backend) {
    std::vector<SeedCells> out;
    for (auto w : windows) out.push_back(*cells_at(index, backend, w));
    return out;
  };
  std::vector<std::vector<SeedCells>> cells;
  for (const auto& e : ext) {
    for (auto w : windows)
      if (!cells_at(index, e.backend, w)) return;
    cells.push_back(cells_of(e.backend));
  }
  for (std::size_t i = 0; i < ext.size(); ++i)
    ext[i].interval = stats.summary_interval(cells[i], v.spec.metric, combine_of(v.spec));
  std::vector<std::vector<Comparison>> vs(ext.size(), std::vector<Comparison>(ext.size()));
  for (std::size_t i = 0; i < ext.size(); ++i)
    for (std::size_t j = i + 1; j < ext.size(); ++j) {
      vs[i][j] = stats.compare_summary(cells[i], cells[j], v.spec.metric, combine_of(v.spec), v.spec.higher_is_better,
                                       ext[j].backend);
      if (vs[i][j].verdict == Verdict::not_comparable) return;  // values alone rank them
    }
  for (std::size_t i = 0; i < ext.size(); ++i)
    for (std::size_t j = i + 1; j < ext.size(); ++j) {
      const Verdict verdict = vs[i][j].verdict;
      if (verdict == Verdict::better) ext[j].significantly_better.push_back(ext[i].backend);
      if (verdict == Verdict::worse) ext[i].significantly_better.push_back(ext[j].backend);
      if (verdict == Verdict::not_separable) {
        ext[i].not_separable.push_back(ext[j].backend);
        ext[j].not_separable.push_back(ext[i].backend);
      }
      if (ext[j].backend == v.reference) ext[i].vs_reference = vs[i][j];
      if (ext[i].backend == v.reference) {
        Comparison flipped = stats.compare_summary(cells[j], cells[i], v.spec.metric, combine_of(v.spec),
                                                   v.spec.higher_is_better, ext[i].backend);
        ext[j].vs_reference = flipped;
      }
    }
  for (auto& e : ext) {
    e.rank = 1 + e.significantly_better.size();
    e.paired = true;
  }
  auto better = [&](const ExtendedSummary& a, const ExtendedSummary& b) {
    if (a.rank != b.rank) return a.rank < b.rank;
    return v.spec.higher_is_better ? a.value > b.value : a.value < b.value;
  };
  std::stable_sort(ext.begin(), ext.end(), better);
}

// --threshold, else the task config's `threshold_key`, else the view's own threshold.
std::optional<double> threshold_of(const ReportModel& m, const ReportView& spec, const LoadedCell& first) {
  if (!spec.pass_threshold) return std::nullopt;
  if (m.options.threshold) {
    // Percentages are thresholded as fractions: 0.9, not 90 (nor 2, which nothing can reach).
    if (spec.format == ValueFormat::percent && *m.options.threshold > 1.0)
      throw Error(
          fmt::format("--threshold {:g}: the view \"{}\" is a percentage, whose threshold is a fraction "
                      "0..1 (e.g. 0.9 for 90%)",
                      *m.options.threshold, spec.title));
    return m.options.threshold;
  }
  const json& task = first.json["task"];
  if (!spec.threshold_key.empty() && task.contains("config") && task["config"].is_object())
    if (auto t = finite_number(task["config"].value(spec.threshold_key, json()))) return t;
  return spec.pass_threshold;
}

// The largest window each backend passes at, from the smallest window up, stopping at the
// first failure (a window it was not evaluated at neither passes nor fails). `threshold`
// is on the table's own scale.
std::vector<std::pair<std::string, std::optional<std::int64_t>>> max_window_passing(const ViewData& v,
                                                                                    const ReportModel& m,
                                                                                    double threshold) {
  std::vector<std::pair<std::string, std::optional<std::int64_t>>> out;
  for (std::size_t r = 0; r < m.backends.size(); ++r) {
    std::optional<std::int64_t> best;
    for (std::size_t c = 0; c < m.windows.size(); ++c) {
      const CellValue* value = v.table.at(r, c);
      if (!value) continue;
      if (v.spec.higher_is_better ? value->value < threshold : value->value > threshold) break;
      best = m.windows[c];
    }
    out.emplace_back(m.backends[r], best);
  }
  return out;
}

// The [report] base's value at W = L in a backends x windows table, if it has one.
std::optional<double> base_value(const ReportModel& m, const ValueTable& t) {
  if (m.settings.base.empty() || !m.original_window) return std::nullopt;
  auto row = std::find(t.rows.begin(), t.rows.end(), m.settings.base);
  auto col = std::find(m.windows.begin(), m.windows.end(), m.original_window);
  if (row == t.rows.end() || col == m.windows.end()) return std::nullopt;
  const CellValue* v = t.at(std::size_t(row - t.rows.begin()), std::size_t(col - m.windows.begin()));
  return v ? std::optional<double>(v->value) : std::nullopt;
}

// A published table (ReferenceColumn with window ratios) and ours, both as ratios to their
// own base at W = L.
PaperComparison paper_comparison(const ReferenceColumn& ref, const ViewData& v, const ReportModel& m,
                                 const CellIndex& index, ReportStats& stats) {
  PaperComparison pc{ref.label, ref.tag, ref.source, ref.base_row, {}, {}, std::nullopt, m.settings.base};
  std::set<double> ratios;
  std::optional<double> paper_base;
  for (const auto& value : ref.values) {
    if (value.window_ratio <= 0) continue;
    ratios.insert(value.window_ratio);
    if (value.row == ref.base_row && value.window_ratio == 1.0) paper_base = value.value;
  }
  for (const auto& value : ref.values) {
    if (value.window_ratio <= 0 || !paper_base) continue;
    auto row = std::find_if(pc.rows.begin(), pc.rows.end(), [&](const auto& r) { return r.name == value.row; });
    if (row == pc.rows.end()) row = pc.rows.insert(pc.rows.end(), PaperComparison::Row{value.row, false, {}, {}, {}});
    row->by_ratio[value.window_ratio] = value.value / *paper_base;
  }
  if (m.original_window)
    for (auto w : m.windows) ratios.insert(double(w) / double(m.original_window));
  pc.ratios.assign(ratios.begin(), ratios.end());
  pc.our_base_value = base_value(m, v.table);
  if (!pc.our_base_value || !(*pc.our_base_value > 0)) return pc;
  const SeedCells* base_cells = cells_at(index, m.settings.base, m.original_window);
  for (std::size_t r = 0; r < v.table.rows.size(); ++r) {
    PaperComparison::Row row{v.table.rows[r], true, {}, {}, {}};
    for (std::size_t c = 0; c < m.windows.size(); ++c) {
      const CellValue* value = v.table.at(r, c);
      if (!value) continue;
      const double g = double(m.windows[c]) / double(m.original_window);
      row.by_ratio[g] = value->value / *pc.our_base_value;
      row.cells[g] = value->cell;
      const SeedCells* cells = cells_at(index, row.name, m.windows[c]);
      if (cells && base_cells && !(row.name == m.settings.base && m.windows[c] == m.original_window))
        if (auto ci = stats.ratio_interval(*cells, *base_cells, v.spec.metric)) row.intervals[g] = *ci;
    }
    if (!row.by_ratio.empty()) pc.rows.push_back(std::move(row));
  }
  return pc;
}

// The [report] groups: each backend's summary over W > L against the group's first.
void fill_groups(ViewData& v, const ReportModel& m, const CellIndex& index, ReportStats& stats) {
  if (v.spec.summary == WindowSummary::none || !m.original_window) return;
  const auto windows = extended_windows(m);
  auto cells_of = [&](const std::string& backend) -> std::optional<std::vector<SeedCells>> {
    std::vector<SeedCells> out;
    for (auto w : windows) {
      const SeedCells* c = cells_at(index, backend, w);
      if (!c) return std::nullopt;
      out.push_back(*c);
    }
    return out;
  };
  for (const auto& group : m.settings.groups) {
    GroupSummary g{group.title, {}};
    std::optional<std::vector<SeedCells>> first;
    for (std::size_t i = 0; i < group.backends.size(); ++i) {
      GroupSummary::Row row{group.backends[i], std::nullopt, std::nullopt, std::nullopt};
      auto found = std::find_if(v.extended.begin(), v.extended.end(),
                                [&](const ExtendedSummary& e) { return e.backend == row.backend; });
      if (found != v.extended.end()) row.value = found->value, row.interval = found->interval;
      auto cells = cells_of(row.backend);
      if (i == 0) first = cells;
      if (i > 0 && cells && first)
        row.vs_first = stats.compare_summary(*cells, *first, v.spec.metric, combine_of(v.spec), v.spec.higher_is_better,
                                             group.backends.front());
      g.rows.push_back(std::move(row));
    }
    v.groups.push_back(std::move(g));
  }
}

// Cells of one table made differently: revisions, config hashes, evaluation seeds.
void provenance_warnings(ViewData& v, const std::string& table, const Cells& cells) {
  struct Field {
    const char* name;
    std::string (*of)(const LoadedCell&);
  };
  static const Field fields[] = {
      {"git revision", [](const LoadedCell& c) { return c.json.value("git_revision", std::string("(not recorded)")); }},
      {"config sha256",
       [](const LoadedCell& c) { return c.json.value("config_sha256", std::string("(not recorded)")); }},
      {"evaluation seed",
       [](const LoadedCell& c) {
         return c.json.contains("seed") ? c.json["seed"].dump() : std::string("(not recorded)");
       }},
  };
  for (const auto& f : fields) {
    std::vector<std::pair<std::string, std::vector<std::string>>> values;
    for (const LoadedCell* c : cells) {
      const std::string value = f.of(*c);
      auto it = std::find_if(values.begin(), values.end(), [&](const auto& p) { return p.first == value; });
      if (it == values.end()) it = values.insert(values.end(), {value, {}});
      it->second.push_back(c->file);
    }
    if (values.size() > 1) v.warnings.push_back({table, f.name, values});
  }
}

void fill_window_curve(ViewData& v, const ReportModel& m, const Cells& cells, const CellIndex& index,
                       ReportStats& stats) {
  v.table = backends_x_windows(m);
  const std::string& ref = m.settings.compared_with();
  bool has_ref = false;
  for (const auto& [key, list] : index) has_ref = has_ref || key.first == ref;
  v.reference = has_ref ? ref : "";
  for (const auto& [key, list] : index) {
    auto cv = value_of(list, v.spec.metric, "");
    if (!cv) continue;
    cv->interval = stats.interval(list, v.spec.metric, "");
    if (!v.reference.empty() && key.first != v.reference)
      if (const SeedCells* r = cells_at(index, v.reference, key.second))
        cv->vs_reference = stats.compare(list, *r, v.spec.metric, "", v.spec.higher_is_better, v.reference);
    note_value(v, cv->value);
    v.table.values[{backend_row(m, key.first), window_col(m, key.second)}] = *cv;
  }
  v.all_zero = all_zero(v.table);
  v.threshold = threshold_of(m, v.spec, *cells.front());
  if (v.threshold) v.max_window_passing = max_window_passing(v, m, *v.threshold * (v.percent ? 100.0 : 1.0));
  if (v.spec.relative_threshold) v.relative_base = base_value(m, v.table);
  if (v.relative_base && (!v.spec.higher_is_better || *v.relative_base > 0)) {
    v.relative_threshold = *v.spec.relative_threshold * *v.relative_base;
    v.max_window_passing_relative = max_window_passing(v, m, *v.relative_threshold);
  }
  v.extended = extended_summary(m, v.table, v.spec);
  rank_by_pairs(v, m, index, stats);
  for (const auto& r : v.spec.references) v.paper.push_back(paper_comparison(r, v, m, index, stats));
  fill_groups(v, m, index, stats);
}

void fill_grid(ViewData& v, const ReportModel& m, const CellIndex& index, ReportStats& stats) {
  std::map<std::string, ValueTable> tables;  // by backend
  for (const auto& [key, list] : index) {
    std::set<std::string> rows;
    for (const LoadedCell* c : list)
      if (const json* metric = metric_of(*c, v.spec.metric); metric && metric->is_object())
        for (const auto& [row, value] : metric->items()) rows.insert(row);
    // Rows in the first cell's order (a task's own order), then others.
    std::vector<std::string> order;
    if (const json* metric = metric_of(*list.front(), v.spec.metric); metric && metric->is_object())
      for (const auto& [row, value] : metric->items()) order.push_back(row);
    for (const auto& row : rows)
      if (std::find(order.begin(), order.end(), row) == order.end()) order.push_back(row);
    for (const auto& row : order) {
      auto cv = value_of(list, v.spec.metric, row);
      if (!cv) continue;
      cv->interval = stats.interval(list, v.spec.metric, row);
      ValueTable& t = tables[key.first];
      if (t.columns.empty()) t.columns = window_labels(m);
      note_value(v, cv->value);
      t.values[{index_of(t.rows, row), window_col(m, key.second)}] = *cv;
    }
  }
  for (const auto& backend : m.backends) {  // the sweep's order
    auto found = tables.find(backend);
    if (found == tables.end()) continue;
    sort_rows_numerically(found->second);
    v.by_backend.emplace_back(backend, std::move(found->second));
  }
  v.all_zero = !v.by_backend.empty() && std::all_of(v.by_backend.begin(), v.by_backend.end(),
                                                    [](const auto& bt) { return all_zero(bt.second); });
}

// Rows: the declared order, then the others as they came, the view's metric (a summary row) last.
void order_dataset_rows(ValueTable& t, const ReportView& spec) {
  std::vector<std::string> order;
  auto has = [](const std::vector<std::string>& list, const std::string& s) {
    return std::find(list.begin(), list.end(), s) != list.end();
  };
  for (const auto& r : spec.row_order)
    if (has(t.rows, r) && r != spec.metric) order.push_back(r);
  for (const auto& r : t.rows)
    if (!has(order, r) && r != spec.metric) order.push_back(r);
  if (has(t.rows, spec.metric)) order.push_back(spec.metric);
  reorder_rows(t, order);
}

void fill_dataset_table(ViewData& v, const ReportModel& m, const CellIndex& index, ReportStats& stats) {
  std::map<std::int64_t, ValueTable> tables;  // by window
  const std::string& ref = m.settings.compared_with();
  bool has_ref = false;
  for (const auto& [key, list] : index) has_ref = has_ref || key.first == ref;
  v.reference = has_ref ? ref : "";
  for (const auto& [key, list] : index) {
    ValueTable& t = tables[key.second];
    for (const auto& [name, value] : list.front()->json["metrics"].items()) {
      auto cv = value_of(list, name, "");
      if (!cv) continue;
      cv->interval = stats.interval(list, name, "");
      if (!v.reference.empty() && key.first != v.reference)
        if (const SeedCells* r = cells_at(index, v.reference, key.second))
          cv->vs_reference = stats.compare(list, *r, name, "", v.spec.higher_is_better, v.reference);
      note_value(v, cv->value);
      t.values[{index_of(t.rows, name), backend_row(m, key.first)}] = *cv;
    }
  }
  for (auto& [window, t] : tables) {
    order_dataset_rows(t, v.spec);
    t.columns = m.backends;
    v.by_window.emplace_back(window, std::move(t));
  }
}

// The views a task's cells declare; cells from before views were recorded ask the plugin.
std::vector<ReportView> declared_views(const ReportModel& m, const LoadedCell& first) {
  const json& task = first.json["task"];
  if (task.contains("views")) {
    try {
      return views_from_json(task["views"], "task");
    } catch (const Error& e) {
      throw Error(first.path.string() + ": not a valid e2llm cell (" + e.what() +
                  "); delete it and rerun `e2llm sweep` to recompute it");
    }
  }
  if (m.options.views_of_plugin) return m.options.views_of_plugin(task["plugin"]);
  return {};
}

TaskSection build_section(const ReportModel& m, const std::string& label, const Cells& cells, ReportStats& stats) {
  TaskSection section{label, cells.front()->json["task"]["plugin"], {}};
  const CellIndex index = index_cells(cells);
  for (auto& spec : declared_views(m, *cells.front())) {
    ViewData v;
    v.spec = std::move(spec);
    switch (v.spec.kind) {
      case ViewKind::window_curve:
        fill_window_curve(v, m, cells, index, stats);
        break;
      case ViewKind::grid:
        fill_grid(v, m, index, stats);
        break;
      case ViewKind::dataset_table:
        fill_dataset_table(v, m, index, stats);
        break;
    }
    provenance_warnings(v, v.spec.title + " — " + label, cells);
    section.views.push_back(std::move(v));
  }
  return section;
}

// Sections lead with what is plotted: tasks whose first view is a charted curve, then other
// curves, grids, and per-dataset tables.
int presentation_rank(const TaskSection& s) {
  const ReportView& first = s.views.front().spec;
  switch (first.kind) {
    case ViewKind::window_curve:
      return first.chart != ChartScale::none ? 0 : 1;
    case ViewKind::grid:
      return 2;
    case ViewKind::dataset_table:
      return 3;
  }
  return 4;
}

}  // namespace

std::vector<TaskSection> build_sections(const ReportModel& m, const std::vector<LoadedCell>& cells,
                                        const std::vector<std::string>& task_order) {
  std::vector<std::string> labels;
  std::map<std::string, Cells> by_task;
  for (const auto& c : cells) {
    by_task[c.task()].push_back(&c);
    index_of(labels, c.task());
  }
  std::vector<std::string> order;
  for (const auto& label : task_order)
    if (by_task.count(label)) order.push_back(label);
  for (const auto& label : labels)
    if (std::find(order.begin(), order.end(), label) == order.end()) order.push_back(label);
  ReportStats stats(m.settings);
  std::vector<TaskSection> sections;
  for (const auto& label : order) {
    TaskSection section = build_section(m, label, by_task[label], stats);
    if (!section.views.empty()) sections.push_back(std::move(section));
  }
  std::stable_sort(sections.begin(), sections.end(), [](const TaskSection& a, const TaskSection& b) {
    return presentation_rank(a) < presentation_rank(b);
  });
  return sections;
}

std::vector<GenericView> build_headline(const ReportModel& m, const std::vector<LoadedCell>& cells) {
  std::vector<GenericView> out;
  std::map<std::string, Cells> by_task;
  std::vector<std::string> order;
  for (const auto& c : cells) {
    by_task[c.task()].push_back(&c);
    index_of(order, c.task());
  }
  ReportStats stats(m.settings);
  for (const auto& label : order) {
    const Cells& list = by_task[label];
    const json& task = list.front()->json["task"];
    GenericView v{label, task["plugin"], "", true, backends_x_windows(m)};
    if (task.contains("metrics_info") && task["metrics_info"].is_array() && !task["metrics_info"].empty()) {
      v.metric = task["metrics_info"][0].value("name", "");
      v.higher_is_better = task["metrics_info"][0].value("higher_is_better", true);
    }
    if (v.metric.empty() && !list.front()->json["metrics"].empty())
      v.metric = list.front()->json["metrics"].begin().key();
    for (const auto& [key, seeds] : index_cells(list))
      if (auto cv = value_of(seeds, v.metric, "")) {
        cv->interval = stats.interval(seeds, v.metric, "");
        v.table.values[{backend_row(m, key.first), window_col(m, key.second)}] = *cv;
      }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace e2llm::harness
