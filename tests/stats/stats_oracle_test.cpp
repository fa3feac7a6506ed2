// The task kit's statistics against scipy and numpy (oracle.py, run with the repository's
// .venv): the normal quantile, Wilson intervals, exact McNemar p-values, numpy's quantile,
// and every bootstrap the cells and the report use — one cell's interval (perplexity,
// accuracy, LongBench's stratified average), paired ratios and differences, summaries over
// windows (the same documents at every window, or other prompts per window) and means over
// training seeds — on the same records, with the same resample indices (docs/statistics.md
// fixes how they are drawn), plus scipy.stats.bootstrap's own draws as a distribution-level
// check.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "../support/run_command.hpp"
#include "e2llm/error.hpp"
#include "e2llm/taskkit/seeded_rng.hpp"
#include "e2llm/taskkit/stats.hpp"
#include "e2llm/taskkit/uncertainty.hpp"
#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;
using namespace e2llm::taskkit;
using e2llm::testing::quote;
using e2llm::testing::run_command;
using nlohmann::json;

namespace {

// Runs oracle.py on the cases; one answer per case.
json oracle(const json& cases) {
  const fs::path input = fs::temp_directory_path() / ("e2llm-stats-" + std::to_string(getpid()) + ".json");
  e2llm::util::write_file_atomic(input, cases.dump());
  const fs::path source = E2LLM_SOURCE_DIR;
  auto r = run_command(quote((source / ".venv/bin/python").string()) + " " +
                       quote((source / "tests/stats/oracle.py").string()) + " < " + quote(input.string()));
  fs::remove(input);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return json::parse(r.out);
}

void expect_close(double expected, double actual, double rel, const std::string& what) {
  EXPECT_LE(std::fabs(expected - actual), rel * std::max(1.0, std::fabs(expected)))
      << what << ": python " << expected << ", C++ " << actual;
}

// Documents with a per-document NLL sum and token count (a perplexity near e^(1.6)).
ItemTable documents(std::uint64_t seed, int n, double shift, const std::string& prefix = "doc") {
  SeededRng rng(seed);
  ItemTable t;
  for (int i = 0; i < n; ++i) {
    const double tokens = double(rng.uniform_int(2000, 4095));
    const double per_token = 1.2 + double(rng.uniform_int(0, 800)) / 1000.0 + shift;
    t.ids.push_back(prefix + std::to_string(i));
    t.columns["nll_sum"].push_back(tokens * per_token);
    t.columns["tokens"].push_back(tokens);
  }
  return t;
}

// Prompts by depth with 0/1 outcomes, correct with probability p.
ItemTable prompts(std::uint64_t seed, const std::string& window, int per_depth, double p) {
  SeededRng rng(seed);
  ItemTable t;
  for (const char* depth : {"0", "0.5", "1"})
    for (int k = 0; k < per_depth; ++k) {
      t.ids.push_back("window=" + window + "/depth=" + depth + "/trial=" + std::to_string(k));
      t.strata.push_back(depth);
      t.columns["correct"].push_back(double(rng.uniform_int(0, 999)) < p * 1000 ? 1.0 : 0.0);
    }
  return t;
}

// LongBench-like rows: three datasets of unequal size, scores in [0, 1].
ItemTable rows(std::uint64_t seed, double shift) {
  SeededRng rng(seed);
  ItemTable t;
  const std::vector<std::pair<std::string, int>> sets = {{"qasper", 7}, {"hotpotqa", 12}, {"gov_report", 4}};
  for (const auto& [name, n] : sets)
    for (int k = 0; k < n; ++k) {
      t.ids.push_back(name + "/row" + std::to_string(k));
      t.strata.push_back(name);
      t.columns["score"].push_back(std::min(1.0, double(rng.uniform_int(0, 1000)) / 1000.0 * (1 + shift)));
    }
  return t;
}

json side_json(const Side& s) {
  json out = json::array();
  for (const auto& window : s.windows) {
    json reps = json::array();
    for (const ItemTable* t : window) reps.push_back(item_table_to_json(*t));
    out.push_back(reps);
  }
  return out;
}

const MetricSpec kPpl{Statistic::exp_ratio, "nll_sum", "tokens", "", 1.0, PairedTest::bootstrap_ratio, false};
const MetricSpec kAccuracy{Statistic::ratio, "correct", "", "", 1.0, PairedTest::mcnemar_exact, true};
const MetricSpec kAverage{Statistic::stratified_mean, "score", "", "", 100.0, PairedTest::bootstrap_difference, false};

// One bootstrap case: computed here, and the oracle's request for it.
struct BootCase {
  std::string name;
  BootstrapResult result;
  json request;
};

BootCase boot_case(const std::string& name, const Side& a, const Side* b, const MetricSpec& spec, Combine combine,
                   bool ratio, std::uint64_t seed, std::int64_t resamples = 2000, bool scipy = false) {
  BootstrapOptions o{0.95, resamples, seed};
  BootCase c{name, b ? paired_bootstrap(a, *b, spec, combine, ratio, o) : bootstrap(a, spec, combine, o), {}};
  c.request = {{"kind", "bootstrap"},
               {"a", side_json(a)},
               {"spec", metric_spec_to_json(spec)},
               {"combine", combine == Combine::mean ? "mean" : "geometric_mean"},
               {"ratio", ratio},
               {"seed", seed},
               {"resamples", resamples},
               {"level", 0.95},
               {"scipy_bootstrap", scipy}};
  if (b) c.request["b"] = side_json(*b);
  return c;
}

void expect_same_bootstrap(const BootCase& c, const json& py) {
  SCOPED_TRACE(c.name);
  expect_close(py["estimate"], c.result.estimate, 1e-12, "estimate");
  expect_close(py["low"], c.result.interval.low, 1e-9, "low");
  expect_close(py["high"], c.result.interval.high, 1e-9, "high");
  EXPECT_EQ(py["units"].get<std::int64_t>(), c.result.units);
  EXPECT_EQ(py["skipped"].get<std::int64_t>(), c.result.skipped);
  ASSERT_EQ(py["draws"].size(), c.result.draws.size());
  for (std::size_t i = 0; i < c.result.draws.size(); ++i) {
    if (std::fabs(py["draws"][i].get<double>() - c.result.draws[i]) >
        1e-9 * std::max(1.0, std::fabs(c.result.draws[i]))) {
      ADD_FAILURE() << "draw " << i << ": python " << py["draws"][i] << ", C++ " << c.result.draws[i];
      break;
    }
  }
  EXPECT_LT(c.result.interval.low, c.result.interval.high);
}

}  // namespace

