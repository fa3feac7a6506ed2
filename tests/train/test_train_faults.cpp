// Faults injected into `e2llm train` from outside: SIGKILL at random moments and the moment a
// checkpoint is being written, and a file-size limit (ulimit -f) that makes a checkpoint write
// fail. After every fault the newest complete checkpoint is used, partial writes are ignored
// and cleaned up, and the finished run equals an uninterrupted one byte for byte.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "../support/kill_when.hpp"
#include "../support/run_command.hpp"
#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;
using e2llm::testing::kill_when;
using e2llm::testing::quote;
using e2llm::testing::run_command;

namespace {

const fs::path& work() {
  static const fs::path dir = [] {
    auto d = fs::temp_directory_path() / ("e2llm-train-faults-" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    std::string jsonl;
    for (int i = 0; i < 60; ++i)
      jsonl += "{\"text\": \"Once upon a time, Lily saw a big cat number " + std::to_string(i) +
               ". She was very happy and played with the cat in the park all day long.\"}\n";
    e2llm::util::write_file_atomic(d / "corpus.jsonl", jsonl);
    return d;
  }();
  return dir;
}

fs::path write_config(const std::string& name, int steps) {
  const fs::path cfg = work() / (name + ".toml");
  e2llm::util::write_file_atomic(
      cfg, "[tokenizer]\nmodel = \"" E2LLM_SHARED_DATA
           "/models/tok512.model\"\n[base]\nsource = \"pretrain\"\n"
           "[train]\nplugin = \"pretrain\"\nout = \"" +
               (work() / name).string() + "\"\ncorpus = \"" + (work() / "corpus.jsonl").string() +
               "\"\nseq_len = 32\nsteps = " + std::to_string(steps) +
               "\nbatch = 4\nlr = 3e-3\nwarmup = 2\nthreads = 1\ncheck_blas = false\nlog_every = 1000\n"
               "checkpoint_every = 1\nkeep_last = 2\n"
               "model = { dim = 32, layers = 2, heads = 4, kv_heads = 2, ffn = 64, window = 64 }\n");
  return cfg;
}

fs::path training_dir(const std::string& name) {
  const fs::path out = work() / name;
  if (fs::is_directory(out))
    for (const auto& e : fs::directory_iterator(out))
      if (e.is_directory() && e.path().filename().string().rfind("pretrain-", 0) == 0) return e.path();
  return {};
}

// The step of the newest complete checkpoint in `run` (0 when none).
int newest_checkpoint(const fs::path& run) {
  int newest = 0;
  if (run.empty() || !fs::is_directory(run / "checkpoints")) return 0;
  std::error_code ec;
  for (fs::directory_iterator it(run / "checkpoints", ec), end; !ec && it != end; it.increment(ec)) {
    const auto n = it->path().filename().string();
    if (n.rfind("step-", 0) == 0 && fs::exists(it->path() / "trainer_state.json", ec))
      newest = std::max(newest, std::atoi(n.c_str() + 5));
  }
  return newest;
}

bool has_partial_write(const fs::path& run) {
  for (const fs::path& dir : {run, run / "checkpoints"}) {
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      const auto n = e.path().filename().string();
      if (n.rfind(".tmp-", 0) == 0 || n.find(".old-") != std::string::npos) return true;
    }
  }
  return false;
}

pid_t start_training(const fs::path& cfg) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!std::freopen("/dev/null", "w", stdout) || !std::freopen((cfg.string() + ".log").c_str(), "a", stderr))
      ::_exit(126);
    ::execl(E2LLM_EXE, E2LLM_EXE, "train", cfg.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

}  // namespace

