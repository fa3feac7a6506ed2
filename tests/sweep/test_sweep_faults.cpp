// Faults injected into a real sweep from outside: the `e2llm` binary runs the real task
// plugins (proofpile, passkey, longbench) on stories260K and is killed with SIGKILL by this
// process at moments drawn (with a fixed seed) in the sweep's progress, not in wall time:
// after a number of new sample records or finished cells appears, then a random few
// milliseconds. Each kill is followed by a resume. Checked: the final cells equal an
// uninterrupted run's (metric content), no finished cell file is ever rewritten (inode,
// mtime and content), and no temp file, journal or lock is left. A second test does the same
// with a sweep that fine-tunes (the e2llm backend) and is killed mid-training; a third makes
// a cell write and a report write fail with a file-size limit (ulimit -f).
// What is injected and checked: docs/reliability.md, "Faults injected into a sweep".
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include "../support/kill_when.hpp"
#include "../support/run_command.hpp"
#include "e2llm/util/files.hpp"
#include "e2llm/util/sha256.hpp"

namespace fs = std::filesystem;
using e2llm::testing::kill_when;
using e2llm::testing::quote;
using e2llm::testing::run_command;
using nlohmann::json;

namespace {

const fs::path& work() {
  static const fs::path dir = [] {
    auto d = fs::temp_directory_path() / ("e2llm-sweep-faults-" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    std::string jsonl;
    for (int i = 0; i < 40; ++i) {
      std::string text;
      for (int j = 0; j < 20; ++j)
        text += "Once upon a time, a little " + std::string(j % 2 ? "girl" : "boy") + " named " +
                ((i + j) % 3 ? "Lily" : "Tom") + " found " + std::to_string(i + j) + " big balls in the park. ";
      jsonl += "{\"text\": \"" + text + "\"}\n";
    }
    e2llm::util::write_file_atomic(d / "docs.jsonl", jsonl);
    return d;
  }();
  return dir;
}

// The evaluation part every sweep here shares: the three real tasks at W = L and 2L.
std::string tasks_toml() {
  return "[tasks.proofpile]\nplugin = \"proofpile\"\ndata = \"" + (work() / "docs.jsonl").string() +
         "\"\nmax_documents = 2\nstride = 64\n"
         "[tasks.passkey]\nplugin = \"passkey\"\ntrials = 1\ndepths = [0.0, 1.0]\nmax_new_tokens = 6\n"
         "[tasks.longbench]\nplugin = \"longbench\"\ndata_dir = \"" E2LLM_SHARED_DATA
         "/longbench/rows\"\ndatasets = [\"2wikimqa\"]\nlimit = 2\nbudget = 96\n"
         "[sweep]\nwindows = [256, 512]\n";
}

std::string head_toml() {
  return "[run]\nname = \"faults\"\nseed = 7\nthreads = 1\n[tokenizer]\nmodel = \"" E2LLM_SHARED_DATA
         "/models/tok512.model\"\n[base]\nsource = \"gguf\"\npath = \"" E2LLM_SHARED_DATA
         "/models/stories260K.gguf\"\nwindow = 256\n";
}

// A training-free backend x 3 tasks x 2 windows = 6 cells.
fs::path eval_config() {
  const fs::path cfg = work() / "eval.toml";
  // batch_size = 1 and 4 passkey trials per depth: generations finish one at a time, 8 to a
  // passkey cell, so kills land between the samples of a cell (with every prompt of a cell
  // decoded together its samples arrive at once, and on an idle machine the sweep finished
  // before five kills).
  std::string tasks = tasks_toml();
  tasks.replace(tasks.find("trials = 1"), 10, "trials = 4");
  e2llm::util::write_file_atomic(cfg, head_toml() + "[backends.pi]\ncheck_blas = false\nbatch_size = 1\n" + tasks);
  return cfg;
}

// E²-LLM fine-tuned once (checkpoints every 3 steps) x 3 tasks x 2 windows.
fs::path train_config() {
  const fs::path cfg = work() / "train.toml";
  e2llm::util::write_file_atomic(
      cfg, head_toml() + "[backends.e2llm]\nplugin = \"e2llm\"\ncorpus = \"" + (work() / "docs.jsonl").string() +
               "\"\nseq_len = 64\nbatch = 2\nsteps = 45\nlr = 1e-3\nwarmup = 2\ngmax = 4\ncheckpoint_every = 3\n"
               "keep_last = 2\nthreads = 1\ncheck_blas = false\nlog_every = 1000\n" +
               tasks_toml());
  return cfg;
}

std::string sweep_command(const fs::path& cfg, const fs::path& out) {
  return std::string(E2LLM_EXE) + " sweep " + quote(cfg.string()) + " --out " + quote(out.string());
}

pid_t start_sweep(const fs::path& cfg, const fs::path& out, const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!std::freopen("/dev/null", "w", stdout) || !std::freopen(log.c_str(), "a", stderr)) ::_exit(126);
    ::execl(E2LLM_EXE, E2LLM_EXE, "sweep", cfg.c_str(), "--out", out.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// Lines in a file the running sweep may remove at any moment (a journal is deleted when its cell
// finishes), so a file that is gone, or goes while it is read, counts what was read of it.
std::size_t count_lines(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return 0;
  return static_cast<std::size_t>(
      std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n'));
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// A finished cell: its `<stem>.json` parses (the sweep writes it last, atomically).
bool is_cell_file(const fs::path& p) {
  const std::string n = p.filename().string();
  return n.size() == 21 && ends_with(n, ".json");
}

struct Progress {
  std::size_t cells = 0;    // finished cell files
  std::size_t samples = 0;  // sample records: journal lines + records lines of finished cells
};

Progress progress_of(const fs::path& out) {
  Progress p;
  std::error_code ec;
  for (fs::directory_iterator it(out / "cells", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename().string();
    if (is_cell_file(it->path())) ++p.cells;
    if (ends_with(n, ".samples.jsonl") || ends_with(n, ".records.jsonl")) p.samples += count_lines(it->path());
  }
  return p;
}

// Identity of a finished cell's two files: inode, mtime (ns) and content hash.
std::string identity(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return "missing";
  return std::to_string(st.st_ino) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + ":" + e2llm::util::sha256_file(p);
}

std::map<std::string, std::string> finished_cells(const fs::path& out) {
  std::map<std::string, std::string> ids;
  std::error_code ec;
  for (fs::directory_iterator it(out / "cells", ec), end; !ec && it != end; it.increment(ec)) {
    if (!is_cell_file(it->path())) continue;
    const std::string stem = it->path().stem().string();
    ids[stem + ".json"] = identity(it->path());
    ids[stem + ".records.jsonl"] = identity(out / "cells" / (stem + ".records.jsonl"));
  }
  return ids;
}

// A cell without what legitimately differs between two runs of the same cell: timings and
// throughput (`timing`, `tokens_per_s`), memory (`peak_rss_*`: the process's peak depends on
// what it did before, which a resume changes), the host block (pid), how many samples came
// from a journal (`samples.resumed`, and a task's own count of them, any `resumed` in
// `details`), the tokens this process computed (`tokens_processed`: a resumed sample is not
// recomputed), and the backend's prepare-time bookkeeping (wall times,
// whether a training came from the cache), where a trained model lies (each run's own
// folder), and the config's hash (a run narrowed with --set has another resolved config,
// though its cells compute the same). Everything that is a result stays: metrics,
// details, key, key material, model description, sample count, the per-sample records.
void drop_key(json& j, const std::string& key) {
  if (j.is_object()) j.erase(key);
  if (j.is_object() || j.is_array())
    for (auto& child : j) drop_key(child, key);
}

json comparable(json cell) {
  for (const char* k : {"timing", "tokens_per_s", "host", "run", "config_sha256"}) cell.erase(k);
  for (auto it = cell.begin(); it != cell.end();)
    it = it.key().rfind("peak_rss", 0) == 0 ? cell.erase(it) : std::next(it);
  cell["samples"].erase("resumed");
  cell.erase("tokens_processed");
  drop_key(cell["details"], "resumed");
  json& prep = cell["backend"]["prepare"];
  // The trained model's folder lies in each run's own folder: its path differs, its
  // content hash (checkpoint_hash, kept) does not.
  for (const char* k : {"train_wall_s", "matmul_gflops", "checkpoint_path"}) prep.erase(k);
  if (prep.contains("trained"))
    for (auto& t : prep["trained"])
      for (const char* k : {"wall_s", "train_wall_s", "cached", "tokens_per_s", "mfu", "matmul_gflops", "ms_per_step",
                            "checkpoint_path"})
        t.erase(k);
  if (cell["model"].contains("checkpoint")) cell["model"]["checkpoint"].erase("source");
  return cell;
}

// Every cell of `reference` is in `out` with the same results and the same records.
void expect_same_cells(const fs::path& reference, const fs::path& out, std::size_t cells) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(reference / "cells")) {
    if (!is_cell_file(e.path())) continue;
    ++n;
    const fs::path mine = out / "cells" / e.path().filename();
    ASSERT_TRUE(fs::exists(mine)) << mine;
    const json a = comparable(json::parse(e2llm::util::read_file(e.path())));
    const json b = comparable(json::parse(e2llm::util::read_file(mine)));
    EXPECT_EQ(a, b) << e.path().filename() << ": " << json::diff(a, b).dump();
    const std::string stem = e.path().stem().string();
    EXPECT_EQ(e2llm::util::read_file(reference / "cells" / (stem + ".records.jsonl")),
              e2llm::util::read_file(out / "cells" / (stem + ".records.jsonl")))
        << stem << ": the per-sample records differ";
  }
  EXPECT_EQ(n, cells);
  EXPECT_EQ(progress_of(out).cells, n) << "the resumed run has cells the uninterrupted one has not";
}

// Temp files, journals, locks or partial checkpoint folders left anywhere in the run folder.
std::vector<std::string> leftovers(const fs::path& out) {
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(out)) {
    const std::string n = e.path().filename().string();
    if (n.find(".tmp") != std::string::npos || n.find(".old-") != std::string::npos || ends_with(n, ".lock") ||
        ends_with(n, ".samples.jsonl"))
      found.push_back(fs::relative(e.path(), out).string());
  }
  return found;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + " ";
  return s;
}

// Runs the reference once per config (both tests compare with it).
const fs::path& reference_of(const fs::path& cfg) {
  static std::map<std::string, fs::path> done;
  auto it = done.find(cfg.string());
  if (it != done.end()) return it->second;
  const fs::path out = work() / (cfg.stem().string() + "-reference");
  const auto r = run_command(sweep_command(cfg, out));
  if (r.exit_code != 0) ADD_FAILURE() << "the uninterrupted sweep failed: " << r.err;
  return done[cfg.string()] = out;
}

// The scratch folder goes when every test passed (kept to look at otherwise).
class RemoveWorkOnSuccess : public ::testing::Environment {
 public:
  void TearDown() override {
    if (!::testing::UnitTest::GetInstance()->Failed()) fs::remove_all(work());
  }
};
const auto* const remove_work = ::testing::AddGlobalTestEnvironment(new RemoveWorkOnSuccess);

}  // namespace

TEST(SweepFaults, KilledAtRandomMomentsResumesAndNeverRewritesAFinishedCell) {
  const fs::path cfg = eval_config();
  const fs::path& reference = reference_of(cfg);
  const fs::path out = work() / "eval-killed", log = work() / "eval-killed.log";

  std::mt19937 rng(20261201);               // fixed seed: the same moments on every machine
  std::map<std::string, std::string> seen;  // every finished cell file's identity when first seen
  int kills = 0, mid_cell = 0;
  for (int attempt = 0; attempt < 40 && kills < 6; ++attempt) {
    const Progress start = progress_of(out);
    // Half of the kills wait for a few more sample records (mid-cell), half for the next
    // finished cell; then a random 0-8 ms more, which lands anywhere in the next sample,
    // the cell's write, or the start of the next cell.
    const bool by_samples = attempt % 2 == 0;
    const std::size_t more = std::uniform_int_distribution<std::size_t>(1, by_samples ? 3 : 1)(rng);
    const auto extra = std::chrono::microseconds(std::uniform_int_distribution<int>(0, 8000)(rng));
    std::chrono::steady_clock::time_point reached{};
    const pid_t pid = start_sweep(cfg, out, log);
    const bool killed = kill_when(pid, [&] {
      if (reached == std::chrono::steady_clock::time_point{}) {
        const Progress now = progress_of(out);
        if (by_samples ? now.samples < start.samples + more : now.cells < start.cells + more) return false;
        reached = std::chrono::steady_clock::now();
      }
      return std::chrono::steady_clock::now() - reached >= extra;
    });
    if (!killed) break;  // the sweep finished first
    ++kills;
    const Progress after = progress_of(out);
    if (by_samples) mid_cell += after.cells == start.cells ? 1 : 0;
    for (const auto& [name, id] : finished_cells(out)) {
      auto [it, fresh] = seen.emplace(name, id);
      EXPECT_TRUE(fresh || it->second == id) << name << " was rewritten after it was finished (kill " << kills << ")";
    }
  }
  EXPECT_GE(kills, 5) << "the sweep finished before five kills; make it longer";
  EXPECT_GE(mid_cell, 1) << "no kill landed inside a cell";
  const auto finish = run_command(sweep_command(cfg, out));
  ASSERT_EQ(finish.exit_code, 0) << finish.err;
  for (const auto& [name, id] : finished_cells(out)) {
    if (seen.count(name)) {
      EXPECT_EQ(seen[name], id) << name << " was rewritten by the final run";
    }
  }
  expect_same_cells(reference, out, 6);
  EXPECT_TRUE(leftovers(out).empty()) << joined(leftovers(out));
  std::printf("[ info ] %d kills (%d inside a cell), %zu finished cell files never rewritten\n", kills, mid_cell,
              seen.size() / 2);
}

// The sweep's training (the e2llm backend's prepare) is killed once a checkpoint exists; the
// resumed sweep resumes the training from that checkpoint, and its model and cells equal an
// uninterrupted run's.
TEST(SweepFaults, KilledMidTrainingResumesTheTrainingFromItsCheckpoint) {
  const fs::path cfg = train_config();
  const fs::path& reference = reference_of(cfg);
  const fs::path out = work() / "train-killed", log = work() / "train-killed.log";
  auto training_dir = [](const fs::path& run) {
    std::error_code ec;
    for (fs::directory_iterator it(run / "cache" / "e2llm", ec), end; !ec && it != end; it.increment(ec))
      if (it->path().filename().string().rfind("e2llm-", 0) == 0) return it->path();
    return fs::path();
  };
  auto newest_checkpoint = [&](const fs::path& run) {
    int newest = 0;
    std::error_code ec;
    const fs::path dir = training_dir(run);
    if (dir.empty()) return 0;
    for (fs::directory_iterator it(dir / "checkpoints", ec), end; !ec && it != end; it.increment(ec)) {
      const auto n = it->path().filename().string();
      if (n.rfind("step-", 0) == 0 && fs::exists(it->path() / "trainer_state.json", ec))
        newest = std::max(newest, std::atoi(n.c_str() + 5));
    }
    return newest;
  };
  std::mt19937 rng(20261202);
  int kills = 0, target = 0;
  for (int k = 0; k < 2; ++k) {  // two kills inside the training, at later and later checkpoints
    target += std::uniform_int_distribution<int>(6, 15)(rng);
    const auto extra = std::chrono::microseconds(std::uniform_int_distribution<int>(0, 5000)(rng));
    std::chrono::steady_clock::time_point reached{};
    const pid_t pid = start_sweep(cfg, out, log);
    kills += kill_when(pid, [&] {
      if (reached == std::chrono::steady_clock::time_point{}) {
        if (newest_checkpoint(out) < target) return false;
        reached = std::chrono::steady_clock::now();
      }
      return std::chrono::steady_clock::now() - reached >= extra;
    });
    ASSERT_FALSE(fs::exists(training_dir(out) / "model")) << "the training finished before the kill; raise steps";
  }
  EXPECT_EQ(kills, 2);
  const auto finish = run_command(sweep_command(cfg, out));
  ASSERT_EQ(finish.exit_code, 0) << finish.err;
  EXPECT_NE(finish.err.find("resumed at step"), std::string::npos) << "the training started over:\n" << finish.err;
  EXPECT_TRUE(e2llm::util::read_file(training_dir(reference) / "model/model.safetensors") ==
              e2llm::util::read_file(training_dir(out) / "model/model.safetensors"))
      << "the resumed training's weights differ from the uninterrupted one's";
  expect_same_cells(reference, out, 6);
  EXPECT_TRUE(leftovers(out).empty()) << joined(leftovers(out));
}

// A file-size limit (ulimit -f; e2llm ignores SIGXFSZ, so the write fails with EFBIG) makes
// a cell write fail, then a report write: the previous cells and report are untouched,
// nothing partial is left, the error is one line naming the file, and a run without the
// limit completes and equals the uninterrupted run.
TEST(SweepFaults, FileSizeLimitFailsACellWriteAndAReportWriteCleanly) {
  const fs::path cfg = eval_config();
  const fs::path& reference = reference_of(cfg);
  const fs::path out = work() / "eval-fsize";
  // The passkey cells first (a subset: the cell keys are the same), and their report.
  auto first = run_command(sweep_command(cfg, out) + " --set 'sweep.tasks=[\"passkey\"]'");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto report = run_command(std::string(E2LLM_EXE) + " report " + quote(out.string()));
  ASSERT_EQ(report.exit_code, 0) << report.err;
  const auto before = finished_cells(out);
  ASSERT_EQ(before.size(), 4u);

  // The limit: above every file the sweep writes before the first longbench cell (sweep.json,
  // the prepare records, the longbench journal: its lines are the records plus an id) and
  // below the longbench cell files, measured on the reference run rather than assumed.
  std::uintmax_t small = 0, big = UINTMAX_MAX;
  for (const auto& e : fs::recursive_directory_iterator(reference)) {
    if (!e.is_regular_file() || ends_with(e.path().string(), ".md") || ends_with(e.path().string(), ".html")) continue;
    const std::string n = e.path().filename().string();
    if (n == "sweep.json" || e.path().parent_path().filename() == "backends") small = std::max(small, e.file_size());
    if (!is_cell_file(e.path()) || json::parse(e2llm::util::read_file(e.path()))["task"]["plugin"] != "longbench")
      continue;
    big = std::min(big, e.file_size());
    const fs::path records = e.path().parent_path() / (e.path().stem().string() + ".records.jsonl");
    small = std::max(small, fs::file_size(records) + 200 * count_lines(records));
  }
  ASSERT_LT(small + 2048, big) << "no limit separates the longbench cells from the files written before them";
  const std::uintmax_t limit_kib = (small + big) / 2 / 1024;
  auto limited = [&](const std::string& command) {
    return run_command("bash -c " + quote("ulimit -f " + std::to_string(limit_kib) + " && exec " + command));
  };
  const auto cell_fail = limited(sweep_command(cfg, out));
  EXPECT_EQ(cell_fail.exit_code, 1) << cell_fail.err;
  std::string last_line = cell_fail.err.substr(cell_fail.err.rfind('\n', cell_fail.err.size() - 2) + 1);
  EXPECT_EQ(last_line.rfind("e2llm: error: ", 0), 0u) << cell_fail.err;
  EXPECT_NE(last_line.find((out / "cells").string()), std::string::npos) << last_line;
  EXPECT_NE(last_line.find("File too large"), std::string::npos) << last_line;
  EXPECT_EQ(cell_fail.err.find("e2llm: error"), cell_fail.err.size() - last_line.size()) << "more than one error line";
  for (const auto& [name, id] : before) EXPECT_EQ(finished_cells(out)[name], id) << name << " changed";
  for (const auto& [name, id] : finished_cells(out))
    EXPECT_NE(json::parse(e2llm::util::read_file(out / "cells" / name.substr(0, 16) += ".json"))["task"]["plugin"],
              "longbench")
        << name;
  // Nothing partial: no temp file; the failed cell's journal stays (a rerun resumes it).
  for (const auto& n : leftovers(out)) EXPECT_TRUE(ends_with(n, ".samples.jsonl")) << n;

  // The report: the previous one stays whole when its largest file cannot be written.
  const auto report_before =
      identity(out / "leaderboard.md") + identity(out / "leaderboard.html") + identity(out / "summary.json");
  // A limit 1 KiB below the largest of the three files as written before.
  std::uintmax_t largest = 0;
  std::string largest_name;
  for (const char* f : {"leaderboard.md", "leaderboard.html", "summary.json"})
    if (fs::file_size(out / f) > largest) largest = fs::file_size(out / f), largest_name = f;
  ASSERT_GT(largest, 2048u);
  const auto report_fail =
      run_command("bash -c " + quote("ulimit -f " + std::to_string(largest / 1024 - 1) + " && exec " +
                                     std::string(E2LLM_EXE) + " report " + quote(out.string())));
  EXPECT_EQ(report_fail.exit_code, 1) << report_fail.out << report_fail.err;
  EXPECT_EQ(std::count(report_fail.err.begin(), report_fail.err.end(), '\n'), 1) << report_fail.err;
  EXPECT_NE(report_fail.err.find((out / largest_name).string()), std::string::npos) << report_fail.err;
  EXPECT_EQ(report_before,
            identity(out / "leaderboard.md") + identity(out / "leaderboard.html") + identity(out / "summary.json"))
      << "a failed report write changed the previous report";

  const auto again = run_command(sweep_command(cfg, out));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  for (const auto& [name, id] : before) EXPECT_EQ(finished_cells(out)[name], id) << name << " changed";
  expect_same_cells(reference, out, 6);
  EXPECT_TRUE(leftovers(out).empty()) << joined(leftovers(out));
  const auto report_again = run_command(std::string(E2LLM_EXE) + " report " + quote(out.string()));
  EXPECT_EQ(report_again.exit_code, 0) << report_again.err;
}