TEST(StatsOracle, NormalQuantileWilsonMcNemarAndQuantileEqualScipyAndNumpy) {
  const std::vector<double> ps = {1e-10, 0.001, 0.025, 0.2, 0.5, 0.8, 0.975, 0.995, 1 - 1e-9};
  const std::vector<std::pair<int, int>> kn = {{0, 1},   {1, 1},  {0, 15},  {13, 15},
                                               {15, 15}, {7, 50}, {49, 50}, {500, 1000}};
  const std::vector<std::pair<int, int>> bc = {{0, 0}, {3, 3}, {0, 5}, {5, 0}, {1, 9}, {12, 30}, {200, 260}, {0, 1}};
  const std::vector<double> values = {5.0, 1.0, 3.5, 3.5, 9.25, -2.0, 0.125};
  const std::vector<double> qs = {0.0, 0.025, 0.1, 0.5, 0.8333, 0.975, 1.0};
  json kn_json = json::array(), bc_json = json::array();
  for (auto [k, n] : kn) kn_json.push_back({k, n});
  for (auto [b, c] : bc) bc_json.push_back({b, c});
  const std::vector<std::string> tags = {"bootstrap/ppl", "bootstrap/accuracy_by_depth/0.5", ""};
  json answers = oracle(json::array({{{"kind", "normal_quantile"}, {"p", ps}},
                                     {{"kind", "wilson"}, {"kn", kn_json}, {"level", 0.95}},
                                     {{"kind", "wilson"}, {"kn", kn_json}, {"level", 0.8}},
                                     {{"kind", "mcnemar_p"}, {"bc", bc_json}},
                                     {{"kind", "quantile"}, {"values", values}, {"q", qs}},
                                     {{"kind", "derive_seed"}, {"seed", 20240112}, {"tags", tags}}}));
  ASSERT_EQ(answers.size(), 6u);
  for (std::size_t i = 0; i < ps.size(); ++i) expect_close(answers[0][i], normal_quantile(ps[i]), 1e-12, "ppf");
  for (std::size_t i = 0; i < kn.size(); ++i)
    for (int at : {0, 1}) {
      const double level = at == 0 ? 0.95 : 0.8;
      const Interval w = wilson_interval(kn[i].first, kn[i].second, level);
      const json& py = answers[1 + at][i];
      expect_close(py[0], w.low, 1e-12,
                   "wilson low " + std::to_string(kn[i].first) + "/" + std::to_string(kn[i].second));
      expect_close(py[1], w.high, 1e-12, "wilson high");
    }
  // 13 of 15 (the audit's passkey cell): 62–96%.
  EXPECT_NEAR(wilson_interval(13, 15, 0.95).low, 0.6212, 1e-4);
  for (std::size_t i = 0; i < bc.size(); ++i)
    expect_close(answers[3][i], mcnemar_exact_p(bc[i].first, bc[i].second), 1e-10, "mcnemar");
  for (std::size_t i = 0; i < qs.size(); ++i) expect_close(answers[4][i], quantile(values, qs[i]), 1e-14, "quantile");
  for (std::size_t i = 0; i < tags.size(); ++i)
    EXPECT_EQ(answers[5][i].get<std::uint64_t>(), derive_seed(20240112, tags[i])) << tags[i];
  EXPECT_EQ(bootstrap_seed(20240112, "ppl"), derive_seed(20240112, "bootstrap/ppl"));
}

