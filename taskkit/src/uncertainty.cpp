#include "e2llm/taskkit/uncertainty.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>

#include "e2llm/error.hpp"
#include "e2llm/taskkit/seeded_rng.hpp"

namespace e2llm::taskkit {
using nlohmann::json;

void ItemTable::check(const std::string& where) const {
  std::set<std::string> seen;
  for (const auto& id : ids)
    if (!seen.insert(id).second) throw Error(where + ": item id '" + id + "' repeats (ids must be unique)");
  if (!strata.empty() && strata.size() != ids.size())
    throw Error(fmt::format("{}: {} strata for {} items", where, strata.size(), ids.size()));
  for (const auto& [name, values] : columns)
    if (values.size() != ids.size())
      throw Error(fmt::format("{}: column '{}' has {} values for {} items", where, name, values.size(), ids.size()));
}

namespace {

bool selected(const ItemTable& t, const MetricSpec& spec, std::size_t i) {
  return spec.stratum.empty() || (!t.strata.empty() && t.strata[i] == spec.stratum);
}

const std::vector<double>& column(const ItemTable& t, const std::string& name) {
  auto it = t.columns.find(name);
  if (it == t.columns.end()) throw Error("uncertainty: the items have no column '" + name + "'");
  return it->second;
}

// The statistic, or nothing when a denominator is zero (no item counted).
std::optional<double> try_estimate(const ItemTable& t, const MetricSpec& spec, const std::vector<double>* counts) {
  const std::vector<double>& v = column(t, spec.value);
  const std::vector<double>* w = spec.weight.empty() ? nullptr : &column(t, spec.weight);
  if (spec.statistic != Statistic::stratified_mean) {  // one ratio of sums (the common, fast case)
    double num = 0, den = 0;
    bool any = false;
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (!selected(t, spec, i)) continue;
      any = true;
      const double c = counts ? (*counts)[i] : 1.0;
      if (c == 0) continue;
      num += c * v[i];
      den += c * (w ? (*w)[i] : 1.0);
    }
    if (!any || !(den > 0)) return std::nullopt;
    return spec.statistic == Statistic::exp_ratio ? std::exp(num / den) : spec.scale * (num / den);
  }
  // Per stratum, in order of appearance: the mean of the strata's ratios.
  std::vector<std::string> order;
  std::unordered_map<std::string, std::pair<double, double>> sums;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (!selected(t, spec, i)) continue;
    const double c = counts ? (*counts)[i] : 1.0;
    const std::string key = t.strata.empty() ? "" : t.strata[i];
    auto [it, fresh] = sums.try_emplace(key, 0.0, 0.0);
    if (fresh) order.push_back(key);
    if (c == 0) continue;
    it->second.first += c * v[i];
    it->second.second += c * (w ? (*w)[i] : 1.0);
  }
  if (order.empty()) return std::nullopt;
  double total = 0;
  for (const auto& key : order) {
    const auto& [num, den] = sums[key];
    if (!(den > 0)) return std::nullopt;
    total += num / den;
  }
  return spec.scale * (total / double(order.size()));
}

// The units of a bootstrap (docs/statistics.md, "Resampling (the exact draws)"): distinct ids, grouped.
struct Units {
  std::vector<std::vector<std::size_t>> groups;  // unit indices, in order of first appearance
  std::size_t count = 0;
  // Per table (in `tables` order): the unit of each item, or -1 when the item does not count.
  std::vector<std::vector<std::ptrdiff_t>> item_unit;
};

// tables[k] = the tables of window k (both sides when paired).
Units make_units(const std::vector<std::vector<const ItemTable*>>& tables, const MetricSpec& spec) {
  Units u;
  std::unordered_map<std::string, std::size_t> unit_of;
  std::map<std::pair<std::size_t, std::string>, std::size_t> group_of;
  const bool by_stratum = spec.statistic == Statistic::stratified_mean;
  for (std::size_t k = 0; k < tables.size(); ++k) {
    // The ids every table of this window holds (selected by the spec's stratum).
    std::unordered_map<std::string, std::size_t> holders;
    for (const ItemTable* t : tables[k])
      for (std::size_t i = 0; i < t->size(); ++i)
        if (selected(*t, spec, i)) ++holders[t->ids[i]];
    for (const ItemTable* t : tables[k]) {
      std::vector<std::ptrdiff_t> units(t->size(), -1);
      for (std::size_t i = 0; i < t->size(); ++i) {
        if (!selected(*t, spec, i) || holders[t->ids[i]] != tables[k].size()) continue;
        auto [it, fresh] = unit_of.try_emplace(t->ids[i], u.count);
        if (fresh) {
          ++u.count;
          const std::string stratum = by_stratum && !t->strata.empty() ? t->strata[i] : "";
          auto [g, new_group] = group_of.try_emplace({k, stratum}, u.groups.size());
          if (new_group) u.groups.emplace_back();
          u.groups[g->second].push_back(it->second);
        }
        units[i] = std::ptrdiff_t(it->second);
      }
      u.item_unit.push_back(std::move(units));
    }
  }
  return u;
}

