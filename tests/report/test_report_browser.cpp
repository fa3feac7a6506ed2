// Renders leaderboard.html in headless Chromium: the page must draw (a screenshot clearly
// larger than one of a blank page), log no console error, and show the values it reports
// where a reader would read them: a script run in the rendered page measures every chart
// point's screen position against the rendered axis (the tick labels' grid lines, linear or
// log) and the window's tick, and reads each point's value; every cell's value must be a
// point at its window, placed within a pixel and a half of where its axis puts that value;
// a log axis is fitted to the data (the points span most of the plot), and no two backends
// share colour, marker and dash.
// Fails where /usr/bin/chromium is absent (Debian package `chromium`, scripts/setup.sh).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "e2llm/harness/report.hpp"
#include "e2llm/util/files.hpp"
#include "report_fixture.hpp"

namespace fs = std::filesystem;

namespace {

const char* kChromium = "/usr/bin/chromium";

struct Output {
  int code;
  std::string text;
};

Output chromium(const fs::path& work, const std::string& mode, const fs::path& page) {
  fs::path profile = work / ("profile-" + std::to_string(std::rand()));
  fs::create_directories(profile);
  std::string command = std::string("timeout 120 ") + kChromium +
                        " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
                        " --disable-background-networking --disable-component-update --disable-sync"
                        " --enable-logging=stderr --v=0 --user-data-dir='" +
                        profile.string() + "' " + mode + " --window-size=1280,2000 'file://" + page.string() + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string text;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, pipe)) text.append(buf, n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text};
}

// Console messages and script errors Chromium logs with --enable-logging=stderr.
std::string console_errors(const std::string& log) {
  std::string found;
  std::size_t start = 0;
  while (start < log.size()) {
    std::size_t end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    std::string line = log.substr(start, end - start);
    if (line.find("CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos ||
        line.find("net::ERR_") != std::string::npos)
      found += line + "\n";
    start = end + 1;
  }
  return found;
}

// Run inside the rendered page: per chart, the y-axis as drawn (each tick label's grid line,
// fitted linearly in the value or its log10, whichever fits the ticks), the x tick of every
// window, and every point: its series, window and value (from its tooltip) and how far its
// rendered centre lies from where the axis puts that value. Written into the page as JSON.
const char* kMeasureScript = R"JS(<script>
(function () {
  var charts = [];
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    var kids = Array.prototype.slice.call(svg.children), yt = [], xt = [];
    kids.forEach(function (el, i) {
      if (el.tagName !== 'text' || !el.classList.contains('tick') || i === 0) return;
      var line = kids[i - 1];
      if (line.tagName !== 'line') return;
      var r = line.getBoundingClientRect(), v = parseFloat(el.textContent);
      if (el.getAttribute('text-anchor') === 'end') yt.push({v: v, y: r.top + r.height / 2});
      else xt.push({v: v, x: r.left + r.width / 2});
    });
    function fit(f) {
      var n = yt.length, sx = 0, sy = 0, sxx = 0, sxy = 0, worst = 0;
      yt.forEach(function (t) { var x = f(t.v); sx += x; sy += t.y; sxx += x * x; sxy += x * t.y; });
      var b = (n * sxy - sx * sy) / (n * sxx - sx * sx), a = (sy - b * sx) / n;
      yt.forEach(function (t) { worst = Math.max(worst, Math.abs(a + b * f(t.v) - t.y)); });
      return {a: a, b: b, worst: worst, f: f};
    }
    var lin = fit(function (v) { return v; });
    var lg = yt.every(function (t) { return t.v > 0; }) ? fit(Math.log10) : null;
    var ax = lg && lg.worst < lin.worst ? lg : lin, points = [], styles = {}, top = Infinity, bottom = -Infinity;
    svg.querySelectorAll('g.point').forEach(function (c) {
      var m = /^(.*) W=(\d+): \S+ (-?[0-9.]+)(%?)/.exec(c.querySelector('title').textContent);
      var r = c.getBoundingClientRect(), cx = r.left + r.width / 2, cy = r.top + r.height / 2;
      var w = +m[2], v = parseFloat(m[3]), tick = xt.filter(function (x) { return x.v === w; })[0];
      points.push({series: m[1], window: w, value: v, percent: m[4] === '%',
                   dy: cy - (ax.a + ax.b * ax.f(v)), dx: tick ? cx - tick.x : null});
      styles[m[1]] = c.getAttribute('data-style');
      top = Math.min(top, cy), bottom = Math.max(bottom, cy);
    });
    var frame = svg.querySelector('rect').getBoundingClientRect();
    charts.push({label: svg.getAttribute('aria-label'), log: ax === lg, y_ticks: yt.length,
                 tick_fit_px: ax.worst, points: points, styles: styles,
                 data_height: points.length ? (bottom - top) / frame.height : 0});
  });
  var pre = document.createElement('pre');
  pre.id = 'e2llm-measured';
  pre.textContent = JSON.stringify(charts);
  document.body.appendChild(pre);
})();
</script>)JS";