TEST(StatsOracle, EveryBootstrapEqualsNumpyOnTheSameResamples) {
  const ItemTable docs_a = documents(1, 30, 0.0), docs_b = documents(2, 30, 0.05);
  ItemTable docs_b_partial = docs_b;  // two documents missing: pairs use the 28 common ones
  for (auto* v : {&docs_b_partial.columns["nll_sum"], &docs_b_partial.columns["tokens"]}) v->resize(28);
  docs_b_partial.ids.resize(28);
  // The same documents at three windows (fixed text), for a summary over windows.
  const ItemTable w1a = documents(11, 12, 0.0), w2a = documents(12, 12, 0.1), w3a = documents(13, 12, 0.2);
  const ItemTable w1b = documents(21, 12, 0.05), w2b = documents(22, 12, 0.05), w3b = documents(23, 12, 0.05);
  // Other prompts at every window (passkey): units differ by window.
  const ItemTable p1a = prompts(31, "512", 10, 0.8), p2a = prompts(32, "1024", 10, 0.5);
  const ItemTable p1b = prompts(41, "512", 10, 0.6), p2b = prompts(42, "1024", 10, 0.5);
  const ItemTable lb_a = rows(51, 0.0), lb_b = rows(52, 0.3);
  // Three training seeds of one backend, the same documents.
  const ItemTable s1 = documents(61, 20, 0.0), s2 = documents(62, 20, 0.02), s3 = documents(63, 20, -0.02);

  MetricSpec depth = kAccuracy;
  depth.stratum = "0.5";
  MetricSpec qasper{Statistic::ratio, "score", "", "qasper", 100.0, PairedTest::bootstrap_difference, false};
  const Side A1{{{&docs_a}}}, B1{{{&docs_b}}}, B1p{{{&docs_b_partial}}};
  const Side Aw{{{&w1a}, {&w2a}, {&w3a}}}, Bw{{{&w1b}, {&w2b}, {&w3b}}};
  const Side Ap{{{&p1a}, {&p2a}}}, Bp{{{&p1b}, {&p2b}}};
  const Side Alb{{{&lb_a}}}, Blb{{{&lb_b}}};
  const Side Aseeds{{{&s1, &s2, &s3}}};
  std::vector<BootCase> cases;
  cases.push_back(boot_case("perplexity of one cell", A1, nullptr, kPpl, Combine::mean, false, 99, 2000, true));
  cases.push_back(boot_case("accuracy of one cell", Side{{{&p1a}}}, nullptr, kAccuracy, Combine::mean, false, 5));
  cases.push_back(boot_case("accuracy at one depth", Side{{{&p1a}}}, nullptr, depth, Combine::mean, false, 6));
  cases.push_back(boot_case("LongBench average, stratified", Alb, nullptr, kAverage, Combine::mean, false, 7));
  cases.push_back(boot_case("LongBench one dataset", Alb, nullptr, qasper, Combine::mean, false, 8));
  cases.push_back(boot_case("paired perplexity ratio", A1, &B1, kPpl, Combine::mean, true, 9));
  cases.push_back(boot_case("paired ratio on common documents", A1, &B1p, kPpl, Combine::mean, true, 10));
  cases.push_back(boot_case("geometric mean over windows, paired", Aw, &Bw, kPpl, Combine::geometric_mean, true, 11));
  cases.push_back(boot_case("mean accuracy over windows, paired", Ap, &Bp, kAccuracy, Combine::mean, false, 12));
  cases.push_back(boot_case("paired LongBench average", Alb, &Blb, kAverage, Combine::mean, false, 13));
  cases.push_back(boot_case("mean over three seeds", Aseeds, nullptr, kPpl, Combine::mean, false, 14, 500));
  const Side one_cell{{{&s1}}};
  cases.push_back(boot_case("seeds against one cell", Aseeds, &one_cell, kPpl, Combine::mean, true, 15, 500));
  json requests = json::array();
  for (const auto& c : cases) requests.push_back(c.request);
  const json answers = oracle(requests);
  ASSERT_EQ(answers.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) expect_same_bootstrap(cases[i], answers[i]);

  // Units: 30 documents; 28 common; 12 documents across three windows; 2 x 30 prompts.
  EXPECT_EQ(cases[0].result.units, 30);
  EXPECT_EQ(cases[6].result.units, 28);
  EXPECT_EQ(cases[7].result.units, 12);
  EXPECT_EQ(cases[8].result.units, 60);
  // scipy.stats.bootstrap with its own draws lands near the same interval (percentile method,
  // 2000 resamples): within a tenth of the interval's width at each end.
  const json& scipy = answers[0]["scipy"];
  const double width = cases[0].result.interval.high - cases[0].result.interval.low;
  EXPECT_NEAR(scipy[0].get<double>(), cases[0].result.interval.low, 0.1 * width);
  EXPECT_NEAR(scipy[1].get<double>(), cases[0].result.interval.high, 0.1 * width);
}

