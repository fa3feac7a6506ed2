// How sure a cell's numbers are (docs/statistics.md): a task lists its per-item values
// (one row per document, prompt or dataset row) and how each metric is computed from
// them; the kit computes every metric's intervals (bootstrap over items, Wilson for
// proportions) into the cell's "uncertainty" object, and the report compares cells scored
// on the same items (paired bootstrap, exact McNemar) from the same object. Everything
// here is deterministic: the resamples come from SeededRng streams named by the seed and
// the metric, so the same records give the same intervals on every machine.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "e2llm/taskkit/stats.hpp"

namespace e2llm::taskkit {

// Per-item values of one cell, in record order. `ids` are unique (the cell's sample ids:
// equal ids in two cells of one task config and seed are the same item). `strata` (empty,
// or one per item) name a group an item belongs to (a depth, a LongBench dataset).
struct ItemTable {
  std::vector<std::string> ids;
  std::vector<std::string> strata;
  std::map<std::string, std::vector<double>> columns;  // name -> one value per item

  std::size_t size() const { return ids.size(); }
  // Throws e2llm::Error naming `where` when ids repeat or a column's length differs.
  void check(const std::string& where) const;
};

// How a metric is computed from the items (with every item counted c_i times, c_i = 1 for
// the cell itself and the bootstrap's multiplicities for a resample):
//   ratio            scale · Σ c_i v_i / Σ c_i w_i            (a mean when w = 1; accuracy)
//   exp_ratio        exp(Σ c_i v_i / Σ c_i w_i)               (token-weighted perplexity)
//   stratified_mean  mean over strata s of scale · Σ_{i∈s} c_i v_i / Σ_{i∈s} c_i w_i
// over the items of `stratum` only when it is set.
enum class Statistic { ratio, exp_ratio, stratified_mean };

// How two cells scored on the same items are compared.
enum class PairedTest {
  bootstrap_ratio,       // the ratio of the two statistics, paired bootstrap percentile interval
  bootstrap_difference,  // their difference, likewise
  mcnemar_exact,         // 0/1 values: exact McNemar on the discordant pairs (one window, one seed)
};

struct MetricSpec {
  Statistic statistic = Statistic::ratio;
  std::string value;    // the column of v
  std::string weight;   // the column of w; empty: w = 1
  std::string stratum;  // only the items of this stratum; empty: every item
  double scale = 1.0;
  PairedTest test = PairedTest::bootstrap_difference;
  bool wilson = false;  // v is 0/1 with w = 1: the Wilson interval first, then the bootstrap
};

struct BootstrapOptions {
  double level = 0.95;
  std::int64_t resamples = 2000;
  std::uint64_t seed = 0;
};

// The statistic of `spec` over the items (counts: one multiplicity per item; null = 1 each).
// Throws e2llm::Error when a needed column is missing or Σ w = 0 over the items counted.
double estimate(const ItemTable& items, const MetricSpec& spec, const std::vector<double>* counts = nullptr);

// One side of a comparison: windows x replicates (training seeds) of one backend, each an
// item table. Its statistic is the per-window mean over replicates, combined over windows
// by `combine` (a single window: that window's value).
enum class Combine { mean, geometric_mean };
struct Side {
  std::vector<std::vector<const ItemTable*>> windows;
};

// The bootstrap of the statistic of one side, or of the ratio / difference of two sides
// window by window (A's window k with B's window k). Units are item ids: in a paired
// comparison only the ids every table of window k (both sides) holds count there; a unit
// is resampled jointly in every table that holds it (the same document at every window
// and seed). Units are drawn with replacement within groups — the units that first appear
// in the same window (and, for a stratified mean, the same stratum) — so each window
// (stratum) keeps its size. docs/statistics.md gives the exact order of the draws.
struct BootstrapResult {
  double estimate = 0;  // on the data itself (ratio / difference of the two sides' estimates)
  Interval interval;
  std::vector<double> draws;  // in resample order
  std::int64_t units = 0;     // distinct ids that count
  std::int64_t skipped = 0;   // resamples where a statistic was undefined (Σ w = 0), left out
};
BootstrapResult bootstrap(const Side& a, const MetricSpec& spec, Combine combine, const BootstrapOptions& options);
BootstrapResult paired_bootstrap(const Side& a, const Side& b, const MetricSpec& spec, Combine combine, bool ratio,
                                 const BootstrapOptions& options);

// The exact McNemar test of two tables on their common ids (0/1 values of spec.value).
struct McNemarResult {
  std::int64_t n = 0;                   // common items
  std::int64_t only_a = 0, only_b = 0;  // discordant pairs: right in A only / in B only
  double p_value = 1;
  double difference = 0;  // A's proportion minus B's on the common items (scaled)
};
McNemarResult mcnemar(const ItemTable& a, const ItemTable& b, const MetricSpec& spec);

// The seed of a named bootstrap stream: derive_seed(seed, "bootstrap/" + name).
std::uint64_t bootstrap_seed(std::uint64_t seed, const std::string& name);

// --- the cell's "uncertainty" object (docs/results-schema.md) ---------------------------

// What a task's evaluate() fills: items, and specs keyed like its metrics (a grid metric
// {row: number} has specs keyed by row: `add_row`).
class UncertaintyBuilder {
 public:
  explicit UncertaintyBuilder(BootstrapOptions options) : options_(options) {}
  ItemTable& items() { return items_; }
  void add(const std::string& metric, MetricSpec spec) { metrics_[metric] = std::move(spec); }
  void add_row(const std::string& metric, const std::string& row, MetricSpec spec) {
    rows_[metric][row] = std::move(spec);
  }
  // Computes every interval: {"level", "resamples", "seed", "items", "metrics"}.
  nlohmann::json to_json() const;

 private:
  BootstrapOptions options_;
  ItemTable items_;
  std::map<std::string, MetricSpec> metrics_;
  std::map<std::string, std::map<std::string, MetricSpec>> rows_;
};

// The names the JSON uses ("exp_ratio", "mcnemar_exact", ...).
std::string statistic_name(Statistic s);
std::string test_name(PairedTest t);

// Reading it back (the report): throws e2llm::Error "<where>: ..." for a malformed object.
ItemTable item_table_from_json(const nlohmann::json& items, const std::string& where);
nlohmann::json item_table_to_json(const ItemTable& items);
MetricSpec metric_spec_from_json(const nlohmann::json& spec, const std::string& where);
nlohmann::json metric_spec_to_json(const MetricSpec& spec);

// One metric's computed intervals as stored: [{"method", "low", "high", "level", ...}],
// the first the one a report shows.
nlohmann::json metric_intervals(const ItemTable& items, const MetricSpec& spec, const BootstrapOptions& options,
                                const std::string& name);

}  // namespace e2llm::taskkit
