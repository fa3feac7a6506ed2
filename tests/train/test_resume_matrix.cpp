// Resume after an external SIGKILL, for every training plugin (pretrain, e2llm, pi-ft) from
// every kind of start (random weights, a GGUF base, a Hugging Face base): the run is started
// with `e2llm train`, killed with kill -9 from this process once a checkpoint exists,
// resumed with --resume, and its final weights must equal an uninterrupted run's byte for
// byte. (A GGUF base is stored in the "adjacent" RoPE layout; a trainer that trained in that
// layout but resumed from a checkpoint reloaded in the "half" layout failed exactly here.)
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "../support/run_command.hpp"
#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;
using e2llm::testing::quote;
using e2llm::testing::run_command;

namespace {

const fs::path& work() {
  static const fs::path dir = [] {
    auto d = fs::temp_directory_path() / ("e2llm-resume-matrix-" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    std::string jsonl;
    for (int i = 0; i < 80; ++i) {
      std::string text;
      for (int j = 0; j < 8; ++j)
        text += "Once upon a time, a little " + std::string(j % 2 ? "girl" : "boy") + " named " +
                (i % 3 ? "Lily" : "Tom") + " found a big " + (j % 3 ? "ball" : "box") + " in the park. ";
      jsonl += "{\"text\": \"" + text + "\"}\n";
    }
    e2llm::util::write_file_atomic(d / "corpus.jsonl", jsonl);
    // The Hugging Face base: stories260K converted by the CLI.
    const auto r = run_command(std::string(E2LLM_EXE) + " convert " + quote(E2LLM_SHARED_DATA "/models/stories260K.gguf") +
                               " " + quote((d / "stories-hf").string()));
    if (r.exit_code != 0) ADD_FAILURE() << "e2llm convert failed: " << r.err;
    return d;
  }();
  return dir;
}

struct Case {
  std::string plugin;  // pretrain | e2llm | pi-ft
  std::string start;   // random | gguf | hf
};

std::string name_of(const Case& c) { return c.plugin + "-" + c.start; }
void PrintTo(const Case& c, std::ostream* os) { *os << name_of(c); }

std::string config(const Case& c, const fs::path& out) {
  std::string toml = "[tokenizer]\nmodel = \"" E2LLM_SHARED_DATA "/models/tok512.model\"\n";
  if (c.start == "gguf") toml += "[base]\npath = \"" E2LLM_SHARED_DATA "/models/stories260K.gguf\"\nwindow = 64\n";
  if (c.start == "hf") toml += "[base]\npath = \"" + (work() / "stories-hf").string() + "\"\nwindow = 64\n";
  if (c.start == "random") toml += "[base]\nsource = \"pretrain\"\nwindow = 64\n";
  toml += "[sweep]\nwindows = [64, 128]\n";  // pi-ft trains W = 128 (g = 2)
  toml += "[train]\nplugin = \"" + c.plugin + "\"\nout = \"" + out.string() + "\"\ncorpus = \"" +
          (work() / "corpus.jsonl").string() + "\"\n";
  toml += "steps = 40\nlr = 2e-3\nwarmup = 2\nthreads = 1\ncheck_blas = false\nlog_every = 100\n";
  toml += "checkpoint_every = 3\nkeep_last = 3\n";
  toml += c.plugin == "pi-ft" ? "batch = 1\n" : "seq_len = 64\nbatch = 2\n";
  if (c.plugin == "e2llm") toml += "gmax = 4\n";
  if (c.start == "random")
    toml += "init = \"random\"\nmodel = { dim = 32, layers = 2, heads = 4, kv_heads = 2, ffn = 64, window = 64 }\n";
  else
    toml += "init = \"base\"\n";
  return toml;
}

// The content-hashed training folder under `out` (one per training of the plugin).
fs::path training_dir(const fs::path& out, const std::string& plugin) {
  if (fs::is_directory(out))
    for (const auto& e : fs::directory_iterator(out))
      if (e.is_directory() && e.path().filename().string().rfind(plugin + "-", 0) == 0) return e.path();
  return {};
}

// Starts `e2llm train CONFIG`, waits until a checkpoint of step >= 6 exists, and kills the
// process with SIGKILL from here. Returns false (and says why) if the run ended first.
bool start_and_kill(const fs::path& cfg, const fs::path& out, const std::string& plugin, std::string* why) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string log = (cfg.string() + ".killed.log");
    if (!std::freopen(log.c_str(), "w", stderr) || !std::freopen("/dev/null", "w", stdout)) ::_exit(126);
    ::execl(E2LLM_EXE, E2LLM_EXE, "train", cfg.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      *why = "the run ended (status " + std::to_string(status) + ") before a checkpoint of step 6 was seen";
      return false;
    }
    const fs::path dir = training_dir(out, plugin);
    if (!dir.empty() && fs::exists(dir / "checkpoints/step-00000006/trainer_state.json")) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
        *why = "the run was not killed by the signal (status " + std::to_string(status) + ")";
        return false;
      }
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  *why = "no checkpoint of step 6 within 120 s";
  return false;
}

class ResumeMatrix : public ::testing::TestWithParam<Case> {};

TEST_P(ResumeMatrix, ExternalSigkillThenResumeEqualsAnUninterruptedRun) {
  const Case c = GetParam();
  const fs::path root = work() / name_of(c);
  fs::remove_all(root);
  fs::create_directories(root);
  const fs::path full_out = root / "full", killed_out = root / "killed";
  e2llm::util::write_file_atomic(root / "full.toml", config(c, full_out));
  e2llm::util::write_file_atomic(root / "killed.toml", config(c, killed_out));

  const auto full = run_command(std::string(E2LLM_EXE) + " train " + quote((root / "full.toml").string()));
  ASSERT_EQ(full.exit_code, 0) << full.err;

  std::string why;
  ASSERT_TRUE(start_and_kill(root / "killed.toml", killed_out, c.plugin, &why))
      << why << "\n" << e2llm::util::read_file(root / "killed.toml.killed.log");
  const fs::path killed_dir = training_dir(killed_out, c.plugin);
  ASSERT_FALSE(fs::exists(killed_dir / "model")) << "the killed run already finished";

  const auto resumed = run_command(std::string(E2LLM_EXE) + " train " + quote((root / "killed.toml").string()) + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resumed at step"), std::string::npos) << resumed.err;

  const fs::path full_dir = training_dir(full_out, c.plugin);
  ASSERT_FALSE(full_dir.empty());
  EXPECT_EQ(full_dir.filename(), killed_dir.filename());  // the same content hash
  const auto a = e2llm::util::read_file(full_dir / "model/model.safetensors");
  const auto b = e2llm::util::read_file(killed_dir / "model/model.safetensors");
  EXPECT_TRUE(a == b) << name_of(c) << ": the resumed run's weights differ from the uninterrupted run's";
  fs::remove_all(root);
}

INSTANTIATE_TEST_SUITE_P(EveryPluginFromEveryStart, ResumeMatrix,
                         ::testing::Values(Case{"pretrain", "random"}, Case{"pretrain", "gguf"}, Case{"pretrain", "hf"},
                                           Case{"e2llm", "random"}, Case{"e2llm", "gguf"}, Case{"e2llm", "hf"},
                                           Case{"pi-ft", "random"}, Case{"pi-ft", "gguf"}, Case{"pi-ft", "hf"}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string n = name_of(info.param);
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

}  // namespace