TEST(StatsOracle, McNemarOnTwoCellsEqualsScipysBinomialTest) {
  const ItemTable a = prompts(71, "512", 17, 0.7), b = prompts(72, "512", 17, 0.4);
  ItemTable b_short = b;
  b_short.ids.resize(40), b_short.strata.resize(40), b_short.columns["correct"].resize(40);
  MetricSpec depth = kAccuracy;
  depth.stratum = "1";
  std::vector<std::pair<McNemarResult, json>> cases;
  for (auto [x, y, spec] : {std::tuple{&a, &b, kAccuracy}, {&a, &b_short, kAccuracy}, {&b, &a, depth}})
    cases.push_back({mcnemar(*x, *y, spec),
                     {{"kind", "mcnemar"},
                      {"a", item_table_to_json(*x)},
                      {"b", item_table_to_json(*y)},
                      {"spec", metric_spec_to_json(spec)}}});
  json requests = json::array();
  for (const auto& c : cases) requests.push_back(c.second);
  const json answers = oracle(requests);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(i);
    const McNemarResult& r = cases[i].first;
    EXPECT_EQ(answers[i]["n"].get<std::int64_t>(), r.n);
    EXPECT_EQ(answers[i]["only_a"].get<std::int64_t>(), r.only_a);
    EXPECT_EQ(answers[i]["only_b"].get<std::int64_t>(), r.only_b);
    expect_close(answers[i]["p_value"], r.p_value, 1e-10, "p");
    expect_close(answers[i]["difference"], r.difference, 1e-12, "difference");
  }
  EXPECT_EQ(cases[1].first.n, 40);
}

