// The report's statistics on hand-made cells whose items are known: marks against the
// reference (paired bootstrap for perplexity, exact McNemar for accuracy), equal ranks for
// backends that cannot be told apart, seeds (mean, sd, interval of the mean), provenance
// warnings, cells without intervals, all-zero tables, relative thresholds, the paper's
// table as ratios to each one's base, and ablation groups.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>

#include "e2llm/error.hpp"
#include "e2llm/harness/cell_store.hpp"
#include "e2llm/harness/report.hpp"
#include "e2llm/harness/view_json.hpp"
#include "e2llm/taskkit/stats.hpp"
#include "e2llm/taskkit/uncertainty.hpp"
#include "e2llm/util/files.hpp"
#include "e2llm/util/sha256.hpp"

using namespace e2llm::harness;
namespace tk = e2llm::taskkit;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("e2llm_report_stats_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "cells");
  return dir;
}

constexpr std::int64_t kL = 512;
const std::vector<std::int64_t> kWindows = {512, 1024, 2048};

e2llm::ReportView ppl_view() {
  e2llm::ReportView v;
  v.kind = e2llm::ViewKind::window_curve;
  v.title = "Perplexity vs window";
  v.metric = "ppl";
  v.higher_is_better = false;
  v.quantity = "perplexity";
  v.chart = e2llm::ChartScale::log;
  v.summary = e2llm::WindowSummary::geometric_mean;
  v.relative_threshold = 1.0;
  // A published table: its base 2.0 at W = L, a method at 1.1 / 0.9 of it.
  v.references = {{"Paper Table 3",
                   "paper",
                   "a paper",
                   {{"Base model", 2.0, 2, "", 1.0}, {"Method", 2.2, 2, "", 1.0}, {"Method", 1.8, 2, "", 4.0}},
                   "Base model"}};
  return v;
}

e2llm::ReportView acc_view(const std::string& title) {
  e2llm::ReportView v;
  v.kind = e2llm::ViewKind::window_curve;
  v.title = title;
  v.metric = "accuracy";
  v.quantity = "accuracy";
  v.format = e2llm::ValueFormat::percent;
  v.summary = e2llm::WindowSummary::mean;
  v.pass_threshold = 0.9;
  return v;
}

struct CellSpec {
  CellSpec(std::string b, std::string t, std::int64_t w, std::optional<std::uint64_t> seed = std::nullopt,
           std::string rev = "rev1")
      : backend(std::move(b)), task(std::move(t)), window(w), training_seed(seed), revision(std::move(rev)) {}
  std::string backend, task;
  std::int64_t window;
  std::optional<std::uint64_t> training_seed;
  std::string revision;
};

// Writes a cell whose metrics and uncertainty come from `u` (the task kit builds both).
std::string write_cell(const fs::path& dir, const CellSpec& c, const json& metrics, const json& uncertainty,
                       const e2llm::ReportView& view) {
  const std::string key = e2llm::util::sha256_hex(c.backend + "/" + c.task + "/" + std::to_string(c.window) + "/" +
                                                  std::to_string(c.training_seed.value_or(0)));
  json cell = {{"schema", kCellSchema},
               {"schema_version", kCellSchemaVersion},
               {"key", key},
               {"backend", {{"label", c.backend}, {"plugin", "p"}}},
               {"task",
                {{"label", c.task},
                 {"plugin", c.task},
                 {"fingerprint", "fp-" + c.task},
                 {"metrics_info", {{{"name", view.metric}, {"higher_is_better", view.higher_is_better}}}},
                 {"views", views_to_json({view})}}},
               {"window", c.window},
               {"original_window", kL},
               {"metrics", metrics},
               {"seed", 5},
               {"git_revision", c.revision},
               {"config_sha256", std::string(64, 'c')}};
  if (!uncertainty.is_null()) cell["uncertainty"] = uncertainty;
  if (c.training_seed) cell["training_seed"] = *c.training_seed;
  const std::string name = key.substr(0, 16) + ".json";
  e2llm::util::write_file_atomic(dir / "cells" / name, cell.dump());
  return "cells/" + name;
}

