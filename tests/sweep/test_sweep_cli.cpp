// End to end: the real `e2llm` binary runs sweeps of test-only plugins (tests/sweep/plugins)
// and is interrupted, resumed, raced and fed bad configs.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "../support/language_model_conformance.hpp"
#include "e2llm/harness/registry.hpp"
#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Result {
  int code;
  std::string output;
};

std::string quote(const std::string& s) { return "'" + s + "'"; }

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("e2llm_sweep_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<std::string> base_args(const fs::path& config, const fs::path& out) {
  return {E2LLM_EXE, "--plugin-path", SWEEP_TEST_PLUGIN_DIR, "sweep", config.string(), "--out", out.string()};
}

Result run(const std::vector<std::string>& args) {
  std::string command;
  for (const auto& a : args) command += quote(a) + " ";
  command += "2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

pid_t spawn(const std::vector<std::string>& args, const fs::path& log) {
  pid_t pid = fork();
  if (pid == 0) {
    FILE* f = freopen(log.c_str(), "w", stdout);
    (void)f;
    dup2(fileno(stdout), 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// The config: 2 backends x 1 task x 2 windows = 4 cells.
fs::path write_config(const fs::path& dir, int samples, int sleep_ms, const std::string& extra_backend = "",
                      const std::string& task_extra = "", const std::string& windows = "[512, 1024]") {
  e2llm::util::write_file_atomic(dir / "tok.txt", "fake tokenizer model");
  e2llm::util::write_file_atomic(dir / "base.gguf", "fake base");
  std::ostringstream c;
  c << "[run]\nname = \"t\"\nseed = 7\n\n"
    << "[tokenizer]\nplugin = \"faketok\"\nmodel = \"tok.txt\"\n\n"
    << "[base]\nsource = \"gguf\"\npath = \"base.gguf\"\nwindow = 512\n\n"
    << "[backends.a]\nplugin = \"fakebackend\"\ntag = \"a\"\n\n"
    << "[backends.b]\nplugin = \"fakebackend" << extra_backend << "\"\ntag = \"b\"\nscale = 2.0\n\n"
    << "[tasks.t]\nplugin = \"faketask\"\nsamples = " << samples << "\nsleep_ms = " << sleep_ms
    << "\nout_dir = \"counter\"\n"
    << task_extra << "\n"
    << "[sweep]\nwindows = " << windows << "\n";
  fs::path config = dir / "cfg.toml";
  e2llm::util::write_file_atomic(config, c.str());
  return config;
}

std::vector<std::string> computed(const fs::path& dir) {
  std::vector<std::string> lines;
  std::ifstream in(dir / "counter" / "computed.txt");
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

// cell file name -> inode (a rewrite by rename gets a new inode)
std::map<std::string, ino_t> cell_inodes(const fs::path& out) {
  std::map<std::string, ino_t> cells;
  static const std::regex name("[0-9a-f]{16}\\.json");
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(out / "cells", ec)) {
    if (!std::regex_match(e.path().filename().string(), name)) continue;
    struct stat st {};
    stat(e.path().c_str(), &st);
    cells[e.path().filename().string()] = st.st_ino;
  }
  return cells;
}

std::vector<fs::path> journals(const fs::path& out) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(out / "cells", ec))
    if (e.path().string().size() > 14 && e.path().string().rfind(".samples.jsonl") == e.path().string().size() - 14)
      found.push_back(e.path());
  return found;
}

}  // namespace

TEST(SweepCli, RunsEveryCellThenSkipsThemAndRecomputesOnlyADeletedOne) {
  fs::path dir = fresh_dir("delete");
  fs::path config = write_config(dir, 3, 0), out = dir / "run";
  Result first = run(base_args(config, out));
  ASSERT_EQ(first.code, 0) << first.output;
  EXPECT_NE(first.output.find("4 computed, 0 already done"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("e2llm report"), std::string::npos);
  auto cells = cell_inodes(out);
  ASSERT_EQ(cells.size(), 4u);
  EXPECT_EQ(computed(dir).size(), 12u);
  EXPECT_TRUE(fs::exists(out / "backends" / "a.json"));
  EXPECT_TRUE(fs::exists(out / "sweep.json"));

  // A cell is self-describing.
  json cell = json::parse(e2llm::util::read_file(out / "cells" / cells.begin()->first));
  for (const char* field :
       {"schema", "schema_version", "key", "backend", "task", "window", "window_ratio", "served_scale", "model", "seed",
        "git_revision", "metrics", "tokens_per_s", "peak_rss_bytes", "peak_rss_bytes_cell", "peak_rss_cell_method",
        "timing", "host", "samples"})
    EXPECT_TRUE(cell.contains(field)) << field;
  EXPECT_LE(cell["peak_rss_bytes_cell"].get<std::int64_t>(), cell["peak_rss_bytes"].get<std::int64_t>());
  EXPECT_EQ(cell["key"].get<std::string>().substr(0, 16) + ".json", cells.begin()->first);
  EXPECT_EQ(cell["samples"]["count"], 3);
  EXPECT_DOUBLE_EQ(cell["window_ratio"].get<double>(), cell["window"].get<double>() / 512);
  // Relative plugin paths were resolved against the config's folder.
  EXPECT_EQ(cell["task"]["config_resolved"]["out_dir"], (dir / "counter").string());

  // Rerun: nothing to do.
  Result second = run(base_args(config, out));
  ASSERT_EQ(second.code, 0) << second.output;
  EXPECT_NE(second.output.find("0 computed, 4 already done"), std::string::npos) << second.output;
  EXPECT_EQ(cell_inodes(out), cells);
  EXPECT_EQ(computed(dir).size(), 12u);

  // Delete one cell: only it is recomputed.
  std::string victim = std::next(cells.begin())->first;
  json victim_cell = json::parse(e2llm::util::read_file(out / "cells" / victim));
  fs::remove(out / "cells" / victim);
  Result third = run(base_args(config, out));
  ASSERT_EQ(third.code, 0) << third.output;
  EXPECT_NE(third.output.find("1 computed, 3 already done"), std::string::npos) << third.output;
  auto after = cell_inodes(out);
  for (const auto& [name, inode] : cells)
    if (name != victim) {
      EXPECT_EQ(after.at(name), inode) << name << " was rewritten";
    }
  auto lines = computed(dir);
  ASSERT_EQ(lines.size(), 15u);
  std::string expected_prefix = victim_cell["model"]["tag"].get<std::string>() + " " + victim_cell["window"].dump() + " ";
  for (std::size_t i = 12; i < 15; ++i) EXPECT_EQ(lines[i].rfind(expected_prefix, 0), 0u) << lines[i];

  // The report reads the run.
  Result report = run({E2LLM_EXE, "report", out.string()});
  ASSERT_EQ(report.code, 0) << report.output;
  EXPECT_TRUE(fs::exists(out / "leaderboard.md"));
  EXPECT_TRUE(fs::exists(out / "leaderboard.html"));
  json summary = json::parse(e2llm::util::read_file(out / "summary.json"));
  EXPECT_EQ(summary["cells"].size(), 4u);

  // The same folder, a changed config (one window): the old cells stay as a cache, the
  // report shows the latest plan's 2 cells and says it left 2 out.
  config = write_config(dir, 3, 0, "", "", "[512]");
  Result narrowed = run(base_args(config, out));
  ASSERT_EQ(narrowed.code, 0) << narrowed.output;
  EXPECT_NE(narrowed.output.find("0 computed, 2 already done"), std::string::npos) << narrowed.output;
  EXPECT_EQ(json::parse(e2llm::util::read_file(out / "sweep.json"))["cells"].size(), 2u);
  ASSERT_EQ(run({E2LLM_EXE, "report", out.string()}).code, 0);
  summary = json::parse(e2llm::util::read_file(out / "summary.json"));
  EXPECT_EQ(summary["cells"].size(), 2u);
  EXPECT_EQ(summary["cells_not_in_plan"], 2);
  EXPECT_EQ(cell_inodes(out).size(), 4u);
}

// The configs the README runs plan without error against the real plugins (their corpus
// is not needed for a dry run beyond the eval file, faked here).
TEST(SweepCli, ShippedSweepConfigsPlanCleanly) {
#ifndef E2LLM_HAVE_REAL_PLUGINS
  GTEST_SKIP() << "built without the LibTorch backends or the task plugins";
#endif
  fs::path dir = fresh_dir("shipped");
  e2llm::util::write_file_atomic(dir / "eval.jsonl", json({{"text", "a held-out document"}}).dump() + "\n");
  int checked = 0;
  for (const auto& e : fs::directory_iterator(fs::path(E2LLM_SOURCE_DIR) / "configs")) {
    if (e.path().extension() != ".toml") continue;
    const std::string text = e2llm::util::read_file(e.path());
    if (text.find("\n[sweep]") == std::string::npos || text.find("\n[train]") != std::string::npos) continue;  // train configs
    std::vector<std::string> args = {E2LLM_EXE,   "sweep", e.path().string(),
                                     "--dry-run", "--out", (dir / "out").string()};
    if (text.find("\n[tasks.proofpile]") != std::string::npos)
      args.insert(args.end(), {"--set", "tasks.proofpile.data=" + (dir / "eval.jsonl").string()});
    Result r = run(args);
    EXPECT_EQ(r.code, 0) << e.path() << "\n" << r.output;
    EXPECT_NE(r.output.find("dry run: nothing was written"), std::string::npos) << r.output;
    if (text.find("source = \"pretrain\"") != std::string::npos)
      EXPECT_NE(r.output.find("a base model to pretrain"), std::string::npos)
          << e.path() << " should pretrain its base";
    ++checked;
  }
  EXPECT_GE(checked, 3);  // quickstart.toml, paper-small.toml, longbench-smoke.toml
  EXPECT_FALSE(fs::exists(dir / "out"));
}

// A window too small for a task's prompt fails the dry run (and the run, before it prepares or
// trains anything) in one line naming the task's key: the retrieval tasks' prompt and answer,
// LongBench's prompt budget per dataset.
TEST(SweepCli, WindowsTooSmallForATaskFailTheDryRun) {
#ifndef E2LLM_HAVE_REAL_PLUGINS
  GTEST_SKIP() << "built without the LibTorch backends or the task plugins";
#endif
  fs::path dir = fresh_dir("small_windows");
  e2llm::util::write_file_atomic(dir / "eval.jsonl", json({{"text", "a held-out document"}}).dump() + "\n");
  const fs::path configs = fs::path(E2LLM_SOURCE_DIR) / "configs";
  struct Case {
    std::string config, windows, expected;
  };
  for (const Case& c :
       {Case{"quickstart.toml", "[1, 512]", "tasks.passkey.target_tokens: passkey: window 1 leaves no room"},
        Case{"quickstart.toml", "[512, 8]", "tasks.passkey.target_tokens: passkey: window 8 leaves no room"},
        // The answer fits, the prompt does not: found with the sweep's tokenizer, before any model loads.
        Case{"quickstart.toml", "[512, 64]",
             "tasks.passkey.target_tokens: passkey: window 64 leaves 54 tokens for the prompt, but its shortest "
             "prompt (no filler) takes"},
        Case{"longbench-smoke.toml", "[1024, 128]",
             "tasks.longbench.reserve: longbench: prompt budget 0 for qasper at window 128"}}) {
    for (bool dry : {true, false}) {
      std::vector<std::string> args = {E2LLM_EXE,
                                       "sweep",
                                       (configs / c.config).string(),
                                       "--out",
                                       (dir / "out").string(),
                                       "--set",
                                       "sweep.windows=" + c.windows};
      if (c.config == "quickstart.toml")
        args.insert(args.end(), {"--set", "tasks.proofpile.data=" + (dir / "eval.jsonl").string()});
      if (dry) args.push_back("--dry-run");
      Result r = run(args);
      EXPECT_EQ(r.code, 1) << r.output;
      EXPECT_NE(r.output.find(c.expected), std::string::npos) << r.output;
      EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
      EXPECT_FALSE(fs::exists(dir / "out")) << c.config << " " << c.windows << (dry ? " (dry run)" : "");
    }
  }
}

// Every backend, at windows below, at and above L = 512 that are not multiples of it, with the
// scale rules a config can name (ceil, exact, a configured factor, one fixed factor): each
// cell's served_scale is the scale the rule gives (written out here, not computed by the code
// under test), it is the scale of the RoPE the model describes (its factor, 1 for plain RoPE),
// window_ratio is W / L, and the report's summary.json carries the same served scale.
TEST(SweepCli, EveryCellRecordsTheScaleItsModelServed) {
#ifndef E2LLM_HAVE_REAL_PLUGINS
  GTEST_SKIP() << "built without the LibTorch backends or the task plugins";
#endif
  fs::path dir = fresh_dir("served_scale");
  const fs::path models = fs::path(E2LLM_SHARED_DATA) / "models";
  std::ifstream rows(fs::path(E2LLM_SHARED_DATA) / "longbench/rows/gov_report.jsonl");
  std::string row;
  ASSERT_TRUE(std::getline(rows, row));
  e2llm::util::write_file_atomic(dir / "doc.jsonl", json{{"text", json::parse(row).at("context")}}.dump() + "\n");
  std::string corpus;
  for (int i = 0; i < 400; ++i)
    corpus += json{{"text", "Once upon a time, a little cat named " + std::to_string(i) +
                                " found a blue ball under the tree. The cat was glad and played with it all day. "}}
                  .dump() +
              "\n";
  e2llm::util::write_file_atomic(dir / "corpus.jsonl", corpus);
  const std::string train = "corpus = \"" + (dir / "corpus.jsonl").string() +
                            "\"\nsteps = 1\nbatch = 1\nseq_len = 64\nlr = 1e-3\ncheck_blas = false\n";
  std::ostringstream c;
  c << "[run]\nseed = 0\nthreads = 1\n[tokenizer]\nmodel = \"" << (models / "tok512.model").string()
    << "\"\n[base]\nsource = \"gguf\"\npath = \"" << (models / "stories260K.gguf").string() << "\"\nwindow = 512\n";
  for (const char* plugin : {"none", "pi", "ntk", "dynamic-ntk", "yarn", "llama3", "longrope", "self-extend"})
    c << "[backends." << plugin << "]\nplugin = \"" << plugin << "\"\n";
  c << "[backends.pi-exact]\nplugin = \"pi\"\nfactor_rule = \"exact\"\n"
    << "[backends.yarn-3]\nplugin = \"yarn\"\nfactor = 3\n"
    << "[backends.e2llm]\nplugin = \"e2llm\"\ngmax = 4\n"
    << train << "[backends.e2llm-g4]\nplugin = \"e2llm\"\ngmax = 4\nfactor_rule = \"fixed\"\nfactor = 4\n"
    << train << "[backends.pi-ft]\nplugin = \"pi-ft\"\n"
    << train << "[backends.pose]\nplugin = \"pose\"\n"
    << train << "[tasks.ppl]\nplugin = \"proofpile\"\ndata = \"" << (dir / "doc.jsonl").string()
    << "\"\nmax_documents = 1\ntruncate = 1536\n[sweep]\nwindows = [384, 512, 700, 1024, 1536]\n";
  e2llm::util::write_file_atomic(dir / "sweep.toml", c.str());
  Result r = run({E2LLM_EXE, "sweep", (dir / "sweep.toml").string(), "--out", (dir / "run").string()});
  ASSERT_EQ(r.code, 0) << r.output;
  ASSERT_EQ(run({E2LLM_EXE, "report", (dir / "run").string()}).code, 0);

  auto expected = [](const std::string& label, std::int64_t W) {
    const double ratio = double(W) / 512;
    if (label == "none" || label == "self-extend") return 1.0;  // plain RoPE at every window
    if (label == "e2llm-g4") return 4.0;                        // one fixed g, W <= L included
    if (label == "pose") return 1536.0 / 512;                   // L_t / L, L_t = the largest window
    if (W <= 512) return 1.0;
    if (label == "pi-exact") return ratio;
    if (label == "yarn-3") return 3.0;
    return std::ceil(ratio);  // the default rule, trained (e2llm, pi-ft) or not
  };
  const json summary = json::parse(e2llm::util::read_file(dir / "run" / "summary.json"));
  std::map<std::string, double> reported;  // cell file -> served_scale in summary.json
  for (const auto& cell : summary.at("cells")) reported[cell.at("cell")] = cell.at("served_scale");
  int checked = 0;
  for (const auto& e : fs::directory_iterator(dir / "run" / "cells")) {
    if (e.path().extension() != ".json") continue;
    const json cell = json::parse(e2llm::util::read_file(e.path()));
    const std::string label = cell["backend"]["label"];
    const std::int64_t W = cell["window"];
    const std::string where = label + " at W = " + std::to_string(W);
    ASSERT_TRUE(cell["served_scale"].is_number()) << where;
    const double served = cell["served_scale"];
    EXPECT_DOUBLE_EQ(served, expected(label, W)) << where;
    EXPECT_DOUBLE_EQ(cell["window_ratio"].get<double>(), double(W) / 512) << where;
    const json& rope = cell["model"]["rope"];
    EXPECT_DOUBLE_EQ(served, rope["type"] == "default" ? 1.0 : rope["factor"].get<double>()) << where << rope;
    EXPECT_DOUBLE_EQ(cell["model"]["g"].get<double>(), served) << where;
    EXPECT_DOUBLE_EQ(reported.at("cells/" + e.path().filename().string()), served) << where;
    ++checked;
  }
  EXPECT_EQ(checked, 14 * 5);
}

TEST(SweepCli, SigkillMidCellLosesAtMostTheSampleInFlight) {
  fs::path dir = fresh_dir("kill");
  fs::path config = write_config(dir, 6, 60), out = dir / "run";
  pid_t pid = spawn(base_args(config, out), dir / "first.log");
  // Wait until one cell is finished and another has journaled two samples, then kill.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool ready = false;
  while (!ready && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (cell_inodes(out).empty()) continue;
    for (const auto& j : journals(out))
      if (e2llm::util::read_jsonl_tolerant(j).size() >= 2) ready = true;
  }
  ASSERT_TRUE(ready) << e2llm::util::read_file(dir / "first.log");
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);

  auto finished = cell_inodes(out);
  ASSERT_GE(finished.size(), 1u);
  ASSERT_LT(finished.size(), 4u);
  std::set<std::string> journaled;  // samples finished before the kill: "tag window i"
  for (const auto& j : journals(out))
    for (const auto& row : e2llm::util::read_jsonl_tolerant(j)) {
      const json& r = row["record"];
      journaled.insert(r["tag"].get<std::string>() + " " + r["window"].dump() + " " + r["i"].dump());
    }
  ASSERT_GE(journaled.size(), 2u);

  Result rerun = run(base_args(config, out));
  ASSERT_EQ(rerun.code, 0) << rerun.output;
  EXPECT_NE(rerun.output.find("resuming"), std::string::npos) << rerun.output;
  auto after = cell_inodes(out);
  EXPECT_EQ(after.size(), 4u);
  for (const auto& [name, inode] : finished) EXPECT_EQ(after.at(name), inode) << name << " was recomputed";
  std::map<std::string, int> times;
  for (const auto& line : computed(dir)) ++times[line];
  EXPECT_EQ(times.size(), 24u);  // every sample computed at least once
  int repeated = 0;
  for (const auto& [sample, n] : times) {
    if (journaled.count(sample)) {
      EXPECT_EQ(n, 1) << sample << " was recomputed after the kill";
    }
    repeated += n - 1;
  }
  EXPECT_LE(repeated, 1) << "only the sample in flight may be computed twice";
  // The finished cell's samples include the resumed ones.
  for (const auto& [name, inode] : after) {
    json cell = json::parse(e2llm::util::read_file(out / "cells" / name));
    EXPECT_EQ(cell["samples"]["count"], 6);
  }
}

TEST(SweepCli, ConcurrentProcessesNeverComputeTheSameCell) {
  fs::path dir = fresh_dir("race");
  fs::path config = write_config(dir, 3, 40, "", "", "[512, 1024, 2048]"), out = dir / "run";
  pid_t a = spawn(base_args(config, out), dir / "a.log");
  pid_t b = spawn(base_args(config, out), dir / "b.log");
  int status_a = 0, status_b = 0;
  waitpid(a, &status_a, 0);
  waitpid(b, &status_b, 0);
  ASSERT_TRUE(WIFEXITED(status_a) && WEXITSTATUS(status_a) == 0) << e2llm::util::read_file(dir / "a.log");
  ASSERT_TRUE(WIFEXITED(status_b) && WEXITSTATUS(status_b) == 0) << e2llm::util::read_file(dir / "b.log");
  EXPECT_EQ(cell_inodes(out).size(), 6u);
  std::map<std::string, int> times;
  for (const auto& line : computed(dir)) ++times[line];
  EXPECT_EQ(times.size(), 18u);
  for (const auto& [sample, n] : times) EXPECT_EQ(n, 1) << sample;
}

TEST(SweepCli, DryRunPrintsThePlanAndWritesNothing) {
  fs::path dir = fresh_dir("dry");
  fs::path config = write_config(dir, 2, 0), out = dir / "run";
  Result before = run([&] { auto a = base_args(config, out); a.push_back("--dry-run"); return a; }());
  ASSERT_EQ(before.code, 0) << before.output;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_NE(before.output.find("4 cells"), std::string::npos) << before.output;
  EXPECT_NE(before.output.find("todo"), std::string::npos);
  EXPECT_NE(before.output.find("estimate: 4 of 4 cells to compute; 8 items, about 6144 tokens"), std::string::npos)
      << before.output;

  ASSERT_EQ(run(base_args(config, out)).code, 0);
  auto snapshot = [&] {
    std::map<std::string, std::pair<std::uintmax_t, fs::file_time_type>> files;
    for (const auto& e : fs::recursive_directory_iterator(out))
      if (e.is_regular_file()) files[e.path().string()] = {e.file_size(), e.last_write_time()};
    return files;
  };
  auto files = snapshot();
  Result after = run([&] { auto a = base_args(config, out); a.push_back("--dry-run"); return a; }());
  ASSERT_EQ(after.code, 0) << after.output;
  EXPECT_EQ(snapshot(), files);
  std::regex done_line("\\n(a|b) +t +(512|1024) +[0-9.]+ +2 +done");  // 2 items per cell
  auto begin = std::sregex_iterator(after.output.begin(), after.output.end(), done_line);
  EXPECT_EQ(std::distance(begin, std::sregex_iterator()), 4) << after.output;
  EXPECT_NE(after.output.find("0 of 4 cells to compute"), std::string::npos) << after.output;
}

// Keys name inputs by content, not by path spelling: a finished run moved (config, base, run
// folder) and planned from another working folder has nothing to compute; a base whose bytes
// changed has. Prepare records written before the base was named by content still match.
TEST(SweepCli, AMovedRunFolderHasNothingToCompute) {
  fs::path dir = fresh_dir("moved");
  fs::create_directories(dir / "a");
  fs::path config = write_config(dir / "a", 2, 0);
  ASSERT_EQ(run(base_args(config, dir / "a" / "run")).code, 0);
  const auto first = computed(dir / "a").size();  // one line per item computed
  ASSERT_EQ(first, 8u);

  fs::create_directories(dir / "elsewhere" / "deeper");
  fs::rename(dir / "a", dir / "elsewhere" / "deeper" / "a");
  const fs::path moved = dir / "elsewhere" / "deeper" / "a";
  // Relative spellings from a different working folder: "deeper/a/base.gguf", not "<dir>/a/base.gguf".
  auto plan_from = [&](bool dry) {
    std::vector<std::string> args = {E2LLM_EXE,           "--plugin-path", SWEEP_TEST_PLUGIN_DIR, "sweep",
                                     "deeper/a/cfg.toml", "--out",         "deeper/a/run"};
    if (dry) args.push_back("--dry-run");
    std::string command = "cd " + quote((dir / "elsewhere").string()) + " &&";
    for (const auto& a : args) command += " " + quote(a);
    return run({"/bin/sh", "-c", command});
  };
  Result dry = plan_from(true);
  ASSERT_EQ(dry.code, 0) << dry.output;
  EXPECT_NE(dry.output.find("0 of 4 cells to compute"), std::string::npos) << dry.output;
  ASSERT_EQ(plan_from(false).code, 0);
  EXPECT_EQ(computed(moved).size(), first) << "the moved run recomputed cells";

  // Same path, other bytes: the prepare records no longer apply.
  e2llm::util::write_file_atomic(moved / "base.gguf", "another fake base");
  dry = plan_from(true);
  ASSERT_EQ(dry.code, 0) << dry.output;
  EXPECT_EQ(dry.output.find("0 of 4 cells to compute"), std::string::npos) << dry.output;
  e2llm::util::write_file_atomic(moved / "base.gguf", "fake base");  // back as it was
  dry = plan_from(true);
  EXPECT_NE(dry.output.find("0 of 4 cells to compute"), std::string::npos) << dry.output;

  // A record in the form written before (base named by path, no content hash) still matches.
  const fs::path record = moved / "run" / "backends" / "a.json";
  json saved = json::parse(e2llm::util::read_file(record));
  saved["prepare_inputs"]["base"].erase("content_sha256");
  saved["prepare_inputs"]["base"]["path"] = "../somewhere/else/base.gguf";
  saved["prepare_inputs_hash"] = "written-by-an-older-e2llm";
  e2llm::util::write_file_atomic(record, saved.dump(2));
  dry = plan_from(true);
  EXPECT_NE(dry.output.find("0 of 4 cells to compute"), std::string::npos) << dry.output;
}

// A sweep whose every window is <= L ([base] window) extends nothing, and says so before it
// starts (the dry run too); one window beyond L and the note is gone.
TEST(SweepCli, SaysWhenNoWindowExtendsTheBase) {
  fs::path dir = fresh_dir("no-extension");
  const std::string note = "every window in [sweep] windows is <= L = 512";
  fs::path config = write_config(dir, 1, 0, "", "", "[256, 512]"), out = dir / "run";
  Result r = run([&] {
    auto a = base_args(config, out);
    a.push_back("--dry-run");
    return a;
  }());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find(note), std::string::npos) << r.output;
  config = write_config(dir, 1, 0, "", "", "[512, 1024]");
  r = run([&] {
    auto a = base_args(config, out);
    a.push_back("--dry-run");
    return a;
  }());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find("every window in [sweep] windows"), std::string::npos) << r.output;
}