// One side's statistic with the item counts of its tables (`first` = index of its first
// table in the flattened per-window order).
struct Layout {
  // flat index of table (window k, replicate r) of side a / b
  std::vector<std::vector<std::size_t>> a, b;
};

std::optional<double> side_value(const Side& side, const std::vector<std::vector<std::size_t>>& index,
                                 const std::vector<std::vector<double>>& counts, const MetricSpec& spec,
                                 Combine combine) {
  double total = 0;
  for (std::size_t k = 0; k < side.windows.size(); ++k) {
    double sum = 0;
    for (std::size_t r = 0; r < side.windows[k].size(); ++r) {
      auto v = try_estimate(*side.windows[k][r], spec, &counts[index[k][r]]);
      if (!v) return std::nullopt;
      sum += *v;
    }
    const double mean = sum / double(side.windows[k].size());
    if (combine == Combine::geometric_mean) {
      if (!(mean > 0)) return std::nullopt;
      total += std::log(mean);
    } else {
      total += mean;
    }
  }
  const double n = double(side.windows.size());
  return combine == Combine::geometric_mean ? std::exp(total / n) : total / n;
}

void check_side(const Side& s, const char* what) {
  if (s.windows.empty()) throw Error(std::string("bootstrap: ") + what + " has no window");
  for (const auto& w : s.windows)
    if (w.empty()) throw Error(std::string("bootstrap: ") + what + " has a window without a table");
}

BootstrapResult run(const Side& a, const Side* b, const MetricSpec& spec, Combine combine, bool ratio,
                    const BootstrapOptions& options) {
  check_level(options.level, "bootstrap");
  if (options.resamples < 1) throw Error("bootstrap: resamples must be >= 1");
  check_side(a, "side A");
  if (b) {
    check_side(*b, "side B");
    if (b->windows.size() != a.windows.size()) throw Error("paired bootstrap: the two sides differ in windows");
  }
  std::vector<std::vector<const ItemTable*>> tables(a.windows.size());
  Layout layout;
  std::size_t flat = 0;
  for (std::size_t k = 0; k < a.windows.size(); ++k) {
    layout.a.emplace_back();
    for (const ItemTable* t : a.windows[k]) tables[k].push_back(t), layout.a[k].push_back(flat++);
    if (b) {
      layout.b.emplace_back();
      for (const ItemTable* t : b->windows[k]) tables[k].push_back(t), layout.b[k].push_back(flat++);
    }
  }
  const Units units = make_units(tables, spec);
  BootstrapResult result;
  result.units = std::int64_t(units.count);
  if (units.count == 0) throw Error(b ? "paired bootstrap: the two sides share no item" : "bootstrap: no item");

  std::vector<std::vector<double>> counts(flat);
  auto set_counts = [&](const std::vector<double>& unit_counts) {
    std::size_t t = 0;
    for (const auto& per_window : tables)
      for (std::size_t r = 0; r < per_window.size(); ++r, ++t) {
        counts[t].assign(units.item_unit[t].size(), 0.0);
        for (std::size_t i = 0; i < counts[t].size(); ++i)
          if (units.item_unit[t][i] >= 0) counts[t][i] = unit_counts[std::size_t(units.item_unit[t][i])];
      }
  };
  auto value = [&]() -> std::optional<double> {
    auto va = side_value(a, layout.a, counts, spec, combine);
    if (!b || !va) return va;
    auto vb = side_value(*b, layout.b, counts, spec, combine);
    if (!vb) return std::nullopt;
    if (!ratio) return *va - *vb;
    if (!(*vb != 0)) return std::nullopt;
    return *va / *vb;
  };

  set_counts(std::vector<double>(units.count, 1.0));
  auto point = value();
  if (!point) throw Error("bootstrap: the statistic is undefined on the data (no weight)");
  result.estimate = *point;

  SeededRng rng(options.seed);
  std::vector<double> unit_counts(units.count);
  result.draws.reserve(std::size_t(options.resamples));
  for (std::int64_t rep = 0; rep < options.resamples; ++rep) {
    std::fill(unit_counts.begin(), unit_counts.end(), 0.0);
    for (const auto& group : units.groups)
      for (std::size_t j = 0; j < group.size(); ++j)
        unit_counts[group[std::size_t(rng.uniform_int(0, std::int64_t(group.size()) - 1))]] += 1;
    set_counts(unit_counts);
    if (auto v = value())
      result.draws.push_back(*v);
    else
      ++result.skipped;
  }
  if (result.draws.empty()) throw Error("bootstrap: the statistic is undefined in every resample");
  result.interval = percentile_interval(result.draws, options.level);
  return result;
}

}  // namespace

