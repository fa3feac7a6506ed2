// The report from hand-written cells: numbers, traceability, escaping, summary.json.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <regex>

#include "e2llm/error.hpp"
#include "e2llm/harness/cell_store.hpp"
#include "e2llm/harness/report.hpp"
#include "e2llm/harness/view_json.hpp"
#include "e2llm/util/files.hpp"
#include "report_fixture.hpp"

using namespace e2llm::harness;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("e2llm_report_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}
bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
}  // namespace

TEST(HtmlEscape, EscapesEveryMarkupCharacter) {
  EXPECT_EQ(html_escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;");
  EXPECT_EQ(html_escape("plain"), "plain");
}

TEST(Report, MarkdownHasTheNumbersEachLinkedToItsCell) {
  fs::path dir = fresh_dir("md");
  std::string target = report_fixture::write_run(dir);
  ReportModel m = build_report_model(dir);
  EXPECT_EQ(m.run_name, "fixture");
  EXPECT_EQ(m.backends.front(), "none");  // the sweep's order, not alphabetical
  ASSERT_EQ(m.cells.size(), 21u);
  std::string md = render_markdown(m);
  EXPECT_TRUE(contains(md, "[7.25](cells/" + target + ")")) << md;
  EXPECT_TRUE(contains(md, "## Perplexity vs window — proofpile"));
  EXPECT_TRUE(contains(md, "| none | [6.00](cells/"));
  // These cells predate intervals: each value says so, and the header counts them.
  EXPECT_TRUE(contains(md, ") [n/a] |")) << md;
  EXPECT_TRUE(contains(md, "21 of 21 cells record no interval")) << md;
  EXPECT_TRUE(contains(md, "1024 (2L)"));
  // passkey: "none" fails from 1024 on, the others pass everywhere
  EXPECT_TRUE(contains(md, "- none: 512\n")) << md;
  EXPECT_TRUE(contains(md, "- e2llm: 2048\n"));
  EXPECT_TRUE(contains(md, "[20.0%](cells/"));
  EXPECT_TRUE(contains(md, "### Accuracy by depth — e2llm"));
  // LongBench with the paper's numbers beside ours, labelled as such.
  EXPECT_TRUE(contains(md, "## LongBench — longbench at W = 2048"));
  EXPECT_TRUE(contains(md, "Llama2-7B-chat-4k (paper)"));
  EXPECT_TRUE(contains(md, "| qasper | [12.50](cells/"));
  EXPECT_TRUE(contains(md, " 19.2 | 34.7 |")) << md;  // qasper: Llama2-7B-chat-4k, E2-LLM-16k
  EXPECT_TRUE(contains(md, "| avg_en | [8.25](cells/")) << md;  // the view's metric is the last row
  EXPECT_TRUE(contains(md, " 24.02¹ | 28.66¹ |\n\n¹ a mean\n")) << md;
  // Training cost
  EXPECT_TRUE(contains(md, "| [e2llm](backends/b1.json) | pi | yes | 2.50M | 2m05s |")) << md;
  // Markdown never carries raw HTML from the data.
  EXPECT_FALSE(contains(md, "<script>"));
}

TEST(Report, HtmlEscapesDataAndIsSelfContained) {
  fs::path dir = fresh_dir("html");
  std::string target = report_fixture::write_run(dir);
  std::string html = render_html(build_report_model(dir));
  EXPECT_FALSE(contains(html, "<script")) << "a backend label reached the page unescaped";
  EXPECT_TRUE(contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_TRUE(contains(html, "<svg"));
  EXPECT_TRUE(contains(html, "<polyline"));
  EXPECT_TRUE(contains(html, "href=\"cells/" + target + "\" title=\"cells/" + target + "\">7.25</a>"));
  // Self-contained: the only URL on the page is the SVG namespace name, which nothing fetches.
  std::string without_namespace = html;
  const std::string svg_namespace = "xmlns=\"http://www.w3.org/2000/svg\"";
  for (auto at = without_namespace.find(svg_namespace); at != std::string::npos;
       at = without_namespace.find(svg_namespace, at))
    without_namespace.erase(at, svg_namespace.size());
  EXPECT_TRUE(contains(html, svg_namespace));
  EXPECT_FALSE(contains(without_namespace, "http://"));
  EXPECT_FALSE(contains(without_namespace, "https://"));
  EXPECT_FALSE(contains(without_namespace, "=\"//")) << "a protocol-relative URL";
  EXPECT_TRUE(contains(html, "paper"));
}

TEST(Report, SummaryJsonAndFilesAreWritten) {
  fs::path dir = fresh_dir("summary");
  std::string target = report_fixture::write_run(dir);
  auto written = write_report(build_report_model(dir));
  ASSERT_EQ(written.size(), 4u);  // leaderboard.md, .html, summary.json, the perplexity chart
  for (const auto& p : written) EXPECT_TRUE(fs::exists(p)) << p;
  EXPECT_EQ(written[3].filename(), "plot-proofpile.svg");
  const std::string svg = e2llm::util::read_file(written[3]);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_TRUE(contains(svg, "<polyline"));
  EXPECT_TRUE(contains(e2llm::util::read_file(dir / "leaderboard.md"),
                       "![perplexity vs window — proofpile](plot-proofpile.svg)"));
  json s = json::parse(e2llm::util::read_file(dir / "summary.json"));
  EXPECT_EQ(s["schema"], "e2llm.summary");
  EXPECT_EQ(s["cells"].size(), 21u);
  ASSERT_EQ(s["views"].size(), 4u);  // proofpile, passkey x 2, longbench
  EXPECT_EQ(s["views"][0]["view"]["kind"], "window_curve");
  const json& ppl = s["views"][0]["by_backend_and_window"]["e2llm"]["1024"];
  EXPECT_DOUBLE_EQ(ppl["value"].get<double>(), 7.25);
  EXPECT_EQ(ppl["cell"], "cells/" + target);
  EXPECT_EQ(s["views"][1]["max_window_passing"]["none"], 512);
  EXPECT_EQ(s["views"][2]["by_backend"]["e2llm"]["0.5"]["1024"]["value"], 1.0);
  EXPECT_DOUBLE_EQ(s["views"][3]["by_window"]["2048"]["qasper"]["e2llm"]["value"].get<double>(), 13.5);
  EXPECT_EQ(s["views"][3]["view"]["references"].size(), 2u);
  EXPECT_EQ(s["training_cost"][1]["trained_tokens"], 2500000.0);
}

TEST(Report, ACorruptCellIsOneErrorNamingIt) {
  fs::path dir = fresh_dir("corrupt");
  report_fixture::write_run(dir);
  e2llm::util::write_file_atomic(dir / "cells" / "00000000deadbeef.json", "{\"schema\": \"e2llm.cell\", ");
  try {
    build_report_model(dir);
    FAIL() << "no error";
  } catch (const e2llm::Error& e) {
    std::string what = e.what();
    EXPECT_TRUE(contains(what, "00000000deadbeef.json")) << what;
    EXPECT_TRUE(contains(what, "corrupt")) << what;
    EXPECT_FALSE(contains(what, "\n"));
  }
  e2llm::util::write_file_atomic(dir / "cells" / "00000000deadbeef.json", "{\"schema\": \"other\"}");
  EXPECT_THROW(build_report_model(dir), e2llm::Error);
}

TEST(Report, AnEmptyRunStillRenders) {
  fs::path dir = fresh_dir("empty");
  fs::create_directories(dir / "cells");
  ReportModel m = build_report_model(dir);
  EXPECT_TRUE(contains(render_markdown(m), "No finished cells yet"));
  EXPECT_TRUE(contains(render_html(m), "</html>"));
  EXPECT_THROW(build_report_model(dir / "missing"), e2llm::Error);
}

TEST(Report, OnlyTheLatestPlansCellsAreReported) {
  fs::path dir = fresh_dir("plan");
  std::string target = report_fixture::write_run(dir);
  // The latest sweep planned two cells; the other 19 files are an earlier config's cache.
  json sweep = json::parse(e2llm::util::read_file(dir / "sweep.json"));
  std::string other;
  for (const auto& e : fs::directory_iterator(dir / "cells"))
    if (e.path().filename() != target) other = e.path().filename().string();
  sweep["cells"] = {fs::path(target).stem().string(), fs::path(other).stem().string()};
  e2llm::util::write_file_atomic(dir / "sweep.json", sweep.dump());
  e2llm::util::write_file_atomic(dir / "backends" / "old.json",
                                 json({{"label", "old-method"}, {"plugin", "pi"}, {"trains", false}}).dump());
  ReportModel m = build_report_model(dir);
  ASSERT_EQ(m.cells.size(), 2u);
  EXPECT_EQ(m.cells_not_in_plan, 19u);
  EXPECT_TRUE(m.cells[0].file == "cells/" + target || m.cells[1].file == "cells/" + target);
  EXPECT_TRUE(contains(render_markdown(m), "19 older cell files not in the latest sweep's plan were left out"));
  EXPECT_EQ(render_summary_json(m)["cells_not_in_plan"], 19);
  // A backend the latest sweep does not list drops out of the cost table.
  EXPECT_FALSE(m.cost.empty());
  for (const auto& row : m.cost) EXPECT_NE(std::find(m.backends.begin(), m.backends.end(), row.label), m.backends.end()) << row.label;
}

TEST(Report, ExtendedWindowsRankBackendsByGeometricMeanPerplexity) {
  fs::path dir = fresh_dir("extended");
  report_fixture::write_run(dir);
  ReportModel m = build_report_model(dir);
  ASSERT_EQ(m.sections.size(), 3u);
  ASSERT_EQ(m.sections[0].task_label, "proofpile");   // the sweep's task order
  const auto& ext = m.sections[0].views[0].extended;  // W > L = 512: 1024 and 2048
  ASSERT_EQ(ext.size(), 3u);
  EXPECT_EQ(ext[0].backend, "e2llm");
  EXPECT_NEAR(ext[0].value, std::sqrt(7.25 * 9.0), 1e-9);
  EXPECT_EQ(ext[0].rank, 1u);
  EXPECT_EQ(ext[2].backend, "none");
  EXPECT_NEAR(ext[2].value, std::sqrt(24.0 * 96.0), 1e-9);
  std::string md = render_markdown(m);
  EXPECT_TRUE(contains(md, "| 1 | e2llm | 8.08 |\n")) << md;
  EXPECT_TRUE(contains(render_html(m), "geometric mean perplexity"));
  EXPECT_NEAR(render_summary_json(m)["views"][0]["extended_ranking"][2]["value"].get<double>(), 48.0, 1e-9);
  // Passkey: "none" drops to 20% from 1024 on; the other two pass everywhere and tie for rank 1.
  ASSERT_EQ(m.sections[1].task_label, "passkey");
  const auto& pk = m.sections[1].views[0].extended;
  ASSERT_EQ(pk.size(), 3u);
  EXPECT_EQ(pk[0].rank, 1u);
  EXPECT_EQ(pk[1].rank, 1u);
  EXPECT_EQ(pk[2].backend, "none");
  EXPECT_EQ(pk[2].rank, 3u);
}

// Untrusted input: every string the report takes from the run folder (labels, plugin and
// metric names, dataset and row names, the views' texts, references, config values, the
// run name, git revision) carries markup and a quote; the HTML must hold none of it raw.
TEST(Report, EveryStringFromTheDataIsEscapedInHtml) {
  const std::string evil = "x<script>alert(1)</script>\"onmouseover=\"alert(2)";
  fs::path dir = fresh_dir("evil");
  e2llm::ReportView curve;
  curve.kind = e2llm::ViewKind::window_curve;
  curve.title = "curve " + evil;
  curve.metric = "m" + evil;
  curve.quantity = "q" + evil;
  curve.note = "note `" + evil + "` *" + evil + "* " + evil;
  curve.chart = e2llm::ChartScale::linear;
  curve.summary = e2llm::WindowSummary::mean;
  curve.pass_threshold = 0.5;
  curve.threshold_key = "k" + evil;
  e2llm::ReportView grid;
  grid.kind = e2llm::ViewKind::grid;
  grid.title = "grid " + evil;
  grid.metric = "g" + evil;
  grid.row_label = "r" + evil;
  grid.note_html = "<em>ok</em> <code onclick=\"alert(3)\">no</code> <script>alert(1)</script>\"" + evil;
  e2llm::ReportView table;
  table.kind = e2llm::ViewKind::dataset_table;
  table.title = "table " + evil;
  table.metric = "m" + evil;
  table.row_label = "d" + evil;
  table.row_order = {"dataset" + evil};
  table.references = {{"ref" + evil, "tag" + evil, "src" + evil, {{"dataset" + evil, 1.5, 1, "foot" + evil}}}};
  const json views = e2llm::harness::views_to_json({curve, grid, table});
  for (std::int64_t window : {512, 1024}) {
    json cell = {{"schema", kCellSchema},
                 {"schema_version", kCellSchemaVersion},
                 {"key", std::string(window == 512 ? "a" : "b") + std::string(63, '0')},
                 {"backend", {{"label", "b" + evil}, {"plugin", "p" + evil}}},
                 {"task",
                  {{"label", "t" + evil},
                   {"plugin", "tp" + evil},
                   {"config", {{"k" + evil, evil}}},
                   {"metrics_info", {{{"name", "m" + evil}, {"higher_is_better", true}}}},
                   {"views", views}}},
                 {"window", window},
                 {"original_window", 256},
                 {"metrics", {{"m" + evil, 0.75}, {"g" + evil, {{"row" + evil, 0.5}}}, {"dataset" + evil, 12.0}}},
                 {"details", {{"prediction", evil}}},
                 {"git_revision", "rev" + evil}};
    e2llm::util::write_file_atomic(dir / "cells" / (cell["key"].get<std::string>().substr(0, 16) + ".json"),
                                   cell.dump());
  }
  e2llm::util::write_file_atomic(dir / "sweep.json", json({{"name", "run" + evil}, {"original_window", 256}}).dump());
  e2llm::util::write_file_atomic(dir / "backends" / "b.json",
                                 json({{"label", "b" + evil}, {"plugin", "p" + evil}, {"trains", true}}).dump());
  ReportModel m = build_report_model(dir);
  ASSERT_EQ(m.sections.size(), 1u);
  ASSERT_EQ(m.sections[0].views.size(), 3u);
  std::string html = render_html(m);
  EXPECT_FALSE(contains(html, "<script")) << html;
  EXPECT_FALSE(contains(html, "\"onmouseover")) << html;
  EXPECT_FALSE(contains(html, "onclick=\"")) << html;
  EXPECT_TRUE(contains(html, "<em>ok</em>"));  // the allowlisted inline tags of a note stay
  EXPECT_TRUE(contains(html, "&lt;code onclick=&quot;alert(3)&quot;&gt;no</code>"));  // a stray closing tag is harmless
  // Each planted string is present, escaped, in every role it plays.
  const std::string escaped = "x&lt;script&gt;alert(1)&lt;/script&gt;&quot;onmouseover=&quot;alert(2)";
  for (const char* prefix : {"curve ", "grid ", "table ", "<th>b", "— t", "<h3>t", "<td class=\"text\">t", "<th>d",
                             "<th>r", "ref", "tag", "src", "run", "rev", "<code>m", "tp"})
    EXPECT_TRUE(contains(html, prefix + escaped)) << prefix;
  std::string md = render_markdown(m);
  EXPECT_FALSE(contains(md, "<script")) << md;
  EXPECT_FALSE(contains(md, "<code")) << md;
}

// What a reader of either output sees the same way: the references' footnotes under the
// LongBench table in the HTML as in the Markdown; a task's headline metric in its section's
// format (passkey accuracy in percent, as its section shows it); text columns left-aligned.
TEST(Report, HtmlCarriesTheFootnotesAndEveryOutputOneNumberFormat) {
  fs::path dir = fresh_dir("formats");
  report_fixture::write_run(dir);
  write_report(build_report_model(dir));
  const std::string md = e2llm::util::read_file(dir / "leaderboard.md");
  const std::string html = e2llm::util::read_file(dir / "leaderboard.html");
  ASSERT_TRUE(contains(md, "¹ a mean")) << "the fixture's LongBench reference has a footnote";
  EXPECT_TRUE(contains(html, "<sup>1</sup> a mean")) << "the HTML dropped the Markdown's footnote";
  EXPECT_TRUE(contains(html, "24.02<sup>1</sup>")) << "the reference value carries its footnote mark";
  // The headline block of passkey: its values in percent, not 0.00 / 1.00.
  const auto headline = md.substr(md.find("## Headline metric of every task"));
  const auto passkey = headline.substr(headline.find("**passkey**"));
  const auto table = passkey.substr(0, passkey.find("\n\n", passkey.find("| backend")));
  EXPECT_TRUE(contains(table, "%")) << table;
  EXPECT_FALSE(std::regex_search(table, std::regex(R"(\[(0|1)\.\d\d, )"))) << table;
  EXPECT_TRUE(contains(html, "<td class=\"text\">")) << "text columns are marked for left alignment";
  EXPECT_TRUE(contains(html, "td.text{text-align:left}"));
}

// --threshold is a fraction for percentage views: 2 (or 90) is refused in one line naming
// the view; 0.9 passes.
TEST(Report, ThresholdAboveOneIsRefusedForPercentViews) {
  fs::path dir = fresh_dir("threshold");
  report_fixture::write_run(dir);
  e2llm::harness::ReportOptions options;
  options.threshold = 2.0;
  try {
    build_report_model(dir, options);
    FAIL() << "no error";
  } catch (const e2llm::Error& e) {
    const std::string what = e.what();
    EXPECT_TRUE(contains(what, "--threshold 2")) << what;
    EXPECT_TRUE(contains(what, "fraction")) << what;
    EXPECT_FALSE(contains(what, "\n"));
  }
  options.threshold = 0.9;
  EXPECT_NO_THROW(build_report_model(dir, options));
}