// What can be checked before work starts fails before anything is made: CUDA on a machine
// without a visible GPU, in the dry run too. A run that fails before its first result (here
// a base that is not a GGUF, found when a real backend loads it) removes the run folder it
// created; a folder that existed before is left alone.
TEST(SweepCli, FailuresBeforeTheFirstResultLeaveNothingBehind) {
  fs::path dir = fresh_dir("nothing-behind");
  fs::path config = write_config(dir, 1, 0), out = dir / "run";
  setenv("CUDA_VISIBLE_DEVICES", "-1", 1);  // no GPU, whatever this machine has
  for (bool dry : {true, false}) {
    auto args = base_args(config, out);
    args.insert(args.end(), {"--device", "cuda"});
    if (dry) args.push_back("--dry-run");
    Result r = run(args);
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_NE(r.output.find("shows no NVIDIA GPU"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("--device: run.device"), std::string::npos) << r.output;  // blamed on the flag
    EXPECT_FALSE(fs::exists(out)) << "dry run: " << dry;
  }
  unsetenv("CUDA_VISIBLE_DEVICES");
  // --device is taken as a value, never as TOML text: a quote in it is part of the bad name.
  {
    auto args = base_args(config, out);
    args.insert(args.end(), {"--device", "cpu\" x=\"1", "--dry-run"});
    Result r = run(args);
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_NE(r.output.find("--device: run.device: must be \"auto\", \"cpu\", \"cuda\" or \"cuda:N\", not "
                            "\"cpu\" x=\"1\""),
              std::string::npos)
        << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_FALSE(fs::exists(out));
  }
  // A real backend on a base that is not a GGUF: prepare() fails after the folder was made.
  std::string text = e2llm::util::read_file(config);
  text.replace(text.find("[backends.a]\nplugin = \"fakebackend\"\ntag = \"a\"\n"),
               std::string("[backends.a]\nplugin = \"fakebackend\"\ntag = \"a\"\n").size(),
               "[backends.a]\nplugin = \"none\"\n");
  e2llm::util::write_file_atomic(config, text);
  Result r = run(base_args(config, out));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_FALSE(fs::exists(out)) << r.output;
  fs::create_directories(out);  // a folder the user made is kept
  r = run(base_args(config, out));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(fs::exists(out));
}

TEST(SweepCli, UnknownBackendPluginSaysDidYouMeanInOneLine) {
  fs::path dir = fresh_dir("typo");
  fs::path config = write_config(dir, 2, 0, "d");  // "fakebackendd"
  Result r = run(base_args(config, dir / "run"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_NE(r.output.find("did you mean 'fakebackend'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cfg.toml:"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "run" / "cells"));
}

TEST(SweepCli, TaskConfigErrorIsLocatedAtFileLineColumn) {
  fs::path dir = fresh_dir("badtask");
  fs::path config = write_config(dir, 2, 0, "", "shots = 3\n");  // an unknown key
  Result r = run(base_args(config, dir / "run"));
  EXPECT_EQ(r.code, 1) << r.output;
  // [tasks.t] is line 23; plugin, samples, sleep_ms, out_dir follow, then shots on line 28.
  EXPECT_NE(r.output.find("cfg.toml:28:1: tasks.t.shots: unknown key"), std::string::npos) << r.output;

  fs::path config2 = write_config(dir, 0, 0);  // samples = 0: a bad value
  Result r2 = run(base_args(config2, dir / "run"));
  EXPECT_EQ(r2.code, 1) << r2.output;
  EXPECT_NE(r2.output.find("cfg.toml:25:1: tasks.t.samples: must be at least 1"), std::string::npos) << r2.output;
}

TEST(SweepCli, PretrainedBaseIsEveryBackendsBase) {
  fs::path dir = fresh_dir("pretrain");
  e2llm::util::write_file_atomic(dir / "tok.txt", "fake tokenizer model");
  e2llm::util::write_file_atomic(dir / "cfg.toml", R"([tokenizer]
plugin = "faketok"
model = "tok.txt"

[base]
source = "pretrain"
window = 256

[base.pretrain]
plugin = "fakebackend"
tag = "base"
trains = true

[backends.a]
plugin = "fakebackend"
tag = "a"

[tasks.t]
plugin = "faketask"
samples = 2
out_dir = "counter"

[sweep]
windows = [256, 512]
)");
  fs::path out = dir / "run";
  Result r = run(base_args(dir / "cfg.toml", out));
  ASSERT_EQ(r.code, 0) << r.output;
  json record = json::parse(e2llm::util::read_file(out / "backends" / "base.pretrain.json"));
  EXPECT_EQ(record["record"]["trained_tokens"], 123456);
  auto cells = cell_inodes(out);
  ASSERT_EQ(cells.size(), 2u);
  json cell = json::parse(e2llm::util::read_file(out / "cells" / cells.begin()->first));
  EXPECT_EQ(cell["base"]["format"], "hf");
  // Recorded relative to the run folder (no machine path in a committed run); the cache is
  // the plugin's, shared by its labels.
  EXPECT_EQ(cell["base"]["path"], "cache/fakebackend/model");
  EXPECT_EQ(cell["original_window"], 256);

  Result report = run({E2LLM_EXE, "report", out.string()});
  ASSERT_EQ(report.code, 0) << report.output;
  std::string md = e2llm::util::read_file(out / "leaderboard.md");
  EXPECT_NE(md.find("| [base.pretrain](backends/base.pretrain.json) | fakebackend | yes | 123.5k |"), std::string::npos)
      << md;
}

// [sweep] seeds: a backend that trains is trained once per seed (its prepare records and
// cells apart, keys by seed), a training-free one once; tasks keep [run] seed, so all cells
// of a window score the same items; the report shows each trained backend's mean over its
// seeds with their sd and an interval of the mean.
TEST(SweepCli, SeedsAxisTrainsEachSeedAndTheReportAggregates) {
  fs::path dir = fresh_dir("seeds");
  e2llm::util::write_file_atomic(dir / "tok.txt", "fake tokenizer model");
  e2llm::util::write_file_atomic(dir / "base.gguf", "fake base");
  e2llm::util::write_file_atomic(dir / "cfg.toml", R"([run]
seed = 7

[tokenizer]
plugin = "faketok"
model = "tok.txt"

[base]
source = "gguf"
path = "base.gguf"
window = 512

[backends.free]
plugin = "fakebackend"
tag = "free"

[backends.tuned]
plugin = "fakebackend"
tag = "tuned"
trains = true
scale = 0.5

[tasks.t]
plugin = "faketask"
samples = 6
out_dir = "counter"

[sweep]
windows = [512, 1024]
seeds = [11, 22]

[report]
reference = "free"
)");
  fs::path out = dir / "run";
  Result r = run(base_args(dir / "cfg.toml", out));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("6 computed"), std::string::npos) << r.output;  // free x 2 windows + tuned x 2 seeds x 2
  // Two trainings, one per seed; the training-free backend is prepared once, unseeded.
  EXPECT_EQ(e2llm::util::read_file(out / "cache" / "fakebackend" / "trainings.txt"), "tuned 11\ntuned 22\n");
  EXPECT_TRUE(fs::exists(out / "backends" / "tuned.seed-11.json"));
  EXPECT_TRUE(fs::exists(out / "backends" / "tuned.seed-22.json"));
  EXPECT_TRUE(fs::exists(out / "backends" / "free.json"));
  std::set<std::int64_t> training_seeds;
  for (const auto& [name, inode] : cell_inodes(out)) {
    json cell = json::parse(e2llm::util::read_file(out / "cells" / name));
    EXPECT_EQ(cell["seed"], 7);  // the tasks' seed: the same items everywhere
    EXPECT_EQ(cell["schema_version"], 4);
    EXPECT_EQ(cell["config_sha256"].get<std::string>().size(), 64u);
    EXPECT_TRUE(cell.contains("uncertainty")) << name;
    if (cell["backend"]["label"] == "tuned") {
      training_seeds.insert(cell["training_seed"].get<std::int64_t>());
      EXPECT_EQ(cell["key_material"]["training_seed"], cell["training_seed"]);
    } else {
      EXPECT_FALSE(cell.contains("training_seed")) << name;
    }
  }
  EXPECT_EQ(training_seeds, (std::set<std::int64_t>{11, 22}));
  json sweep = json::parse(e2llm::util::read_file(out / "sweep.json"));
  EXPECT_EQ(sweep["seeds"], json({11, 22}));
  EXPECT_EQ(sweep["config_file"], "../cfg.toml");  // relative to the run folder: no machine path
  EXPECT_EQ(sweep["config_sha256"].get<std::string>().size(), 64u);

  // A rerun trains nothing (each seed's training is cached) and computes nothing.
  Result again = run(base_args(dir / "cfg.toml", out));
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_NE(again.output.find("0 computed, 6 already done"), std::string::npos) << again.output;

  Result report = run({E2LLM_EXE, "report", out.string()});
  ASSERT_EQ(report.code, 0) << report.output;
  json summary = json::parse(e2llm::util::read_file(out / "summary.json"));
  EXPECT_EQ(summary["seeds"], json({11, 22}));
  const json& tuned = summary["headline"][0]["by_backend_and_window"]["tuned"]["1024"];
  ASSERT_EQ(tuned["seeds"].size(), 2u);
  // ppl = W^scale: scale 0.5 x 1.11 and 0.5 x 1.22 at W = 1024 (plus the task's 0.01 i).
  const double s11 = tuned["seeds"][0]["value"], s22 = tuned["seeds"][1]["value"];
  EXPECT_EQ(tuned["seeds"][0]["seed"], 11);
  EXPECT_NEAR(std::log(s22 / s11), 0.5 * 0.11 * std::log(1024.0), 1e-6);  // float log-probabilities
  EXPECT_NEAR(tuned["value"].get<double>(), (s11 + s22) / 2, 1e-9);
  EXPECT_NEAR(tuned["seed_sd"].get<double>(), std::fabs(s22 - s11) / std::sqrt(2.0), 1e-9);
  EXPECT_EQ(tuned["interval"]["method"], "bootstrap_percentile over seeds");
  EXPECT_LE(tuned["interval"]["low"].get<double>(), tuned["value"].get<double>());
  EXPECT_GE(tuned["interval"]["high"].get<double>(), tuned["value"].get<double>());
  const json& free = summary["headline"][0]["by_backend_and_window"]["free"]["1024"];
  EXPECT_FALSE(free.contains("seeds"));
  EXPECT_EQ(free["interval"]["method"], "bootstrap_percentile");
  std::string md = e2llm::util::read_file(out / "leaderboard.md");
  EXPECT_NE(md.find("training seeds `11`, `22`"), std::string::npos) << md;
}

// A task the harness has never heard of, with a grid view, a curve view and a path key
// (tests/sweep/plugins/grid_task.cpp): planned from its declared item count, configured
// with its path resolved against the config's folder, and rendered from its declared views.
TEST(SweepCli, ANewTasksDeclaredViewsRenderWithoutHarnessChanges) {
  fs::path dir = fresh_dir("views");
  e2llm::util::write_file_atomic(dir / "tok.txt", "fake tokenizer model");
  e2llm::util::write_file_atomic(dir / "base.gguf", "fake base");
  e2llm::util::write_file_atomic(dir / "data" / "rows.txt", "2 1.0\n8 0.6\n16 0.3\n");
  e2llm::util::write_file_atomic(dir / "cfg.toml", R"([run]
name = "views"

[tokenizer]
plugin = "faketok"
model = "tok.txt"

[base]
source = "gguf"
path = "base.gguf"
window = 512

[backends.a]
plugin = "fakebackend"
tag = "a"

[backends.b]
plugin = "fakebackend"
tag = "b"

[tasks.grid]
plugin = "gridtask"
table = "data/rows.txt"
trials = 4

[sweep]
windows = [512, 1024, 2048]
)");
  fs::path out = dir / "run";
  // Planned: 3 rows x 4 trials = 12 items per cell, 6 cells.
  Result plan = run([&] {
    auto a = base_args(dir / "cfg.toml", out);
    a.push_back("--dry-run");
    return a;
  }());
  ASSERT_EQ(plan.code, 0) << plan.output;
  EXPECT_NE(plan.output.find("estimate: 6 of 6 cells to compute; 72 items, about 86016 tokens (items x window)"),
            std::string::npos)
      << plan.output;
  Result r = run(base_args(dir / "cfg.toml", out));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("[1/6] a · grid · W=512 (12 items) ..."), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[6/6] b · grid · W=2048 (12 items) ..."), std::string::npos) << r.output;
  for (const auto& [name, inode] : cell_inodes(out)) {
    json cell = json::parse(e2llm::util::read_file(out / "cells" / name));
    EXPECT_EQ(cell["samples"]["count"], 12) << name;
    EXPECT_EQ(cell["task"]["config_resolved"]["table"], (dir / "data" / "rows.txt").string());
    EXPECT_EQ(cell["task"]["config"]["table"], "data/rows.txt");  // the key hashes what was written
    EXPECT_EQ(cell["task"]["views"].size(), 2u);
  }

  Result report = run({E2LLM_EXE, "report", out.string()});
  ASSERT_EQ(report.code, 0) << report.output;
  std::string md = e2llm::util::read_file(out / "leaderboard.md");
  auto at = [&](const std::string& part) { return md.find(part); };
  // The grid first (it heads the section), rows in numeric order, one table per backend.
  EXPECT_NE(at("## Hits by distance — grid\n\nHit rate per *distance* and window (`hits_by_distance`).\n\n"
               "### Hits by distance — a\n\n| distance | 512 (1L) | 1024 (2L) | 2048 (4L) |"),
            std::string::npos)
      << md;
  EXPECT_LT(at("| 2 | [100.0%]"), at("| 8 | [50.0%]"));
  EXPECT_LT(at("| 8 | [50.0%]"), at("| 16 | [25.0%]"));
  EXPECT_NE(at("### Hits by distance — b"), std::string::npos);
  // Then the curve: the table, the ranking over W > L, the threshold's largest window.
  EXPECT_NE(at("## Hit rate vs window — grid"), std::string::npos);
  EXPECT_NE(at("Ranked by mean hit rate over the extended windows"), std::string::npos) << md;
  EXPECT_NE(at("Largest window with hit rate ≥ 50% (from the smallest window up, stopping at the first below):\n\n"
               "- a: 1024\n- b: 1024\n"),
            std::string::npos)
      << md;
  EXPECT_NE(at("**grid** (gridtask, `hit_rate`, higher is better)"), std::string::npos);

  std::string html = e2llm::util::read_file(out / "leaderboard.html");
  EXPECT_NE(html.find("<h2>Hits by distance — grid</h2>\n<p class=\"note\">Hit rate per <em>distance</em> and window "
                      "(<code>hits_by_distance</code>).</p>\n<h3>Hits by distance — a</h3>\n<table class=\"heat\">"
                      "<thead><tr><th>distance \\ W</th>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("<td style=\"background:hsl(120,70%,72%)\">"), std::string::npos);  // 100%: green
  EXPECT_NE(html.find("aria-label=\"hit rate vs window, grid\""), std::string::npos);     // the linear chart
  EXPECT_NE(html.find(">hit rate</text>"), std::string::npos);
  EXPECT_NE(html.find("<li>a: 1024</li>"), std::string::npos);
}

// The sweep tests' fake backend opens models that keep the LanguageModel contract as
// strictly as the LibTorch model.
TEST(SweepCli, FakeBackendModelsKeepTheLanguageModelContract) {
  e2llm::harness::PluginRegistry registry({SWEEP_TEST_PLUGIN_DIR});
  auto tokenizer = registry.make_tokenizer("faketok");
  const fs::path model_file = fs::temp_directory_path() / ("e2llm-faketok-" + std::to_string(::getpid()));
  e2llm::util::write_file_atomic(model_file, "fake tokenizer model\n");
  tokenizer->load(model_file.string());
  for (json config : {json{{"scale", 0.5}}, json{{"recall_tokens", 8}}}) {
    auto backend = registry.make_backend("fakebackend");
    backend->configure(config);
    e2llm::PrepareContext context;
    context.tokenizer = tokenizer;
    context.cache_dir = fs::temp_directory_path();
    backend->prepare(context);
    auto model = backend->open(64);
    std::vector<std::int32_t> prompt{tokenizer->bos_id()};
    for (auto id : tokenizer->encode("the key is 12345")) prompt.push_back(id);
    e2llm::testing::expect_language_model_contract(*model, prompt);
  }
  fs::remove(model_file);
}