// 20 documents of 1000 tokens; NLL per token u_d in [1.5, 2.5] x the backend's factor x a
// window effect; `jitter` adds ±jitter per document (alternating).
std::string ppl_cell(const fs::path& dir, const CellSpec& c, double factor, double jitter = 0.0) {
  tk::UncertaintyBuilder u({0.95, 2000, 5});
  const double window_effect = 1 + 0.05 * std::log2(double(c.window) / double(kL));
  for (int d = 0; d < 20; ++d) {
    const double per_token = (1.5 + 0.05 * d) * factor * window_effect * (1 + jitter * (d % 2 ? 1 : -1));
    u.items().ids.push_back("doc" + std::to_string(d));
    u.items().columns["nll_sum"].push_back(per_token * 1000);
    u.items().columns["tokens"].push_back(1000);
  }
  const tk::MetricSpec spec{tk::Statistic::exp_ratio,        "nll_sum", "tokens", "", 1.0,
                            tk::PairedTest::bootstrap_ratio, false};
  u.add("ppl", spec);
  return write_cell(dir, c, {{"ppl", tk::estimate(u.items(), spec)}}, u.to_json(), ppl_view());
}

// 40 prompts, correct where `right(i)`.
std::string acc_cell(const fs::path& dir, const CellSpec& c, const std::function<bool(int)>& right,
                     const std::string& title = "Passkey") {
  tk::UncertaintyBuilder u({0.95, 2000, 5});
  for (int i = 0; i < 40; ++i) {
    u.items().ids.push_back("window=" + std::to_string(c.window) + "/depth=0/trial=" + std::to_string(i));
    u.items().strata.push_back("0");
    u.items().columns["correct"].push_back(right(i) ? 1.0 : 0.0);
  }
  const tk::MetricSpec spec{tk::Statistic::ratio, "correct", "", "", 1.0, tk::PairedTest::mcnemar_exact, true};
  u.add("accuracy", spec);
  return write_cell(dir, c, {{"accuracy", tk::estimate(u.items(), spec)}}, u.to_json(), acc_view(title));
}

void write_sweep(const fs::path& dir, const std::vector<std::string>& backends, const json& report) {
  json list = json::array();
  for (const auto& b : backends) list.push_back({{"label", b}});
  e2llm::util::write_file_atomic(dir / "sweep.json", json({{"name", "stats"},
                                                           {"original_window", kL},
                                                           {"backends", list},
                                                           {"seeds", {1, 2}},
                                                           {"config", {{"report", report}}}})
                                                         .dump());
}

// ref, good (0.8x), tied (1x with ±1% per document), bad (1.25x), seeded (0.8x and 0.82x
// for training seeds 1 and 2); passkey: ref 20/40, good 36/40, tied 20/40 on other
// prompts, bad 5/40; kv: all 0.
fs::path write_stats_run(const std::string& name, const json& report = {{"reference", "ref"}, {"base", "ref"}}) {
  fs::path dir = fresh_dir(name);
  write_sweep(dir, {"ref", "good", "tied", "bad", "seeded"}, report);
  for (auto w : kWindows) {
    ppl_cell(dir, {"ref", "ppl", w}, 1.0);
    ppl_cell(dir, {"good", "ppl", w}, 0.8);
    ppl_cell(dir, {"tied", "ppl", w}, 1.0, 0.01);
    ppl_cell(dir, {"bad", "ppl", w}, 1.25);
    ppl_cell(dir, {"seeded", "ppl", w, 1}, 0.8);
    ppl_cell(dir, {"seeded", "ppl", w, 2}, 0.82);
    acc_cell(dir, {"ref", "passkey", w}, [](int i) { return i % 2 == 0; });
    acc_cell(dir, {"good", "passkey", w}, [](int i) { return i % 10 != 9; });
    acc_cell(dir, {"tied", "passkey", w}, [](int i) { return i % 2 == 1; });
    acc_cell(dir, {"bad", "passkey", w}, [](int i) { return i % 8 == 0; });
    for (const char* b : {"ref", "good", "tied", "bad"})
      acc_cell(
          dir, {b, "kv", w}, [](int) { return false; }, "KV");
  }
  return dir;
}