double estimate(const ItemTable& items, const MetricSpec& spec, const std::vector<double>* counts) {
  auto v = try_estimate(items, spec, counts);
  if (!v) throw Error("uncertainty: no item with weight counts for this statistic");
  return *v;
}

BootstrapResult bootstrap(const Side& a, const MetricSpec& spec, Combine combine, const BootstrapOptions& options) {
  return run(a, nullptr, spec, combine, false, options);
}

BootstrapResult paired_bootstrap(const Side& a, const Side& b, const MetricSpec& spec, Combine combine, bool ratio,
                                 const BootstrapOptions& options) {
  return run(a, &b, spec, combine, ratio, options);
}

McNemarResult mcnemar(const ItemTable& a, const ItemTable& b, const MetricSpec& spec) {
  const auto& va = column(a, spec.value);
  const auto& vb = column(b, spec.value);
  std::unordered_map<std::string, std::size_t> in_b;
  for (std::size_t i = 0; i < b.size(); ++i)
    if (selected(b, spec, i)) in_b[b.ids[i]] = i;
  McNemarResult r;
  std::int64_t right_a = 0, right_b = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!selected(a, spec, i)) continue;
    auto j = in_b.find(a.ids[i]);
    if (j == in_b.end()) continue;
    const bool x = va[i] != 0, y = vb[j->second] != 0;
    ++r.n;
    right_a += x;
    right_b += y;
    r.only_a += x && !y;
    r.only_b += y && !x;
  }
  if (r.n == 0) throw Error("McNemar: the two cells share no item");
  r.p_value = mcnemar_exact_p(r.only_a, r.only_b);
  r.difference = spec.scale * double(right_a - right_b) / double(r.n);
  return r;
}

std::uint64_t bootstrap_seed(std::uint64_t seed, const std::string& name) {
  return derive_seed(seed, "bootstrap/" + name);
}

std::string statistic_name(Statistic s) {
  switch (s) {
    case Statistic::ratio:
      return "ratio";
    case Statistic::exp_ratio:
      return "exp_ratio";
    case Statistic::stratified_mean:
      return "stratified_mean";
  }
  return "?";
}

std::string test_name(PairedTest t) {
  switch (t) {
    case PairedTest::bootstrap_ratio:
      return "bootstrap_ratio";
    case PairedTest::bootstrap_difference:
      return "bootstrap_difference";
    case PairedTest::mcnemar_exact:
      return "mcnemar_exact";
  }
  return "?";
}

json item_table_to_json(const ItemTable& items) {
  json out = {{"id", items.ids}, {"columns", json::object()}};
  if (!items.strata.empty()) out["stratum"] = items.strata;
  for (const auto& [name, values] : items.columns) out["columns"][name] = values;
  return out;
}

ItemTable item_table_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": expected an object");
  auto strings = [&](const char* key, bool required) {
    std::vector<std::string> out;
    auto it = j.find(key);
    if (it == j.end()) {
      if (required) throw Error(where + "." + key + ": is missing");
      return out;
    }
    if (!it->is_array()) throw Error(where + "." + key + ": expected an array of strings");
    for (const auto& s : *it) {
      if (!s.is_string()) throw Error(where + "." + key + ": expected an array of strings");
      out.push_back(s.get<std::string>());
    }
    return out;
  };
  ItemTable t;
  t.ids = strings("id", true);
  t.strata = strings("stratum", false);
  auto cols = j.find("columns");
  if (cols == j.end() || !cols->is_object()) throw Error(where + ".columns: expected an object of number arrays");
  for (const auto& [name, values] : cols->items()) {
    if (!values.is_array()) throw Error(where + ".columns." + name + ": expected an array of numbers");
    std::vector<double>& out = t.columns[name];
    for (const auto& v : values) {
      if (!v.is_number() || !std::isfinite(v.get<double>()))
        throw Error(where + ".columns." + name + ": expected finite numbers");
      out.push_back(v.get<double>());
    }
  }
  t.check(where);
  return t;
}

