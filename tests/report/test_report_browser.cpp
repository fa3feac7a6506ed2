// Renders leaderboard.html in headless Chromium: the page must draw (a screenshot clearly
// larger than one of a blank page), contain its chart, and log no console error.
// Skips where /usr/bin/chromium is absent (Debian package `chromium`).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

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

}  // namespace

TEST(ReportBrowser, LeaderboardRendersInHeadlessChromiumWithoutConsoleErrors) {
  if (access(kChromium, X_OK) != 0) GTEST_SKIP() << kChromium << " not installed (apt-get install chromium)";
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