const ViewData& view_of(const ReportModel& m, const std::string& task) {
  for (const auto& s : m.sections)
    if (s.task_label == task) return s.views.front();
  throw std::runtime_error("no section " + task);
}

const CellValue& value_at(const ViewData& v, const std::string& backend, std::int64_t window, const ReportModel& m) {
  auto r = std::find(v.table.rows.begin(), v.table.rows.end(), backend) - v.table.rows.begin();
  auto c = std::find(m.windows.begin(), m.windows.end(), window) - m.windows.begin();
  const CellValue* cv = v.table.at(std::size_t(r), std::size_t(c));
  if (!cv) throw std::runtime_error("no value for " + backend);
  return *cv;
}

const ExtendedSummary& ranked(const ViewData& v, const std::string& backend) {
  for (const auto& e : v.extended)
    if (e.backend == backend) return e;
  throw std::runtime_error("not ranked: " + backend);
}

}  // namespace

TEST(ReportStats, MarksAgainstTheReferenceFollowThePairedTests) {
  const fs::path dir = write_stats_run("marks");
  const ReportModel m = build_report_model(dir);
  const ViewData& ppl = view_of(m, "ppl");
  EXPECT_EQ(ppl.reference, "ref");
  EXPECT_EQ(value_at(ppl, "good", 1024, m).vs_reference->verdict, Verdict::better);
  EXPECT_EQ(value_at(ppl, "bad", 1024, m).vs_reference->verdict, Verdict::worse);
  EXPECT_EQ(value_at(ppl, "tied", 1024, m).vs_reference->verdict, Verdict::not_separable);
  EXPECT_FALSE(value_at(ppl, "ref", 1024, m).vs_reference.has_value());
  // Two seeds, both significantly better: better; each pairing is listed.
  const Comparison& seeded = *value_at(ppl, "seeded", 2048, m).vs_reference;
  EXPECT_EQ(seeded.verdict, Verdict::better);
  ASSERT_EQ(seeded.pairs.size(), 2u);
  EXPECT_EQ(seeded.pairs[0].seed_a, 1u);
  EXPECT_EQ(seeded.pairs[0].test, "bootstrap_ratio");
  EXPECT_LT(*seeded.pairs[0].high, 1.0);

  // Accuracy: exact McNemar on the 40 common prompts. good vs ref: 16 discordant pairs all
  // for good -> p = 2 / 2^16; tied: 20 vs 20 -> p = 1; bad: 0 vs 15 -> worse.
  const ViewData& acc = view_of(m, "passkey");
  const PairedResult& good = value_at(acc, "good", 512, m).vs_reference->pairs.front();
  EXPECT_EQ(good.test, "mcnemar_exact");
  EXPECT_EQ(good.n, 40);
  EXPECT_NEAR(*good.p_value, 2.0 / 65536.0, 1e-15);
  EXPECT_NEAR(good.estimate, 0.4, 1e-12);  // 36/40 - 20/40
  EXPECT_EQ(value_at(acc, "good", 512, m).vs_reference->verdict, Verdict::better);
  EXPECT_EQ(value_at(acc, "tied", 512, m).vs_reference->verdict, Verdict::not_separable);
  EXPECT_DOUBLE_EQ(*value_at(acc, "tied", 512, m).vs_reference->pairs.front().p_value, 1.0);
  EXPECT_EQ(value_at(acc, "bad", 512, m).vs_reference->verdict, Verdict::worse);
  // Wilson interval shown for accuracy: 20/40 at 95%.
  const auto w = tk::wilson_interval(20, 40, 0.95);
  EXPECT_NEAR(value_at(acc, "ref", 512, m).interval->low, w.low, 1e-12);
  EXPECT_EQ(value_at(acc, "ref", 512, m).interval->method, "wilson");

  const std::string md = render_markdown(m);
  EXPECT_TRUE(contains(md, "| ref (reference) |")) << md;
  EXPECT_TRUE(contains(md, " ▲ |")) << md;
  EXPECT_TRUE(contains(md, " ▼ |")) << md;
  EXPECT_TRUE(contains(md, "Paired comparisons with `ref`")) << md;
  EXPECT_TRUE(contains(md, "| tied | not separable (×")) << md;
  EXPECT_TRUE(contains(md, "McNemar p = 3.1e-05, n = 40")) << md;
  const std::string html = render_html(m);
  EXPECT_TRUE(contains(html, "class=\"mark\" title=\"better (")) << html;
  const json summary = render_summary_json(m);
  EXPECT_EQ(summary["views"][0]["by_backend_and_window"]["tied"]["1024"]["vs_reference"]["verdict"], "not separable");
}