json metric_spec_to_json(const MetricSpec& s) {
  json out = {{"statistic", statistic_name(s.statistic)}, {"value", s.value}, {"test", test_name(s.test)}};
  if (!s.weight.empty()) out["weight"] = s.weight;
  if (!s.stratum.empty()) out["stratum"] = s.stratum;
  if (s.scale != 1.0) out["scale"] = s.scale;
  if (s.wilson) out["wilson"] = true;
  return out;
}

MetricSpec metric_spec_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": expected an object");
  auto text = [&](const char* key, bool required) -> std::string {
    auto it = j.find(key);
    if (it == j.end()) {
      if (required) throw Error(where + "." + key + ": is missing");
      return "";
    }
    if (!it->is_string()) throw Error(where + "." + key + ": expected a string");
    return it->get<std::string>();
  };
  MetricSpec s;
  const std::string statistic = text("statistic", true), test = text("test", true);
  bool known = false;
  for (auto st : {Statistic::ratio, Statistic::exp_ratio, Statistic::stratified_mean})
    if (statistic == statistic_name(st)) s.statistic = st, known = true;
  if (!known) throw Error(where + ".statistic: '" + statistic + "' is not ratio, exp_ratio or stratified_mean");
  known = false;
  for (auto t : {PairedTest::bootstrap_ratio, PairedTest::bootstrap_difference, PairedTest::mcnemar_exact})
    if (test == test_name(t)) s.test = t, known = true;
  if (!known)
    throw Error(where + ".test: '" + test + "' is not bootstrap_ratio, bootstrap_difference or mcnemar_exact");
  s.value = text("value", true);
  s.weight = text("weight", false);
  s.stratum = text("stratum", false);
  if (auto it = j.find("scale"); it != j.end()) {
    if (!it->is_number()) throw Error(where + ".scale: expected a number");
    s.scale = it->get<double>();
  }
  if (auto it = j.find("wilson"); it != j.end()) {
    if (!it->is_boolean()) throw Error(where + ".wilson: expected true or false");
    s.wilson = it->get<bool>();
  }
  return s;
}

json metric_intervals(const ItemTable& items, const MetricSpec& spec, const BootstrapOptions& options,
                      const std::string& name) {
  json out = json::array();
  if (spec.wilson) {
    const auto& v = column(items, spec.value);
    std::int64_t k = 0, n = 0;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!selected(items, spec, i)) continue;
      if (v[i] != 0 && v[i] != 1)
        throw Error("uncertainty: a Wilson interval needs 0/1 values in '" + spec.value + "'");
      k += v[i] != 0;
      ++n;
    }
    const Interval w = wilson_interval(k, n, options.level);
    out.push_back({{"method", "wilson"},
                   {"low", spec.scale * w.low},
                   {"high", spec.scale * w.high},
                   {"level", options.level},
                   {"successes", k},
                   {"n", n}});
  }
  BootstrapOptions o = options;
  o.seed = bootstrap_seed(options.seed, name);
  const BootstrapResult b = bootstrap(Side{{{&items}}}, spec, Combine::mean, o);
  json boot = {{"method", "bootstrap_percentile"},
               {"low", b.interval.low},
               {"high", b.interval.high},
               {"level", options.level},
               {"resamples", options.resamples},
               {"seed", o.seed},
               {"n", b.units}};
  if (b.skipped) boot["skipped"] = b.skipped;
  out.push_back(boot);
  return out;
}

namespace {

json metric_json(const ItemTable& items, const MetricSpec& spec, const BootstrapOptions& options,
                 const std::string& name) {
  json out = metric_spec_to_json(spec);
  std::int64_t n = 0;
  for (std::size_t i = 0; i < items.size(); ++i) n += selected(items, spec, i) ? 1 : 0;
  out["n"] = n;
  out["estimate"] = estimate(items, spec);
  out["intervals"] = metric_intervals(items, spec, options, name);
  return out;
}

}  // namespace

json UncertaintyBuilder::to_json() const {
  items_.check("uncertainty.items");
  json metrics = json::object();
  for (const auto& [name, spec] : metrics_) metrics[name] = metric_json(items_, spec, options_, name);
  for (const auto& [name, rows] : rows_) {
    json out = json::object();
    for (const auto& [row, spec] : rows) out[row] = metric_json(items_, spec, options_, name + "/" + row);
    metrics[name] = {{"rows", out}};
  }
  return {{"level", options_.level},
          {"resamples", options_.resamples},
          {"seed", options_.seed},
          {"items", item_table_to_json(items_)},
          {"metrics", metrics}};
}

}  // namespace e2llm::taskkit
