// How a cluster launches e2llm, through the real binary (docs/training.md §Clusters: a sweep as an array job)
// - Slurm-style array job: 4 `e2llm sweep` processes started at once on one run folder, with
//   two training backends (e2llm once, pi-ft once per window) and two tasks. Every cell is
//   computed by exactly one process (the processes' own counts add up to the plan), each
//   training runs once (one trainer start in all logs together, one training folder, a journal
//   of `steps` rows), and the report equals the one a single process writes for the same config;
// - torchrun from the pinned torch wheel (`torchrun --no-python --standalone --nproc_per_node 2
//   e2llm train CONFIG`) launches e2llm's ranks: the same weights, bit for bit, as
//   `e2llm train --nproc 2`, and within float32 rounding of one rank.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../support/run_command.hpp"
#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;
using e2llm::testing::quote;
using e2llm::testing::run_command;
using nlohmann::json;

namespace {

const fs::path kModels = fs::path(E2LLM_SHARED_DATA) / "models";
const std::string kExe = E2LLM_EXE;

struct WorkDir {
  fs::path path;
  explicit WorkDir(const std::string& name)
      : path(fs::temp_directory_path() / (name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~WorkDir() { fs::remove_all(path); }
};

std::string corpus_jsonl() {
  const char* names[] = {"Lily", "Tom", "Sue", "Ben", "Max", "Amy"};
  const char* things[] = {"ball", "cat", "tree", "cake", "boat", "bird"};
  std::string jsonl;
  for (int i = 0; i < 60; ++i) {
    std::string text;
    for (int j = 0; j < 6; ++j)
      text += std::string("Once upon a time, ") + names[(i + j) % 6] + " saw a big " + things[(i * 7 + j) % 6] + ". " +
              names[(i + 2 * j) % 6] + " was very happy and played with the " + things[(i + j * 5) % 6] + ". ";
    jsonl += json{{"text", text}}.dump() + "\n";
  }
  return jsonl;
}

// `e2llm sweep` in the background, stdout and stderr to `log`.
pid_t start(const std::vector<std::string>& args, const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The report's result sections (everything before the training cost, whose wall times differ
// from run to run), without the "Generated <time>" line.
std::string results_part(const fs::path& run) {
  const std::string md = e2llm::util::read_file(run / "leaderboard.md");
  std::string out;
  std::istringstream in(md.substr(0, md.find("\n## Training cost")));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("Generated ", 0) != 0) out += line + "\n";
  return out;
}

std::vector<float> f32_tensors(const fs::path& file) {
  const std::string bytes = e2llm::util::read_file(file);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  const auto header = json::parse(bytes.substr(8, n));
  std::vector<float> out;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    const size_t b = info["data_offsets"][0], e = info["data_offsets"][1];
    const size_t at = out.size();
    out.resize(at + (e - b) / 4);
    std::memcpy(out.data() + at, bytes.data() + 8 + n + b, e - b);
  }
  return out;
}

fs::path run_dir(const fs::path& out) {
  for (const auto& e : fs::directory_iterator(out))
    if (e.is_directory() && e.path().filename().string().rfind("pretrain-", 0) == 0) return e.path();
  return {};
}

}  // namespace

TEST(Launchers, FourArrayTasksOnOneRunFolderComputeEveryCellOnceAndTrainOnce) {
  const WorkDir work("e2llm-array");
  e2llm::util::write_file_atomic(work.path / "corpus.jsonl", corpus_jsonl());
  e2llm::util::write_file_atomic(work.path / "doc.jsonl", corpus_jsonl());
  const std::string train_keys = "corpus = \"" + (work.path / "corpus.jsonl").string() +
                                 "\"\nsteps = 3\nbatch = 2\nlr = 1e-3\nthreads = 1\ncheck_blas = false\n";
  const std::string toml =
      "[run]\nname = \"array\"\nseed = 1\nthreads = 1\n[tokenizer]\nmodel = \"" + (kModels / "tok512.model").string() +
      "\"\n[base]\nsource = \"gguf\"\npath = \"" + (kModels / "stories260K.gguf").string() + "\"\nwindow = 512\n" +
      "[backends.none]\n[backends.e2llm]\nplugin = \"e2llm\"\nseq_len = 64\ngmax = 4\n" + train_keys +
      "[backends.pi-ft]\nplugin = \"pi-ft\"\n" + train_keys + "[tasks.ppl]\nplugin = \"proofpile\"\ndata = \"" +
      (work.path / "doc.jsonl").string() +
      "\"\nmax_documents = 2\nstride = 256\n[tasks.passkey]\nplugin = \"passkey\"\ndepths = [0, 1]\ntrials = 1\n" +
      "[sweep]\nwindows = [512, 1024]\n";
  const fs::path cfg = work.path / "array.toml";
  e2llm::util::write_file_atomic(cfg, toml);

  // As `#SBATCH --array=0-3` with `srun e2llm sweep CONFIG --out RUN` in every task.
  const fs::path shared = work.path / "shared-run";
  std::vector<pid_t> pids;
  for (int task = 0; task < 4; ++task)
    pids.push_back(start({kExe, "sweep", cfg.string(), "--out", shared.string()},
                         work.path / ("task-" + std::to_string(task) + ".log")));
  std::string logs;
  int computed = 0;
  for (int task = 0; task < 4; ++task) {
    int status = 0;
    ::waitpid(pids[task], &status, 0);
    const std::string log = e2llm::util::read_file(work.path / ("task-" + std::to_string(task) + ".log"));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "array task " << task << ":\n" << log;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(log, m, std::regex("sweep 'array': ([0-9]+) cells: ([0-9]+) computed"))) << log;
    EXPECT_EQ(std::stoi(m[1]), 12) << "3 backends x 2 tasks x 2 windows";
    computed += std::stoi(m[2]);
    logs += log;
  }
  EXPECT_EQ(computed, 12) << "every cell computed by exactly one process";
  EXPECT_EQ(count(logs, "train: e2llm |"), 1) << "E²-LLM trained more than once:\n" << logs;
  EXPECT_EQ(count(logs, "train: pi |"), 1) << "PI-FT (one window above L) trained more than once:\n" << logs;
  // One training folder per training (its journal written by one run: log_every 10 over 3 steps
  // is the last step's row, once).
  std::vector<std::string> trainings;
  for (const auto& e : fs::recursive_directory_iterator(shared / "cache")) {
    if (e.path().filename() != "train_log.jsonl") continue;
    trainings.push_back(e.path().parent_path().filename().string());
    std::istringstream journal(e2llm::util::read_file(e.path()));
    int rows = 0;
    for (std::string line; std::getline(journal, line);) rows += !line.empty();
    EXPECT_EQ(rows, 1) << e.path();
  }
  std::sort(trainings.begin(), trainings.end());
  ASSERT_EQ(trainings.size(), 2u) << "one E²-LLM and one PI-FT training";
  EXPECT_EQ(trainings[0].rfind("e2llm-", 0), 0u) << trainings[0];
  EXPECT_EQ(trainings[1].rfind("pi-ft-", 0), 0u) << trainings[1];
  std::set<long> writers;
  int cells = 0;
  for (const auto& e : fs::directory_iterator(shared / "cells")) {
    if (e.path().extension() != ".json") continue;
    ++cells;
    writers.insert(json::parse(e2llm::util::read_file(e.path()))["host"]["pid"].get<long>());
  }
  EXPECT_EQ(cells, 12);
  std::cout << "[ array ] " << writers.size() << " of 4 processes wrote cells\n";
  EXPECT_GE(writers.size(), 2u) << "the processes did not share the work";