// Rank = 1 + the backends significantly better over W > L: good and seeded cannot be told
// apart (seed 1 equals good exactly), ref and tied neither; all four beat bad.
TEST(ReportStats, BackendsThatCannotBeToldApartShareARank) {
  const ReportModel m = build_report_model(write_stats_run("ranks"));
  const ViewData& ppl = view_of(m, "ppl");
  ASSERT_EQ(ppl.extended.size(), 5u);
  EXPECT_TRUE(ranked(ppl, "good").paired);
  EXPECT_EQ(ranked(ppl, "good").rank, 1u);
  EXPECT_EQ(ranked(ppl, "seeded").rank, 1u);
  EXPECT_EQ(ranked(ppl, "ref").rank, 3u);
  EXPECT_EQ(ranked(ppl, "tied").rank, 3u);
  EXPECT_EQ(ranked(ppl, "bad").rank, 5u);
  EXPECT_EQ(ranked(ppl, "bad").significantly_better.size(), 4u);
  EXPECT_EQ(ranked(ppl, "tied").not_separable, std::vector<std::string>{"ref"});
  EXPECT_EQ(ppl.extended.front().backend, "good");  // rank, then value
  ASSERT_TRUE(ranked(ppl, "good").interval.has_value());
  EXPECT_LT(ranked(ppl, "good").interval->low, ranked(ppl, "good").value);
  const std::string md = render_markdown(m);
  EXPECT_TRUE(contains(md, "| 3 | tied | ")) << md;
  EXPECT_TRUE(contains(md, "share a rank")) << md;

  // Passkey (mean accuracy over W > L): good 90%, ref and tied 50% (other prompts right:
  // not separable), bad 12.5%.
  const ViewData& acc = view_of(m, "passkey");
  EXPECT_EQ(ranked(acc, "good").rank, 1u);
  EXPECT_EQ(ranked(acc, "ref").rank, 2u);
  EXPECT_EQ(ranked(acc, "tied").rank, 2u);
  EXPECT_EQ(ranked(acc, "bad").rank, 4u);
}

TEST(ReportStats, SeedsShowTheirMeanSdAndAnIntervalOfTheMean) {
  const ReportModel m = build_report_model(write_stats_run("seeds"));
  const ViewData& ppl = view_of(m, "ppl");
  const CellValue& v = value_at(ppl, "seeded", 1024, m);
  ASSERT_EQ(v.seeds.size(), 2u);
  EXPECT_EQ(v.seeds[0].seed, 1u);
  EXPECT_EQ(v.seeds[1].seed, 2u);
  EXPECT_NEAR(v.value, (v.seeds[0].value + v.seeds[1].value) / 2, 1e-12);
  EXPECT_NEAR(*v.seed_sd, std::fabs(v.seeds[0].value - v.seeds[1].value) / std::sqrt(2.0), 1e-12);
  ASSERT_TRUE(v.interval);
  EXPECT_EQ(v.interval->method, "bootstrap_percentile over seeds");
  EXPECT_LT(v.interval->low, v.value);
  EXPECT_GT(v.interval->high, v.value);
  EXPECT_TRUE(contains(render_markdown(m), " ±")) << render_markdown(m);
}