// The JSON the script wrote, out of Chromium's --dump-dom (a text node: &, <, > escaped).
nlohmann::json measured(const std::string& dom) {
  const std::string open = "<pre id=\"e2llm-measured\">";
  const auto at = dom.find(open);
  if (at == std::string::npos) return nullptr;
  std::string text = dom.substr(at + open.size(), dom.find("</pre>", at) - at - open.size());
  for (const auto& [entity, c] :
       std::vector<std::pair<std::string, std::string>>{{"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}})
    for (size_t p; (p = text.find(entity)) != std::string::npos;) text.replace(p, entity.size(), c);
  return nlohmann::json::parse(text);
}

}  // namespace

TEST(ReportBrowser, LeaderboardRendersInHeadlessChromiumWithoutConsoleErrors) {
  ASSERT_EQ(access(kChromium, X_OK), 0) << kChromium << " not installed (apt-get install chromium; scripts/setup.sh)";
  fs::path dir = fs::temp_directory_path() / ("e2llm_browser_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  report_fixture::write_run(dir / "run");
  e2llm::harness::write_report(e2llm::harness::build_report_model(dir / "run"));
  fs::path page = fs::absolute(dir / "run" / "leaderboard.html");
  e2llm::util::write_file_atomic(dir / "blank.html", "<!DOCTYPE html><html><body></body></html>");

  Output shot = chromium(dir, "--screenshot='" + (dir / "page.png").string() + "'", page);
  ASSERT_TRUE(fs::exists(dir / "page.png")) << shot.text;
  EXPECT_EQ(console_errors(shot.text), "");
  Output blank = chromium(dir, "--screenshot='" + (dir / "blank.png").string() + "'", dir / "blank.html");
  ASSERT_TRUE(fs::exists(dir / "blank.png")) << blank.text;
  // PNG compresses a uniform page to almost nothing; drawn tables, text and a chart do not.
  EXPECT_GT(fs::file_size(dir / "page.png"), 4 * fs::file_size(dir / "blank.png"))
      << "the screenshot looks blank: " << fs::file_size(dir / "page.png") << " vs " << fs::file_size(dir / "blank.png");

  Output dom = chromium(dir, "--dump-dom", page);
  EXPECT_NE(dom.text.find("<svg"), std::string::npos);
  EXPECT_NE(dom.text.find("<polyline"), std::string::npos);
  EXPECT_EQ(dom.text.find("<script>"), std::string::npos);  // the escaped label stayed text
  EXPECT_EQ(console_errors(dom.text), "");
}

TEST(ReportBrowser, ChartPointsSitWhereTheRenderedAxesPutTheCellsValues) {
  ASSERT_EQ(access(kChromium, X_OK), 0) << kChromium << " not installed (apt-get install chromium; scripts/setup.sh)";
  fs::path dir = fs::temp_directory_path() / ("e2llm_browser_values_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  report_fixture::write_run(dir / "run");
  e2llm::harness::write_report(e2llm::harness::build_report_model(dir / "run"));
  std::string html = e2llm::util::read_file(dir / "run" / "leaderboard.html");
  html.insert(html.rfind("</body>"), kMeasureScript);
  e2llm::util::write_file_atomic(dir / "run" / "measured.html", html);
  Output dom = chromium(dir, "--dump-dom", fs::absolute(dir / "run" / "measured.html"));
  const auto charts = measured(dom.text);
  ASSERT_TRUE(charts.is_array()) << dom.text.substr(0, 2000);

  // What the cells say: task label -> (backend label, W) -> the value of the view's metric.
  const std::map<std::string, std::string> metric = {{"proofpile", "ppl"}, {"passkey", "accuracy"}};
  std::map<std::string, std::map<std::pair<std::string, int64_t>, double>> want;
  for (const auto& e : fs::directory_iterator(dir / "run" / "cells")) {
    if (e.path().extension() != ".json") continue;
    const auto cell = nlohmann::json::parse(e2llm::util::read_file(e.path()));
    const std::string task = cell["task"]["label"];
    if (!metric.count(task)) continue;
    want[task][{cell["backend"]["label"], cell["window"]}] = cell["metrics"][metric.at(task)];
  }
  ASSERT_EQ(want.size(), 2u);
  std::map<std::string, int> charted;
  for (const auto& chart : charts) {
    const std::string label = chart["label"];
    const std::string task = label.substr(label.rfind(", ") + 2);
    SCOPED_TRACE(label);
    ASSERT_TRUE(want.count(task)) << "a chart of an unknown task";
    EXPECT_GE(chart["y_ticks"].get<int>(), 2);
    EXPECT_LT(chart["tick_fit_px"].get<double>(), 0.5) << "the tick labels are not on one linear or log axis";
    EXPECT_EQ(chart["log"].get<bool>(), task == "proofpile") << "perplexity is drawn on a log axis, accuracy linear";
    auto remaining = want[task];
    for (const auto& p : chart["points"]) {
      const std::pair<std::string, int64_t> id = {p["series"], p["window"]};
      SCOPED_TRACE(id.first + " W=" + std::to_string(id.second));
      ASSERT_TRUE(remaining.count(id)) << "a point no cell has (or drawn twice)";
      const double value = remaining.at(id) * (p["percent"].get<bool>() ? 100.0 : 1.0);
      EXPECT_NEAR(p["value"].get<double>(), value, 0.051) << "the point's tooltip";
      EXPECT_LT(std::abs(p["dy"].get<double>()), 1.5) << "drawn " << p["dy"] << " px off its value";
      ASSERT_FALSE(p["dx"].is_null()) << "no x tick for this window";
      EXPECT_LT(std::abs(p["dx"].get<double>()), 1.5) << "drawn " << p["dx"] << " px off its window";
      remaining.erase(id);
    }
    EXPECT_TRUE(remaining.empty()) << remaining.size() << " cells have no point";
    // The axis is fitted to the data: on a log axis the points span most of the plot's height
    // (a whole-decade axis put 21.9 .. 29.7 into a fifth of it).
    if (chart["log"].get<bool>()) EXPECT_GT(chart["data_height"].get<double>(), 0.8);
    // No two backends share colour, marker and dash.
    std::map<std::string, std::string> seen;
    for (const auto& [series, style] : chart["styles"].items()) {
      EXPECT_FALSE(seen.count(style.get<std::string>())) << series << " looks like " << seen[style];
      seen[style] = series;
    }
    charted[task] += 1;
  }
  EXPECT_EQ(charted["proofpile"], 1) << "the perplexity view is charted";
  fs::remove_all(dir);
}
