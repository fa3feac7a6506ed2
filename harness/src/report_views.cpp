// Fills the views each task declared (e2llm/report_view.hpp) from its cells: one builder
// per kind of view. The harness knows no task; the cells say what to show.
#include <algorithm>
#include <cmath>
#include <map>

#include "e2llm/error.hpp"
#include "e2llm/harness/view_json.hpp"
#include "report_internal.hpp"

namespace e2llm::harness {
using nlohmann::json;

namespace {

using Cells = std::vector<const LoadedCell*>;

const json* metric_of(const LoadedCell& c, const std::string& name) {
  const json& metrics = c.json["metrics"];
  auto it = metrics.find(name);
  return it == metrics.end() ? nullptr : &*it;
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

// One number per row over the windows W > L: the mean or geometric mean, best first.
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
    out.push_back({t.rows[r], geometric ? std::exp(sum / double(n)) : sum / double(n), 0});
  }
  auto better = [&](const ExtendedSummary& a, const ExtendedSummary& b) {
    return spec.higher_is_better ? a.value > b.value : a.value < b.value;
  };
  std::stable_sort(out.begin(), out.end(), better);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i].rank = i > 0 && !better(out[i - 1], out[i]) ? out[i - 1].rank : i + 1;
  return out;
}

// --threshold, else the task config's `threshold_key`, else the view's own threshold.
std::optional<double> threshold_of(const ReportModel& m, const ReportView& spec, const LoadedCell& first) {
  if (!spec.pass_threshold) return std::nullopt;
  if (m.options.threshold) return m.options.threshold;
  const json& task = first.json["task"];
  if (!spec.threshold_key.empty() && task.contains("config") && task["config"].is_object())
    if (auto t = finite_number(task["config"].value(spec.threshold_key, json()))) return t;
  return spec.pass_threshold;
}

// The largest window each backend passes at, from the smallest window up, stopping at the
// first failure (a window it was not evaluated at neither passes nor fails).
void max_window_passing(ViewData& v, const ReportModel& m) {
  const double threshold = *v.threshold * (v.percent ? 100.0 : 1.0);
  for (std::size_t r = 0; r < m.backends.size(); ++r) {
    std::optional<std::int64_t> best;
    for (std::size_t c = 0; c < m.windows.size(); ++c) {
      const CellValue* value = v.table.at(r, c);
      if (!value) continue;
      if (v.spec.higher_is_better ? value->value < threshold : value->value > threshold) break;
      best = m.windows[c];
    }
    v.max_window_passing.emplace_back(m.backends[r], best);
  }
}

void fill_window_curve(ViewData& v, const ReportModel& m, const Cells& cells) {
  v.table = backends_x_windows(m);
  for (const LoadedCell* c : cells)
    if (const json* metric = metric_of(*c, v.spec.metric))
      if (auto value = finite_number(*metric)) {
        v.table.values[{backend_row(m, c->backend()), window_col(m, c->window())}] = {*value, c->file};
        note_value(v, *value);
      }
  v.threshold = threshold_of(m, v.spec, *cells.front());
  if (v.threshold) max_window_passing(v, m);
  v.extended = extended_summary(m, v.table, v.spec);
}

void fill_grid(ViewData& v, const ReportModel& m, const Cells& cells) {
  std::map<std::string, ValueTable> tables;  // by backend
  for (const LoadedCell* c : cells) {
    const json* metric = metric_of(*c, v.spec.metric);
    if (!metric || !metric->is_object()) continue;
    for (const auto& [row, value] : metric->items()) {
      auto number = finite_number(value);
      if (!number) continue;
      ValueTable& t = tables[c->backend()];
      if (t.columns.empty()) t.columns = window_labels(m);
      t.values[{index_of(t.rows, row), window_col(m, c->window())}] = {*number, c->file};
      note_value(v, *number);
    }
  }
  for (const auto& backend : m.backends) {  // the sweep's order
    auto found = tables.find(backend);
    if (found == tables.end()) continue;
    sort_rows_numerically(found->second);
    v.by_backend.emplace_back(backend, std::move(found->second));
  }
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

void fill_dataset_table(ViewData& v, const ReportModel& m, const Cells& cells) {
  std::map<std::int64_t, ValueTable> tables;  // by window
  for (const LoadedCell* c : cells) {
    ValueTable& t = tables[c->window()];
    for (const auto& [name, value] : c->json["metrics"].items())
      if (auto number = finite_number(value)) {
        t.values[{index_of(t.rows, name), backend_row(m, c->backend())}] = {*number, c->file};
        note_value(v, *number);
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

TaskSection build_section(const ReportModel& m, const std::string& label, const Cells& cells) {
  TaskSection section{label, cells.front()->json["task"]["plugin"], {}};
  for (auto& spec : declared_views(m, *cells.front())) {
    ViewData v;
    v.spec = std::move(spec);
    switch (v.spec.kind) {
      case ViewKind::window_curve:
        fill_window_curve(v, m, cells);
        break;
      case ViewKind::grid:
        fill_grid(v, m, cells);
        break;
      case ViewKind::dataset_table:
        fill_dataset_table(v, m, cells);
        break;
    }
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
  std::vector<TaskSection> sections;
  for (const auto& label : order) {
    TaskSection section = build_section(m, label, by_task[label]);
    if (!section.views.empty()) sections.push_back(std::move(section));
  }
  std::stable_sort(sections.begin(), sections.end(), [](const TaskSection& a, const TaskSection& b) {
    return presentation_rank(a) < presentation_rank(b);
  });
  return sections;
}

}  // namespace e2llm::harness