TEST(ReportStats, ProvenanceWarningNamesTheCellsThatDiffer) {
  const fs::path dir = write_stats_run("provenance");
  const std::string odd = ppl_cell(dir, {"bad", "ppl", 2048, std::nullopt, "rev2-dirty"}, 1.25);  // rewritten
  const ReportModel m = build_report_model(dir);
  const ViewData& ppl = view_of(m, "ppl");
  ASSERT_EQ(ppl.warnings.size(), 1u);
  EXPECT_EQ(ppl.warnings[0].field, "git revision");
  ASSERT_EQ(ppl.warnings[0].values.size(), 2u);
  EXPECT_EQ(ppl.warnings[0].values[1].first, "rev2-dirty");
  EXPECT_EQ(ppl.warnings[0].values[1].second, std::vector<std::string>{odd});
  EXPECT_TRUE(view_of(m, "passkey").warnings.empty());  // its cells agree
  const std::string md = render_markdown(m);
  EXPECT_TRUE(contains(md, "**Provenance warning:** the cells of this table differ in git revision")) << md;
  EXPECT_TRUE(contains(md, "`rev2-dirty` (" + odd + ")")) << md;
  EXPECT_TRUE(contains(md, "2 git revisions: `rev1`, `rev2-dirty`")) << md;
  const json summary = render_summary_json(m);
  EXPECT_EQ(summary["views"][0]["provenance_warnings"][0]["values"][1]["cells"][0], odd);
}

TEST(ReportStats, AllZeroTablesCollapseToOneLine) {
  const ReportModel m = build_report_model(write_stats_run("zero"));
  const ViewData& kv = view_of(m, "kv");
  EXPECT_TRUE(kv.all_zero);
  const std::string md = render_markdown(m);
  const auto at = md.find("## KV — kv");
  ASSERT_NE(at, std::string::npos) << md;
  const std::string section = md.substr(at, md.find("\n## ", at + 1) - at);
  EXPECT_TRUE(contains(section,
                       "_Every value is 0.0% (4 rows × 3 windows); the largest upper bound of their intervals "
                       "is 8.8%: nothing here tells the backends apart"))
      << section;
  EXPECT_FALSE(contains(section, "| backend |")) << section;
  EXPECT_FALSE(contains(render_html(m), "<h2>KV — kv</h2>\n<table"));
}

TEST(ReportStats, RelativeThresholdAndThePapersTableUseEachOnesBase) {
  const ReportModel m = build_report_model(write_stats_run("base"));
  const ViewData& ppl = view_of(m, "ppl");
  const double base = value_at(ppl, "ref", 512, m).value;
  ASSERT_TRUE(ppl.relative_threshold);
  EXPECT_DOUBLE_EQ(*ppl.relative_threshold, base);
  // good stays below the base's W = L perplexity at 2L (0.8 x 1.05) and 4L (0.8 x 1.10); ref
  // itself passes only at L.
  for (const auto& [backend, window] : ppl.max_window_passing_relative) {
    if (backend == "good") {
      EXPECT_EQ(window, 2048);
    } else if (backend == "ref") {
      EXPECT_EQ(window, 512);
    } else if (backend == "bad") {
      EXPECT_FALSE(window.has_value());
    }
  }
  ASSERT_EQ(ppl.paper.size(), 1u);
  const PaperComparison& p = ppl.paper[0];
  EXPECT_EQ(p.ratios, (std::vector<double>{1, 2, 4}));
  ASSERT_GE(p.rows.size(), 2u);
  EXPECT_EQ(p.rows[1].name, "Method");
  EXPECT_NEAR(p.rows[1].by_ratio.at(1.0), 1.1, 1e-12);
  EXPECT_NEAR(p.rows[1].by_ratio.at(4.0), 0.9, 1e-12);
  auto good = std::find_if(p.rows.begin(), p.rows.end(), [](const auto& r) { return r.name == "good"; });
  ASSERT_NE(good, p.rows.end());
  EXPECT_TRUE(good->ours);
  EXPECT_NEAR(good->by_ratio.at(2.0), value_at(ppl, "good", 1024, m).value / base, 1e-12);
  ASSERT_TRUE(good->intervals.count(2.0));  // the same documents at both windows: paired
  EXPECT_LT(good->intervals.at(2.0).high, 1.0);
  const std::string md = render_markdown(m);
  EXPECT_TRUE(contains(md, "### Paper Table 3 beside ours — ratios to each one's base at W = L")) << md;
  EXPECT_TRUE(contains(md, "| Method (paper) | 1.100 | — | 0.900 |")) << md;
  EXPECT_TRUE(contains(md, "Largest window with perplexity ≤ 1 × the base (`ref` at W = L = 512")) << md;
}

