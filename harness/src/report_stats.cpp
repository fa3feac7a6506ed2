// The report's statistics (docs/statistics.md): intervals of the values it shows and paired
// comparisons between backends, all from the items the cells recorded (their "uncertainty"),
// computed by the task kit. Nothing here knows a task: the cells say how each metric is
// computed from its items and how two cells on the same items compare.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "e2llm/error.hpp"
#include "report_internal.hpp"

namespace e2llm::harness {
using nlohmann::json;
namespace tk = taskkit;

std::string verdict_word(Verdict v) {
  switch (v) {
    case Verdict::better:
      return "better";
    case Verdict::worse:
      return "worse";
    case Verdict::not_separable:
      return "not separable";
    case Verdict::not_comparable:
      return "not comparable";
  }
  return "?";
}

const CellUncertainty* ReportStats::of(const LoadedCell& cell) {
  auto [it, fresh] = cache_.try_emplace(cell.file);
  if (!fresh) return it->second ? &*it->second : nullptr;
  auto u = cell.json.find("uncertainty");
  if (u == cell.json.end() || !u->is_object() || u->empty()) return nullptr;
  try {
    CellUncertainty c;
    if (!u->contains("items")) throw Error("uncertainty.items: is missing");
    c.items = tk::item_table_from_json((*u)["items"], "uncertainty.items");
    auto number = [&](const char* key) {
      auto v = u->find(key);
      if (v == u->end() || !v->is_number()) throw Error(std::string("uncertainty.") + key + ": expected a number");
      return *v;
    };
    c.level = number("level").get<double>();
    c.resamples = number("resamples").get<std::int64_t>();
    c.seed = number("seed").get<std::uint64_t>();
    if (!u->contains("metrics") || !(*u)["metrics"].is_object()) throw Error("uncertainty.metrics: expected an object");
    c.metrics = (*u)["metrics"];
    it->second = std::move(c);
  } catch (const Error& e) {
    cache_.erase(it);
    throw Error(cell.path.string() + ": not a valid e2llm cell (" + e.what() +
                "); delete it and rerun `e2llm sweep` to recompute it");
  }
  return &*it->second;
}

namespace {

// The stored entry of a metric (or of a grid metric's row) in a cell's uncertainty.
const json* stored_entry(const CellUncertainty& u, const std::string& metric, const std::string& row) {
  auto m = u.metrics.find(metric);
  if (m == u.metrics.end() || !m->is_object()) return nullptr;
  if (row.empty()) return m->contains("statistic") ? &*m : nullptr;
  auto rows = m->find("rows");
  if (rows == m->end() || !rows->is_object()) return nullptr;
  auto r = rows->find(row);
  return r == rows->end() ? nullptr : &*r;
}

std::string stream_name(const std::string& metric, const std::string& row) {
  return row.empty() ? metric : metric + "/" + row;
}

// Every pairing of A's and B's training seeds: equal seeds, or a single cell with each of
// the other side's.
std::vector<std::pair<const LoadedCell*, const LoadedCell*>> pair_seeds(const SeedCells& a, const SeedCells& b) {
  std::vector<std::pair<const LoadedCell*, const LoadedCell*>> out;
  if (a.size() == 1 || b.size() == 1) {
    for (const auto* x : a)
      for (const auto* y : b) out.emplace_back(x, y);
    return out;
  }
  for (const auto* x : a)
    for (const auto* y : b)
      if (x->training_seed() == y->training_seed()) out.emplace_back(x, y);
  return out;
}

Verdict verdict_of(const std::vector<PairedResult>& pairs) {
  bool all_better = true, all_worse = true;
  for (const auto& p : pairs) {
    all_better = all_better && p.significant && p.a_better;
    all_worse = all_worse && p.significant && !p.a_better;
  }
  if (pairs.empty()) return Verdict::not_comparable;
  return all_better ? Verdict::better : all_worse ? Verdict::worse : Verdict::not_separable;
}

}  // namespace

std::optional<tk::MetricSpec> ReportStats::spec(const LoadedCell& cell, const std::string& metric,
                                                const std::string& row) {
  const CellUncertainty* u = of(cell);
  if (!u) return std::nullopt;
  const json* entry = stored_entry(*u, metric, row);
  if (!entry) return std::nullopt;
  try {
    return tk::metric_spec_from_json(*entry, "uncertainty.metrics." + stream_name(metric, row));
  } catch (const Error& e) {
    throw Error(cell.path.string() + ": not a valid e2llm cell (" + e.what() +
                "); delete it and rerun `e2llm sweep` to recompute it");
  }
}

tk::BootstrapOptions ReportStats::options(const LoadedCell& cell, const std::string& stream) const {
  // The evaluation seed names the items; the stream names the comparison: deterministic.
  const std::uint64_t seed = cell.json.value("seed", std::uint64_t(0));
  return {settings_.level, settings_.resamples, tk::bootstrap_seed(seed, "report/" + stream)};
}

std::optional<ValueInterval> ReportStats::interval(const SeedCells& cells, const std::string& metric,
                                                   const std::string& row) {
  if (cells.empty()) return std::nullopt;
  std::vector<const tk::ItemTable*> tables;
  std::optional<tk::MetricSpec> first;
  for (const auto* c : cells) {
    auto s = spec(*c, metric, row);
    if (!s) return std::nullopt;
    if (!first) first = s;
    tables.push_back(&of(*c)->items);
  }
  const std::string name = stream_name(metric, row);
  try {
    if (cells.size() == 1) {
      const CellUncertainty& u = *of(*cells.front());
      const json* entry = stored_entry(u, metric, row);
      json intervals = entry->value("intervals", json::array());
      if (std::fabs(u.level - settings_.level) > 1e-12 || !intervals.is_array() || intervals.empty())
        intervals = tk::metric_intervals(u.items, *first, {settings_.level, u.resamples, u.seed}, name);
      const json& shown = intervals[0];
      if (!shown.contains("low") || !shown["low"].is_number() || !shown.contains("high") || !shown["high"].is_number())
        throw Error("uncertainty.metrics." + name + ".intervals[0]: expected numbers low and high");
      return ValueInterval{shown["low"], shown["high"], shown.value("method", ""), settings_.level};
    }
    if (first->wilson) {
      // A proportion: the Wilson interval of the seeds' mean accuracy on the n items (a
      // percentile bootstrap would collapse to a point at 0% or 100%).
      double mean = 0;
      for (const auto* t : tables) mean += tk::estimate(*t, *first);
      mean /= double(tables.size());
      const auto n = stored_entry(*of(*cells.front()), metric, row)->value("n", std::int64_t(0));
      const tk::Interval w =
          tk::wilson_interval_of_proportion(std::clamp(mean / first->scale, 0.0, 1.0), n, settings_.level);
      return ValueInterval{w.low * first->scale, w.high * first->scale, "wilson over seeds", settings_.level};
    }
    // The mean over seeds: every seed's items resampled together (the same items).
    const auto r =
        tk::bootstrap(tk::Side{{tables}}, *first, tk::Combine::mean, options(*cells.front(), "seeds/" + name));
    return ValueInterval{r.interval.low, r.interval.high, "bootstrap_percentile over seeds", settings_.level};
  } catch (const Error& e) {
    throw Error(cells.front()->path.string() + ": " + e.what());
  }
}

namespace {

// Why two cells cannot be compared item by item, or nothing when they can.
std::optional<std::string> incomparable(ReportStats& stats, const LoadedCell& a, const LoadedCell& b,
                                        const std::string& metric, const std::string& row) {
  if (a.json["task"].value("fingerprint", "") != b.json["task"].value("fingerprint", ""))
    return "scored with another task configuration";
  if (a.json.value("seed", std::uint64_t(0)) != b.json.value("seed", std::uint64_t(0)))
    return "scored on other items (another evaluation seed)";
  if (!stats.spec(a, metric, row) || !stats.spec(b, metric, row))
    return "a cell records no items for this metric (it predates intervals)";
  return std::nullopt;
}

PairedResult bootstrap_pair(const tk::BootstrapResult& r, bool ratio, bool higher_is_better, const std::string& test) {
  PairedResult p;
  p.test = test;
  p.estimate = r.estimate;
  p.low = r.interval.low;
  p.high = r.interval.high;
  p.n = r.units;
  const double null = ratio ? 1.0 : 0.0;
  p.significant = !(r.interval.low <= null && null <= r.interval.high);
  p.a_better = higher_is_better ? r.estimate > null : r.estimate < null;
  return p;
}

}  // namespace

Comparison ReportStats::compare(const SeedCells& a, const SeedCells& b, const std::string& metric,
                                const std::string& row, bool higher_is_better, const std::string& with) {
  Comparison out;
  out.with = with;
  const auto pairs = pair_seeds(a, b);
  if (pairs.empty()) {
    out.why = "no common training seed";
    return out;
  }
  for (const auto& [x, y] : pairs) {
    if (auto why = incomparable(*this, *x, *y, metric, row)) {
      out.why = *why;
      out.pairs.clear();
      return out;
    }
    const tk::MetricSpec s = *spec(*x, metric, row);
    const tk::ItemTable &ix = of(*x)->items, &iy = of(*y)->items;
    PairedResult p;
    try {
      if (s.test == tk::PairedTest::mcnemar_exact) {
        const tk::McNemarResult r = tk::mcnemar(ix, iy, s);
        p.test = tk::test_name(s.test);
        p.estimate = r.difference;
        p.p_value = r.p_value;
        p.n = r.n;
        p.significant = r.p_value < 1 - settings_.level;
        p.a_better = higher_is_better ? r.only_a > r.only_b : r.only_a < r.only_b;
      } else {
        const bool ratio = s.test == tk::PairedTest::bootstrap_ratio;
        const auto r = tk::paired_bootstrap(tk::Side{{{&ix}}}, tk::Side{{{&iy}}}, s, tk::Combine::mean, ratio,
                                            options(*x, "paired/" + stream_name(metric, row)));
        p = bootstrap_pair(r, ratio, higher_is_better, tk::test_name(s.test));
      }
    } catch (const Error& e) {
      out.why = e.what();
      out.pairs.clear();
      return out;
    }
    p.seed_a = x->training_seed();
    p.seed_b = y->training_seed();
    out.pairs.push_back(p);
  }
  out.verdict = verdict_of(out.pairs);
  return out;
}

Comparison ReportStats::compare_summary(const std::vector<SeedCells>& a, const std::vector<SeedCells>& b,
                                        const std::string& metric, tk::Combine combine, bool higher_is_better,
                                        const std::string& with) {
  Comparison out;
  out.with = with;
  if (a.empty() || a.size() != b.size()) {
    out.why = "not evaluated at the same windows";
    return out;
  }
  // One pairing per seed pairing of the first window; each window takes the cells of those seeds.
  auto at_seed = [](const SeedCells& cells, const LoadedCell* like) -> const LoadedCell* {
    if (cells.size() == 1) return cells.front();
    for (const auto* c : cells)
      if (c->training_seed() == like->training_seed()) return c;
    return nullptr;
  };
  const auto pairs = pair_seeds(a.front(), b.front());
  if (pairs.empty()) {
    out.why = "no common training seed";
    return out;
  }
  for (const auto& [x0, y0] : pairs) {
    tk::Side sa, sb;
    std::optional<tk::MetricSpec> s;
    for (std::size_t k = 0; k < a.size(); ++k) {
      const LoadedCell* x = at_seed(a[k], x0);
      const LoadedCell* y = at_seed(b[k], y0);
      if (!x || !y) {
        out.why = "a training seed is missing at some window";
        out.pairs.clear();
        return out;
      }
      if (auto why = incomparable(*this, *x, *y, metric, "")) {
        out.why = *why;
        out.pairs.clear();
        return out;
      }
      if (!s) s = spec(*x, metric, "");
      sa.windows.push_back({&of(*x)->items});
      sb.windows.push_back({&of(*y)->items});
    }
    const bool ratio = s->test == tk::PairedTest::bootstrap_ratio;
    try {
      const auto r = tk::paired_bootstrap(sa, sb, *s, combine, ratio, options(*x0, "summary/" + metric));
      PairedResult p = bootstrap_pair(r, ratio, higher_is_better, ratio ? "bootstrap_ratio" : "bootstrap_difference");
      p.seed_a = x0->training_seed();
      p.seed_b = y0->training_seed();
      out.pairs.push_back(p);
    } catch (const Error& e) {
      out.why = e.what();
      out.pairs.clear();
      return out;
    }
  }
  out.verdict = verdict_of(out.pairs);
  return out;
}

std::optional<ValueInterval> ReportStats::summary_interval(const std::vector<SeedCells>& windows,
                                                           const std::string& metric, tk::Combine combine) {
  tk::Side side;
  std::optional<tk::MetricSpec> s;
  bool seeds = false;
  for (const auto& cells : windows) {
    std::vector<const tk::ItemTable*> tables;
    for (const auto* c : cells) {
      auto sc = spec(*c, metric, "");
      if (!sc) return std::nullopt;
      if (!s) s = sc;
      tables.push_back(&of(*c)->items);
    }
    if (tables.empty()) return std::nullopt;
    seeds = seeds || tables.size() > 1;
    side.windows.push_back(tables);
  }
  if (!s) return std::nullopt;
  const auto r = tk::bootstrap(side, *s, combine, options(*windows.front().front(), "summary-interval/" + metric));
  return ValueInterval{r.interval.low, r.interval.high,
                       seeds ? "bootstrap_percentile over seeds" : "bootstrap_percentile", settings_.level};
}

std::optional<ValueInterval> ReportStats::ratio_interval(const SeedCells& a, const SeedCells& b,
                                                         const std::string& metric) {
  if (a.empty() || b.empty()) return std::nullopt;
  std::vector<const tk::ItemTable*> ta, tb;
  std::optional<tk::MetricSpec> s;
  for (const auto* x : a)
    for (const auto* y : b)
      if (incomparable(*this, *x, *y, metric, "")) return std::nullopt;
  for (const auto* x : a) ta.push_back(&of(*x)->items), s = s ? s : spec(*x, metric, "");
  for (const auto* y : b) tb.push_back(&of(*y)->items);
  try {
    const auto r = tk::paired_bootstrap(tk::Side{{ta}}, tk::Side{{tb}}, *s, tk::Combine::mean, true,
                                        options(*a.front(), "ratio/" + metric));
    return ValueInterval{r.interval.low, r.interval.high, "paired bootstrap_percentile", settings_.level};
  } catch (const Error&) {
    return std::nullopt;  // no common items (other prompts at another window): no interval
  }
}

}  // namespace e2llm::harness