TEST(TrainFaults, KillsAtRandomMomentsAndDuringCheckpointWritesThenResume) {
  const int steps = 150;
  const auto reference =
      run_command(std::string(E2LLM_EXE) + " train " + quote(write_config("reference", steps).string()));
  ASSERT_EQ(reference.exit_code, 0) << reference.err;

  // The moments are drawn in training progress, not wall time, so that a faster or slower
  // machine kills at the same places: a random step a few steps past the previous kill, then a
  // random few milliseconds into the next step (mid-step, mid-write or between the two).
  const fs::path cfg = write_config("faulty", steps);
  std::mt19937 rng(20261130);  // fixed seed: the same moments every run
  int random_kills = 0, checkpoint_kills = 0, target = 0;
  for (int attempt = 0; attempt < 30 && (random_kills < 3 || checkpoint_kills < 3); ++attempt) {
    const pid_t pid = start_training(cfg);
    if (random_kills < 3) {
      target += std::uniform_int_distribution<int>(4, 25)(rng);
      const auto extra = std::chrono::microseconds(std::uniform_int_distribution<int>(0, 8000)(rng));
      std::chrono::steady_clock::time_point reached{};
      random_kills += kill_when(
          pid,
          [&] {
            if (reached == std::chrono::steady_clock::time_point{}) {
              if (newest_checkpoint(training_dir("faulty")) < target) return false;
              reached = std::chrono::steady_clock::now();
            }
            return std::chrono::steady_clock::now() - reached >= extra;
          },
          std::chrono::seconds(60));
    } else {
      // The moment a checkpoint folder is being written (a .tmp- folder exists) — after at
      // least one complete checkpoint, so that resume has something to resume from.
      checkpoint_kills += kill_when(
          pid,
          [&] {
            const fs::path run = training_dir("faulty");
            if (run.empty() || !fs::is_directory(run / "checkpoints")) return false;
            bool writing = false;
            std::error_code ec;
            for (fs::directory_iterator it(run / "checkpoints", ec), end; !ec && it != end; it.increment(ec))
              writing = writing || it->path().filename().string().rfind(".tmp-", 0) == 0;
            return writing && newest_checkpoint(run) > 0;
          },
          std::chrono::seconds(60));
    }
    ASSERT_TRUE(training_dir("faulty").empty() || !fs::exists(training_dir("faulty") / "result.json"))
        << "the run finished before the faults were injected; raise `steps`";
  }
  EXPECT_GE(random_kills, 3);
  EXPECT_GE(checkpoint_kills, 3);
  const auto finish = run_command(std::string(E2LLM_EXE) + " train " + quote(cfg.string()));
  ASSERT_EQ(finish.exit_code, 0) << finish.err;
  EXPECT_NE(finish.err.find("resumed at step"), std::string::npos) << finish.err;
  EXPECT_FALSE(has_partial_write(training_dir("faulty"))) << "partial checkpoint folders were left behind";
  EXPECT_TRUE(e2llm::util::read_file(training_dir("reference") / "model/model.safetensors") ==
              e2llm::util::read_file(training_dir("faulty") / "model/model.safetensors"))
      << "after " << random_kills << " random and " << checkpoint_kills << " checkpoint-time kills";
}

// A checkpoint write that fails (here: the file-size limit, EFBIG) stops the run with one line
// naming the file; nothing half-written is left for the next run, which completes and equals
// an uninterrupted run.
TEST(TrainFaults, FileSizeLimitDuringACheckpointWriteIsOneLineAndRecoverable) {
  const auto reference =
      run_command(std::string(E2LLM_EXE) + " train " + quote(write_config("fsize-ref", 12).string()));
  ASSERT_EQ(reference.exit_code, 0) << reference.err;
  const fs::path cfg = write_config("fsize", 12);
  // 300 KiB (bash counts KiB): the token cache and the weights (200 KiB) fit, the optimizer state does not.
  const auto limited = run_command(
      "bash -c " + quote("ulimit -f 300 && exec " + std::string(E2LLM_EXE) + " train " + quote(cfg.string())));
  EXPECT_EQ(limited.exit_code, 1) << limited.err;
  EXPECT_NE(limited.err.find("optimizer.pt"), std::string::npos) << limited.err;
  EXPECT_NE(limited.err.find("File too large"), std::string::npos) << limited.err;
  EXPECT_EQ(std::count(limited.err.begin(), limited.err.end(), '\n'), 2)
      << "the banner and one error line: " << limited.err;
  const fs::path run = training_dir("fsize");
  EXPECT_FALSE(has_partial_write(run));
  EXPECT_FALSE(fs::exists(run / "model"));
  const auto again = run_command(std::string(E2LLM_EXE) + " train " + quote(cfg.string()));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(e2llm::util::read_file(training_dir("fsize-ref") / "model/model.safetensors") ==
              e2llm::util::read_file(run / "model/model.safetensors"));
}