  // One process alone, same config: the same report.
  const fs::path single = work.path / "single-run";
  const auto alone = run_command(kExe + " sweep " + quote(cfg.string()) + " --out " + quote(single.string()));
  ASSERT_EQ(alone.exit_code, 0) << alone.err;
  for (const auto& run : {shared, single}) {
    const auto r = run_command(kExe + " report " + quote(run.string()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  EXPECT_EQ(results_part(shared), results_part(single));
}

TEST(Launchers, TorchrunLaunchesTheRanksOfETwoLlmTrain) {
  const WorkDir work("e2llm-torchrun");
  e2llm::util::write_file_atomic(work.path / "corpus.jsonl", corpus_jsonl());
  auto config = [&](const std::string& name) {
    const fs::path cfg = work.path / (name + ".toml");
    e2llm::util::write_file_atomic(
        cfg, "[tokenizer]\nmodel = \"" + (kModels / "tok512.model").string() +
                 "\"\n[base]\nsource = \"pretrain\"\n[train]\nplugin = \"pretrain\"\nout = \"" +
                 (work.path / name).string() + "\"\ncorpus = \"" + (work.path / "corpus.jsonl").string() +
                 "\"\nseq_len = 32\nsteps = 4\nbatch = 4\nlr = 3e-3\nthreads = 1\ncheck_blas = false\nlog_every = 1\n"
                 "model = { dim = 32, layers = 2, heads = 4, kv_heads = 2, ffn = 64, window = 64 }\n");
    return cfg;
  };
  const std::string torchrun = std::string(E2LLM_SOURCE_DIR) + "/.venv/bin/torchrun";
  ASSERT_TRUE(fs::exists(torchrun)) << torchrun << " is missing: run scripts/setup.sh";
  const auto launched = run_command(quote(torchrun) + " --no-python --standalone --nproc_per_node 2 " + quote(kExe) +
                                    " train " + quote(config("torchrun").string()));
  ASSERT_EQ(launched.exit_code, 0) << launched.out << launched.err;
  EXPECT_NE((launched.out + launched.err).find("2 ranks"), std::string::npos) << launched.err;
  const auto forked = run_command(kExe + " train " + quote(config("nproc").string()) + " --nproc 2");
  ASSERT_EQ(forked.exit_code, 0) << forked.err;
  const auto one = run_command(kExe + " train " + quote(config("one").string()));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const auto a = f32_tensors(run_dir(work.path / "torchrun") / "model/model.safetensors");
  const auto b = f32_tensors(run_dir(work.path / "nproc") / "model/model.safetensors");
  const auto c = f32_tensors(run_dir(work.path / "one") / "model/model.safetensors");
  ASSERT_EQ(a.size(), b.size());
  ASSERT_EQ(a.size(), c.size());
  EXPECT_TRUE(a == b) << "torchrun's 2 ranks and --nproc 2 trained different weights";
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, double(std::fabs(a[i] - c[i])));
  EXPECT_LT(worst, 1e-5) << "2 ranks vs 1";
  const auto result = json::parse(e2llm::util::read_file(run_dir(work.path / "torchrun") / "result.json"));
  EXPECT_EQ(result["world_size"], 2);
}