// What a task stores in its cell: the metric's own estimate, a Wilson interval first for a
// proportion, then the bootstrap on the seed named by the metric — reproducible by the oracle.
TEST(StatsOracle, TheCellsUncertaintyObjectIsReproducible) {
  UncertaintyBuilder u({0.95, 1000, 20240112});
  u.items() = prompts(81, "512", 10, 0.7);
  u.add("accuracy", kAccuracy);
  MetricSpec depth = kAccuracy;
  depth.stratum = "0.5";
  u.add_row("accuracy_by_depth", "0.5", depth);
  const json out = u.to_json();
  const json& acc = out["metrics"]["accuracy"];
  EXPECT_EQ(acc["statistic"], "ratio");
  EXPECT_EQ(acc["test"], "mcnemar_exact");
  EXPECT_EQ(acc["n"], 30);
  ASSERT_EQ(acc["intervals"].size(), 2u);
  EXPECT_EQ(acc["intervals"][0]["method"], "wilson");
  EXPECT_EQ(acc["intervals"][1]["method"], "bootstrap_percentile");
  EXPECT_EQ(acc["intervals"][1]["seed"].get<std::uint64_t>(), derive_seed(20240112, "bootstrap/accuracy"));
  const json& row = out["metrics"]["accuracy_by_depth"]["rows"]["0.5"];
  EXPECT_EQ(row["n"], 10);
  EXPECT_EQ(row["intervals"][1]["seed"].get<std::uint64_t>(), derive_seed(20240112, "bootstrap/accuracy_by_depth/0.5"));

  const ItemTable back = item_table_from_json(out["items"], "items");
  json request = {{"kind", "bootstrap"},
                  {"a", json::array({json::array({out["items"]})})},
                  {"spec", metric_spec_to_json(kAccuracy)},
                  {"combine", "mean"},
                  {"ratio", false},
                  {"seed", acc["intervals"][1]["seed"]},
                  {"resamples", 1000},
                  {"level", 0.95}};
  const json k_n = json::array({json::array({acc["intervals"][0]["successes"], acc["n"]})});
  const json answers = oracle(json::array({request, {{"kind", "wilson"}, {"kn", k_n}, {"level", 0.95}}}));
  expect_close(answers[0]["estimate"], acc["estimate"], 1e-12, "estimate");
  expect_close(answers[0]["low"], acc["intervals"][1]["low"], 1e-12, "bootstrap low");
  expect_close(answers[0]["high"], acc["intervals"][1]["high"], 1e-12, "bootstrap high");
  expect_close(answers[1][0][0], acc["intervals"][0]["low"], 1e-12, "wilson low");
  expect_close(answers[1][0][1], acc["intervals"][0]["high"], 1e-12, "wilson high");
  EXPECT_EQ(back.ids, u.items().ids);
}

TEST(Stats, MalformedInputIsOneErrorNamingTheField) {
  EXPECT_THROW(wilson_interval(3, 2, 0.95), e2llm::Error);
  EXPECT_THROW(normal_quantile(1.0), e2llm::Error);
  EXPECT_THROW(percentile_interval({1.0}, 1.5), e2llm::Error);
  try {
    item_table_from_json(json{{"id", {"a", "a"}}, {"columns", json::object()}}, "cells/x.json: uncertainty.items");
    FAIL();
  } catch (const e2llm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("cells/x.json: uncertainty.items: item id 'a' repeats"), std::string::npos);
  }
  try {
    metric_spec_from_json(json{{"statistic", "median"}, {"test", "mcnemar_exact"}, {"value", "v"}}, "m");
    FAIL();
  } catch (const e2llm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("m.statistic: 'median'"), std::string::npos);
  }
  // No common item: an error, not a silent zero.
  const ItemTable a = documents(1, 3, 0.0, "a"), b = documents(2, 3, 0.0, "b");
  EXPECT_THROW(paired_bootstrap(Side{{{&a}}}, Side{{{&b}}}, kPpl, Combine::mean, true, {}), e2llm::Error);
}