TEST(ReportStats, AblationGroupsCompareWithTheirFirst) {
  const json report = {{"reference", "ref"},
                       {"groups", {{{"title", "Scale augmentation"}, {"backends", {"good", "seeded", "bad"}}}}}};
  const ReportModel m = build_report_model(write_stats_run("groups", report));
  const ViewData& ppl = view_of(m, "ppl");
  ASSERT_EQ(ppl.groups.size(), 1u);
  const GroupSummary& g = ppl.groups[0];
  ASSERT_EQ(g.rows.size(), 3u);
  EXPECT_FALSE(g.rows[0].vs_first.has_value());
  EXPECT_EQ(g.rows[1].vs_first->verdict, Verdict::not_separable);  // seed 1 equals good
  EXPECT_EQ(g.rows[2].vs_first->verdict, Verdict::worse);
  EXPECT_TRUE(contains(render_markdown(m), "**Scale augmentation**")) << render_markdown(m);
  // No [report] base: the paper's table is printed without our rows, saying why.
  EXPECT_TRUE(contains(render_markdown(m), "Ours are left out: name the backend serving the base model"));
}

TEST(ReportStats, ALevelOtherThanTheCellsIsRecomputedFromTheItems) {
  const fs::path dir = write_stats_run("level");
  ReportOptions options;
  options.level = 0.8;
  const ReportModel narrow = build_report_model(dir, options);
  const ReportModel wide = build_report_model(dir);
  const CellValue& n = value_at(view_of(narrow, "passkey"), "ref", 512, narrow);
  const CellValue& w = value_at(view_of(wide, "passkey"), "ref", 512, wide);
  const auto wilson80 = tk::wilson_interval(20, 40, 0.8);
  EXPECT_NEAR(n.interval->low, wilson80.low, 1e-12);
  EXPECT_GT(n.interval->low, w.interval->low);
  EXPECT_NEAR(n.interval->level, 0.8, 1e-12);
}

TEST(ReportStats, AMalformedUncertaintyIsOneErrorNamingTheCell) {
  const fs::path dir = write_stats_run("malformed");
  json cell = {{"schema", kCellSchema},
               {"schema_version", kCellSchemaVersion},
               {"key", std::string(64, 'f')},
               {"backend", {{"label", "ref"}}},
               {"task", {{"label", "ppl"}, {"plugin", "ppl"}, {"views", views_to_json({ppl_view()})}}},
               {"window", 4096},
               {"metrics", {{"ppl", 3.0}}},
               {"uncertainty", {{"items", {{"id", {"a", "a"}}, {"columns", json::object()}}}}}};
  e2llm::util::write_file_atomic(dir / "cells" / "ffffffffffffffff.json", cell.dump());
  try {
    build_report_model(dir);
    FAIL() << "no error";
  } catch (const e2llm::Error& e) {
    const std::string what = e.what();
    EXPECT_TRUE(contains(what, "ffffffffffffffff.json: not a valid e2llm cell (uncertainty.items: item id 'a' repeats"))
        << what;
    EXPECT_FALSE(contains(what, "\n"));
  }
}
