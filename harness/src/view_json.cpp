#include "e2llm/harness/view_json.hpp"

#include <utility>

#include "e2llm/error.hpp"

namespace e2llm::harness {
using nlohmann::json;

namespace {

template <class Enum>
using Names = std::vector<std::pair<Enum, const char*>>;

const Names<ViewKind>& kind_names() {
  static const Names<ViewKind> names = {
      {ViewKind::window_curve, "window_curve"}, {ViewKind::grid, "grid"}, {ViewKind::dataset_table, "dataset_table"}};
  return names;
}
const Names<ValueFormat>& format_names() {
  static const Names<ValueFormat> names = {{ValueFormat::number, "number"}, {ValueFormat::percent, "percent"}};
  return names;
}
const Names<WindowSummary>& summary_names() {
  static const Names<WindowSummary> names = {
      {WindowSummary::none, "none"}, {WindowSummary::mean, "mean"}, {WindowSummary::geometric_mean, "geometric_mean"}};
  return names;
}
const Names<ChartScale>& chart_names() {
  static const Names<ChartScale> names = {
      {ChartScale::none, "none"}, {ChartScale::linear, "linear"}, {ChartScale::log, "log"}};
  return names;
}

template <class Enum>
std::string name_of(const Names<Enum>& names, Enum value) {
  for (const auto& [v, name] : names)
    if (v == value) return name;
  return "?";
}

// Reads the fields of one JSON object with located errors.
class Fields {
 public:
  Fields(const json& object, std::string where) : object_(object), where_(std::move(where)) {
    if (!object_.is_object()) throw Error(where_ + ": expected an object");
  }
  std::string text(const char* key, const std::string& fallback = "") const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_string()) fail(key, "expected a string");
    return v->get<std::string>();
  }
  bool flag(const char* key, bool fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_boolean()) fail(key, "expected true or false");
    return v->get<bool>();
  }
  std::optional<double> number(const char* key) const {
    const json* v = find(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_number()) fail(key, "expected a number");
    return v->get<double>();
  }
  template <class Enum>
  Enum choice(const char* key, const Names<Enum>& names, Enum fallback) const {
    if (!find(key)) return fallback;
    std::string name = text(key), known;
    for (const auto& [value, n] : names) {
      if (name == n) return value;
      known += (known.empty() ? "" : ", ") + std::string(n);
    }
    fail(key, "'" + name + "' is not one of " + known);
  }
  const json* find(const char* key) const {
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }
  std::string at(const char* key) const { return where_ + "." + key; }
  [[noreturn]] void fail(const char* key, const std::string& what) const { throw Error(at(key) + ": " + what); }

 private:
  const json& object_;
  std::string where_;
};

json reference_to_json(const ReferenceColumn& r) {
  json values = json::array();
  for (const auto& v : r.values) {
    json item = {{"row", v.row}, {"value", v.value}, {"decimals", v.decimals}};
    if (!v.footnote.empty()) item["footnote"] = v.footnote;
    if (v.window_ratio > 0) item["window_ratio"] = v.window_ratio;
    values.push_back(item);
  }
  json out = {{"label", r.label}, {"tag", r.tag}, {"source", r.source}, {"values", values}};
  if (!r.base_row.empty()) out["base_row"] = r.base_row;
  return out;
}

ReferenceColumn reference_from_json(const json& j, const std::string& where) {
  Fields f(j, where);
  ReferenceColumn r{f.text("label"), f.text("tag"), f.text("source"), {}, f.text("base_row")};
  const json* values = f.find("values");
  if (values && !values->is_array()) f.fail("values", "expected an array");
  for (std::size_t i = 0; values && i < values->size(); ++i) {
    Fields v((*values)[i], f.at("values") + "[" + std::to_string(i) + "]");
    auto value = v.number("value");
    if (!value) v.fail("value", "is missing");
    auto decimals = v.number("decimals").value_or(1);
    if (decimals < 0 || decimals > 9) v.fail("decimals", "must be 0..9");
    const double ratio = v.number("window_ratio").value_or(0);
    if (ratio < 0) v.fail("window_ratio", "must be > 0 (W / L of the published window)");
    r.values.push_back({v.text("row"), *value, int(decimals), v.text("footnote"), ratio});
  }
  return r;
}

std::vector<std::string> strings_from_json(const Fields& f, const char* key) {
  std::vector<std::string> out;
  const json* list = f.find(key);
  if (!list) return out;
  if (!list->is_array()) f.fail(key, "expected an array of strings");
  for (const auto& item : *list) {
    if (!item.is_string()) f.fail(key, "expected an array of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

json view_to_json(const ReportView& v) {
  json out = {{"kind", name_of(kind_names(), v.kind)},      {"title", v.title},       {"metric", v.metric},
              {"higher_is_better", v.higher_is_better},     {"quantity", v.quantity}, {"note", v.note},
              {"format", name_of(format_names(), v.format)}};
  if (v.note_html) out["note_html"] = *v.note_html;
  if (v.kind == ViewKind::window_curve) {
    out["chart"] = name_of(chart_names(), v.chart);
    out["summary"] = name_of(summary_names(), v.summary);
    if (v.pass_threshold) out["pass_threshold"] = *v.pass_threshold;
    if (!v.threshold_key.empty()) out["threshold_key"] = v.threshold_key;
    if (v.relative_threshold) out["relative_threshold"] = *v.relative_threshold;
  }
  if (!v.row_label.empty()) out["row_label"] = v.row_label;
  if (!v.row_order.empty()) out["row_order"] = v.row_order;
  if (!v.references.empty()) {
    out["references"] = json::array();
    for (const auto& r : v.references) out["references"].push_back(reference_to_json(r));
  }
  return out;
}

ReportView view_from_json(const json& j, const std::string& where) {
  Fields f(j, where);
  ReportView v;
  if (!f.find("kind")) f.fail("kind", "is missing");
  v.kind = f.choice("kind", kind_names(), ViewKind::window_curve);
  v.title = f.text("title");
  v.metric = f.text("metric");
  if (v.metric.empty()) f.fail("metric", "is missing");
  v.higher_is_better = f.flag("higher_is_better", true);
  v.quantity = f.text("quantity", v.metric);
  v.note = f.text("note");
  if (f.find("note_html")) v.note_html = f.text("note_html");
  v.format = f.choice("format", format_names(), ValueFormat::number);
  v.chart = f.choice("chart", chart_names(), ChartScale::none);
  v.summary = f.choice("summary", summary_names(), WindowSummary::none);
  v.pass_threshold = f.number("pass_threshold");
  v.threshold_key = f.text("threshold_key");
  v.relative_threshold = f.number("relative_threshold");
  if (v.relative_threshold && !(*v.relative_threshold > 0)) f.fail("relative_threshold", "must be > 0");
  v.row_label = f.text("row_label");
  v.row_order = strings_from_json(f, "row_order");
  if (const json* refs = f.find("references")) {
    if (!refs->is_array()) f.fail("references", "expected an array");
    for (std::size_t i = 0; i < refs->size(); ++i)
      v.references.push_back(reference_from_json((*refs)[i], f.at("references") + "[" + std::to_string(i) + "]"));
  }
  return v;
}

}  // namespace

json views_to_json(const std::vector<ReportView>& views) {
  json out = json::array();
  for (const auto& v : views) out.push_back(view_to_json(v));
  return out;
}

std::vector<ReportView> views_from_json(const json& views, const std::string& where) {
  if (!views.is_array()) throw Error(where + ".views: expected an array");
  std::vector<ReportView> out;
  for (std::size_t i = 0; i < views.size(); ++i)
    out.push_back(view_from_json(views[i], where + ".views[" + std::to_string(i) + "]"));
  return out;
}

}  // namespace e2llm::harness
