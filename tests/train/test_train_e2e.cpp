// End-to-end training through the real CLI (`e2llm train`) on a tiny model:
// SIGKILL + --resume is bit-identical to an uninterrupted run; 2 Gloo ranks equal 1 rank
// with the same global batch; a dead rank fails the run instead of hanging; NaN stops
// with a hint; E²-LLM fine-tuning and PI-FT run from a pretrained base and are cached; PI
// trained at one window keeps its g; a sweep's seed axis trains once per seed.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;

namespace {

const fs::path& work() {
  static const fs::path dir = [] {
    auto d = fs::temp_directory_path() / ("e2llm-train-e2e-" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    // A small synthetic corpus in the register tok512 was trained on (TinyStories).
    const char* names[] = {"Lily", "Tom", "Sue", "Ben", "Max", "Amy"};
    const char* things[] = {"ball", "cat", "tree", "cake", "boat", "bird"};
    std::string jsonl;
    for (int i = 0; i < 60; ++i) {
      std::string text;
      for (int j = 0; j < 6; ++j)
        text += std::string("Once upon a time, ") + names[(i + j) % 6] + " saw a big " + things[(i * 7 + j) % 6] +
                ". " + names[(i + 2 * j) % 6] + " was very happy and played with the " + things[(i + j * 5) % 6] + ". ";
      jsonl += nlohmann::json{{"text", text}}.dump() + "\n";
    }
    e2llm::util::write_file_atomic(d / "corpus.jsonl", jsonl);
    return d;
  }();
  return dir;
}

// The pretraining config every test starts from (tiny: dim 32, 2 layers, L = 64, R = 32);
// `set` replaces or adds [train] keys (TOML values).
std::string config(const std::string& out, const std::map<std::string, std::string>& set = {}) {
  std::map<std::string, std::string> train = {
      {"plugin", "\"pretrain\""}, {"out", "\"" + out + "\""},
      {"corpus", "\"" + (work() / "corpus.jsonl").string() + "\""},
      {"seq_len", "32"}, {"steps", "10"}, {"batch", "4"}, {"lr", "3e-3"}, {"warmup", "2"}, {"threads", "1"},
      {"log_every", "5"}, {"check_blas", "false"},
      {"model", "{ dim = 32, layers = 2, heads = 4, kv_heads = 2, ffn = 64, window = 64 }"}};
  for (const auto& [k, v] : set) train[k] = v;
  std::string toml = "[tokenizer]\nmodel = \"" E2LLM_SHARED_DATA "/models/tok512.model\"\n[base]\nsource = \"pretrain\"\n[train]\n";
  for (const auto& [k, v] : train) toml += k + " = " + v + "\n";
  return toml;
}

struct Run {
  int code = -1;
  std::string out;
  double seconds = 0;
};

Run run(const std::string& name, const std::string& toml, const std::string& args = "") {
  const fs::path cfg = work() / (name + ".toml");
  e2llm::util::write_file_atomic(cfg, toml);
  const std::string cmd = std::string(E2LLM_EXE) + " train " + cfg.string() + " " + args + " 2>&1";
  const auto t0 = std::chrono::steady_clock::now();
  FILE* p = ::popen(cmd.c_str(), "r");
  Run r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

// The trained run folder (one content-hashed folder per training) under `out`.
fs::path run_dir(const fs::path& out, const std::string& prefix) {
  for (const auto& e : fs::directory_iterator(out))
    if (e.is_directory() && e.path().filename().string().rfind(prefix + "-", 0) == 0) return e.path();
  return {};
}

// float32 tensors of a safetensors file, by name.
std::map<std::string, std::vector<float>> read_f32(const fs::path& file) {
  const std::string bytes = e2llm::util::read_file(file);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    EXPECT_EQ(info["dtype"], "F32");
    const size_t b = info["data_offsets"][0], e = info["data_offsets"][1];
    std::vector<float> v((e - b) / 4);
    std::memcpy(v.data(), bytes.data() + 8 + n + b, e - b);
    out[name] = v;
  }
  return out;
}

}  // namespace

TEST(TrainE2E, SigkillThenResumeIsBitIdentical) {
  const auto a = work() / "resume-a", b = work() / "resume-b";
  const std::map<std::string, std::string> ckpt = {{"checkpoint_every", "3"}, {"keep_last", "2"}};
  auto full = run("full", config(a.string(), ckpt));
  ASSERT_EQ(full.code, 0) << full.out;
  EXPECT_NE(full.out.find("tok/s"), std::string::npos) << full.out;
  EXPECT_NE(full.out.find("MFU"), std::string::npos) << full.out;

  auto killed = run("killed", config(b.string(), {{"checkpoint_every", "3"}, {"keep_last", "2"}, {"debug_kill_at_step", "7"}}));
  ASSERT_EQ(killed.code, 128 + SIGKILL) << killed.out;
  const auto dir_b = run_dir(b, "pretrain");
  ASSERT_FALSE(dir_b.empty());
  EXPECT_FALSE(fs::exists(dir_b / "model"));
  EXPECT_TRUE(fs::exists(dir_b / "checkpoints/step-00000006/trainer_state.json"));
  EXPECT_TRUE(fs::exists(dir_b / "checkpoints/step-00000006/model/model.safetensors"));
  EXPECT_TRUE(fs::exists(dir_b / "checkpoints/step-00000003"));  // keep_last = 2: 3 and 6

  auto resumed = run("resumed", config(b.string(), ckpt), "--resume");
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  EXPECT_NE(resumed.out.find("resumed at step 6"), std::string::npos) << resumed.out;
  EXPECT_FALSE(fs::exists(dir_b / "checkpoints/step-00000003"));  // pruned once step 9 was written
  EXPECT_TRUE(fs::exists(dir_b / "checkpoints/step-00000009"));
  const auto dir_a = run_dir(a, "pretrain");
  EXPECT_EQ(dir_a.filename(), dir_b.filename());  // same content hash
  EXPECT_EQ(e2llm::util::read_file(dir_a / "model/model.safetensors"),
            e2llm::util::read_file(dir_b / "model/model.safetensors"));
  const auto ra = nlohmann::json::parse(e2llm::util::read_file(dir_a / "result.json"));
  const auto rb = nlohmann::json::parse(e2llm::util::read_file(dir_b / "result.json"));
  EXPECT_EQ(ra["final_loss"], rb["final_loss"]);
  EXPECT_EQ(ra["trained_tokens"], 10 * 4 * 32);

  // config.json records the method; a rerun is served from the cache.
  const auto hf = nlohmann::json::parse(e2llm::util::read_file(dir_a / "model/config.json"));
  EXPECT_EQ(hf["e2llm"]["policy"]["policy"], "plain");
  EXPECT_EQ(hf["e2llm"]["trainer"]["tokens_seen"], 1280);
  auto cached = run("full", config(a.string(), ckpt));
  ASSERT_EQ(cached.code, 0) << cached.out;
  EXPECT_NE(cached.out.find("\"cached\": true"), std::string::npos) << cached.out;
}

TEST(TrainE2E, TwoRanksEqualOneRankWithTheSameGlobalBatch) {
  const auto one = work() / "ddp-1", two = work() / "ddp-2";
  auto r1 = run("ddp1", config(one.string(), {{"steps", "4"}}));
  ASSERT_EQ(r1.code, 0) << r1.out;
  auto r2 = run("ddp2", config(two.string(), {{"steps", "4"}}), "--nproc 2");
  ASSERT_EQ(r2.code, 0) << r2.out;
  EXPECT_NE(r2.out.find("2 ranks"), std::string::npos) << r2.out;
  const auto w1 = read_f32(run_dir(one, "pretrain") / "model/model.safetensors");
  const auto w2 = read_f32(run_dir(two, "pretrain") / "model/model.safetensors");
  ASSERT_EQ(w1.size(), w2.size());
  double worst = 0;
  for (const auto& [name, v] : w1) {
    const auto& u = w2.at(name);
    ASSERT_EQ(v.size(), u.size());
    for (size_t i = 0; i < v.size(); ++i) worst = std::max(worst, static_cast<double>(std::fabs(v[i] - u[i])));
  }
  EXPECT_LT(worst, 1e-5);
}

TEST(TrainE2E, DeadRankFailsTheRunWithoutHanging) {
  auto r = run("dead", config((work() / "dead").string(), {{"steps", "50"}, {"dist_timeout_s", "10"}, {"debug_kill_at_step", "2"}, {"debug_kill_rank", "1"}}),
               "--nproc 2");
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("rank exited with code"), std::string::npos) << r.out;
  EXPECT_LT(r.seconds, 45) << r.out;
}

TEST(TrainE2E, NanLossStopsWithAHint) {
  auto r = run("nan", config((work() / "nan").string(), {{"lr", "1e30"}, {"grad_clip", "0.0"}, {"warmup", "0"}}));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("lower lr"), std::string::npos) << r.out;
}

TEST(TrainE2E, E2llmAndPiFtFineTuneAPretrainedBase) {
  const auto base_out = work() / "base";
  auto base = run("base", config(base_out.string()));
  ASSERT_EQ(base.code, 0) << base.out;
  const auto base_dir = run_dir(base_out, "pretrain") / "model";
  const std::string common = "[tokenizer]\nmodel = \"" E2LLM_SHARED_DATA "/models/tok512.model\"\n[base]\npath = \"" +
                             base_dir.string() + "\"\n[sweep]\nwindows = [64, 128]\n";
  const std::string knobs = "corpus = \"" + (work() / "corpus.jsonl").string() +
                            "\"\nsteps = 3\nbatch = 2\nlr = 1e-3\nthreads = 1\ncheck_blas = false\n";
  auto e2 = run("e2", common + "[train]\nplugin = \"e2llm\"\nout = \"" + (work() / "e2").string() + "\"\n" + knobs +
                          "seq_len = 32\ngmax = 4\n");
  ASSERT_EQ(e2.code, 0) << e2.out;
  const auto rec = nlohmann::json::parse(e2.out.substr(e2.out.find("{\n")));
  EXPECT_EQ(rec["policy"]["policy"], "e2llm");
  EXPECT_EQ(rec["policy"]["gmax"], 4);
  EXPECT_EQ(rec["policy"]["sink"], 4);
  EXPECT_EQ(rec["trained_tokens"], 3 * 2 * 32);
  EXPECT_TRUE(fs::exists(rec["checkpoint_path"].get<std::string>() + "/model.safetensors"));

  auto pi = run("pift", common + "[train]\nplugin = \"pi-ft\"\nout = \"" + (work() / "pift").string() + "\"\n" + knobs);
  ASSERT_EQ(pi.code, 0) << pi.out;
  const auto prec = nlohmann::json::parse(pi.out.substr(pi.out.find("{\n")));
  ASSERT_EQ(prec["trained"].size(), 1u);  // only W = 128 > L = 64
  EXPECT_EQ(prec["trained"][0]["window"], 128);
  EXPECT_EQ(prec["trained"][0]["g"], 2.0);
  EXPECT_EQ(prec["trained"][0]["policy"]["seq_len"], 128);
}

// tokens_per_step gives every training the same token budget whatever its sequence
// length: PI-FT at W = 128 takes 2 sequences per step, at W = 256 one.
TEST(TrainE2E, TokensPerStepEqualsBudgetsAcrossWindows) {
  const auto base_out = work() / "base";
  auto base = run("base-tps", config(base_out.string()));  // cached when the test above ran
  ASSERT_EQ(base.code, 0) << base.out;
  const auto base_dir = run_dir(base_out, "pretrain") / "model";
  const std::string head = "[tokenizer]\nmodel = \"" E2LLM_SHARED_DATA "/models/tok512.model\"\n[base]\npath = \"" +
                           base_dir.string() + "\"\n[sweep]\nwindows = [128, 256]\n[train]\nplugin = \"pi-ft\"\ncorpus = \"" +
                           (work() / "corpus.jsonl").string() + "\"\nsteps = 2\nlr = 1e-3\nthreads = 1\ncheck_blas = false\n";
  auto r = run("tps", head + "out = \"" + (work() / "tps").string() + "\"\ntokens_per_step = 256\n");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto rec = nlohmann::json::parse(r.out.substr(r.out.find("{\n")));
  ASSERT_EQ(rec["trained"].size(), 2u);
  for (const auto& t : rec["trained"]) EXPECT_EQ(t["trained_tokens"], 2 * 256) << t.dump();
  EXPECT_EQ(rec["trained_tokens"], 2 * 2 * 256);

  auto both = run("tps-both", head + "out = \"" + (work() / "tps2").string() + "\"\ntokens_per_step = 256\nbatch = 2\n");
  EXPECT_EQ(both.code, 1) << both.out;
  EXPECT_NE(both.out.find("tokens_per_step"), std::string::npos) << both.out;
  auto odd = run("tps-odd", head + "out = \"" + (work() / "tps3").string() + "\"\ntokens_per_step = 384\n");
  EXPECT_EQ(odd.code, 1) << odd.out;  // 384 is not a multiple of W = 256
  EXPECT_NE(odd.out.find("multiple of the sequence length 256"), std::string::npos) << odd.out;
  // ... found before anything trained: no model for W = 128 either.
  std::error_code ec;
  for (fs::recursive_directory_iterator it(work() / "tps3", ec), end; !ec && it != end; it.increment(ec))
    EXPECT_NE(it->path().filename().string().rfind("pi-ft-", 0), 0u) << it->path();
}

TEST(TrainE2E, UnwritableOutputIsAClearError) {
  auto r = run("unwritable", config("/proc/e2llm-cannot-write-here"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("/proc/e2llm-cannot-write-here"), std::string::npos) << r.out;
}

namespace {

// The journal rows of a finished training: step -> {loss, grad_norm}.
std::map<int64_t, std::pair<double, double>> journal(const fs::path& run) {
  std::map<int64_t, std::pair<double, double>> out;
  std::istringstream in(e2llm::util::read_file(run / "train_log.jsonl"));
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    out[j["step"].get<int64_t>()] = {j["loss"].get<double>(), j["grad_norm"].get<double>()};
  }
  return out;
}

}  // namespace

// Data parallel must compute the same step as one process, step by step: the same loss and
// the same gradient norm (a sum where a mean belongs, or a share counted twice, shows in the
// norm before clipping hides it in the weights), also when the global batch (5) does not
// divide among the ranks and micro-steps (2 × 2).
TEST(TrainE2E, TwoRanksComputeTheSameStepsAsOneWithUnevenShares) {
  const auto one = work() / "uneven-1", two = work() / "uneven-2";
  const std::map<std::string, std::string> knobs = {{"steps", "6"}, {"batch", "5"}, {"grad_accum", "2"}, {"log_every", "1"}};
  auto r1 = run("uneven1", config(one.string(), knobs));
  ASSERT_EQ(r1.code, 0) << r1.out;
  auto r2 = run("uneven2", config(two.string(), knobs), "--nproc 2");
  ASSERT_EQ(r2.code, 0) << r2.out;
  const auto j1 = journal(run_dir(one, "pretrain")), j2 = journal(run_dir(two, "pretrain"));
  ASSERT_EQ(j1.size(), 6u);
  ASSERT_EQ(j2.size(), 6u);
  for (const auto& [step, a] : j1) {
    const auto& b = j2.at(step);
    EXPECT_NEAR(b.first, a.first, 1e-5 * a.first) << "loss at step " << step;
    EXPECT_NEAR(b.second, a.second, 1e-4 * a.second) << "gradient norm at step " << step;
  }
  EXPECT_GT(j1.begin()->second.second, 0.0);
}

// A trainer that does nothing, or that does not learn, fails here: the loss falls over the
// run and every tensor of a fine-tuned base moves.
TEST(TrainE2E, LossFallsAndEveryTensorMoves) {
  const auto out = work() / "learns";
  auto r = run("learns", config(out.string(), {{"steps", "30"}, {"log_every", "1"}, {"lr", "5e-3"}}));
  ASSERT_EQ(r.code, 0) << r.out;
  const auto dir = run_dir(out, "pretrain");
  const auto j = journal(dir);
  ASSERT_EQ(j.size(), 30u);
  double first3 = 0, last3 = 0;
  for (int s = 1; s <= 3; ++s) first3 += j.at(s).first, last3 += j.at(28 + s - 1).first;
  EXPECT_LT(last3, 0.8 * first3) << "mean loss of the first 3 steps " << first3 / 3 << ", last 3 " << last3 / 3;

  // Fine-tune that model with E²-LLM: every tensor must differ from the base.
  const std::string toml = "[tokenizer]\nmodel = \"" E2LLM_SHARED_DATA "/models/tok512.model\"\n[base]\npath = \"" +
                           (dir / "model").string() + "\"\n[train]\nplugin = \"e2llm\"\nout = \"" +
                           (work() / "learns-e2").string() + "\"\ncorpus = \"" + (work() / "corpus.jsonl").string() +
                           "\"\nsteps = 5\nbatch = 2\nlr = 1e-3\nthreads = 1\ncheck_blas = false\nseq_len = 32\ngmax = 4\n";
  auto e2 = run("learns-e2", toml);
  ASSERT_EQ(e2.code, 0) << e2.out;
  const auto base = read_f32(dir / "model/model.safetensors");
  const auto tuned = read_f32(run_dir(work() / "learns-e2", "e2llm") / "model/model.safetensors");
  ASSERT_EQ(base.size(), tuned.size());
  for (const auto& [name, v] : base) {
    const auto& u = tuned.at(name);
    double moved = 0;
    for (size_t i = 0; i < v.size(); ++i) moved = std::max(moved, static_cast<double>(std::fabs(v[i] - u[i])));
    EXPECT_GT(moved, 1e-6) << name << " did not change";
  }
}

// PI trained at one window (`train_window`) is the same training as per-window PI at that
// window, and serves its g everywhere: windows beyond g x L are refused before training.
TEST(TrainE2E, PiFtTrainWindowTrainsOneModelAndKeepsItsG) {
  const auto base_out = work() / "base";
  auto base = run("base-tw", config(base_out.string()));  // cached when an earlier test ran
  ASSERT_EQ(base.code, 0) << base.out;
  const auto base_dir = run_dir(base_out, "pretrain") / "model";
  const std::string head = "[tokenizer]\nmodel = \"" E2LLM_SHARED_DATA "/models/tok512.model\"\n[base]\npath = \"" +
                           base_dir.string() + "\"\n[train]\nplugin = \"pi-ft\"\ncorpus = \"" +
                           (work() / "corpus.jsonl").string() + "\"\nsteps = 2\nbatch = 1\nlr = 1e-3\nthreads = 1\n" +
                           "check_blas = false\n";
  auto per_window = run("tw-per", head + "out = \"" + (work() / "tw-per").string() + "\"\n[sweep]\nwindows = [128]\n");
  ASSERT_EQ(per_window.code, 0) << per_window.out;
  auto one = run("tw-one", head + "out = \"" + (work() / "tw-one").string() + "\"\ntrain_window = 128\n" +
                               "[sweep]\nwindows = [64, 128]\n");
  ASSERT_EQ(one.code, 0) << one.out;
  const auto a = nlohmann::json::parse(per_window.out.substr(per_window.out.find("{\n")));
  const auto b = nlohmann::json::parse(one.out.substr(one.out.find("{\n")));
  ASSERT_EQ(b["trained"].size(), 1u);
  EXPECT_EQ(b["trained"][0]["window"], 128);
  EXPECT_EQ(b["policy"]["served_g"], 2.0);
  EXPECT_EQ(b["trained"][0]["checkpoint_hash"], a["trained"][0]["checkpoint_hash"]);  // the same weights
  EXPECT_EQ(b["checkpoint_hash"], a["trained"][0]["checkpoint_hash"]);
  auto beyond = run("tw-beyond", head + "out = \"" + (work() / "tw-beyond").string() + "\"\ntrain_window = 128\n" +
                                     "[sweep]\nwindows = [64, 256]\n");
  EXPECT_EQ(beyond.code, 1) << beyond.out;
  EXPECT_NE(beyond.out.find("train.train_window: trains at 128 and serves g = 2 at every window, so windows up to 128 "
                            "tokens; the sweep has W = 256"),
            std::string::npos)
      << beyond.out;
  EXPECT_EQ(beyond.out.find("pi-ft-"), std::string::npos) << "refused before training: " << beyond.out;
  auto low = run("tw-low", head + "out = \"" + (work() / "tw-low").string() + "\"\ntrain_window = 64\n");
  EXPECT_EQ(low.code, 1) << low.out;
  EXPECT_NE(low.out.find("train.train_window: (64) must be larger than L = 64"), std::string::npos) << low.out;
}

// A sweep's seed axis through the real E²-LLM backend: one training per seed (cached apart,
// different weights), a label served at a fixed g sharing those trainings, cells per seed;
// a `seed` key beside a seed axis is refused, naming the field.
TEST(TrainE2E, SweepSeedsTrainOncePerSeedAndFixedGSharesTheTraining) {
  const auto base_out = work() / "base";
  auto base = run("base-seeds", config(base_out.string()));
  ASSERT_EQ(base.code, 0) << base.out;
  const auto base_dir = run_dir(base_out, "pretrain") / "model";
  const std::string knobs = "plugin = \"e2llm\"\ncorpus = \"" + (work() / "corpus.jsonl").string() +
                            "\"\nsteps = 2\nbatch = 2\nlr = 1e-3\nthreads = 1\ncheck_blas = false\nseq_len = 32\n" +
                            "gmax = 4\n";
  const std::string toml = "[run]\nseed = 3\n[tokenizer]\nmodel = \"" E2LLM_SHARED_DATA
                           "/models/tok512.model\"\n[base]\nsource = \"hf\"\npath = \"" +
                           base_dir.string() + "\"\nwindow = 64\n[backends.e2]\n" + knobs + "[backends.e2-fixed]\n" +
                           knobs + "factor_rule = \"fixed\"\nfactor = 2\n" +
                           "[tasks.ppl]\nplugin = \"proofpile\"\ndata = \"" + (work() / "corpus.jsonl").string() +
                           "\"\nmax_documents = 2\nstride = 32\n[sweep]\nwindows = [64, 128]\nseeds = [1, 2]\n";
  const fs::path cfg = work() / "seeds.toml", out = work() / "seeds-run";
  e2llm::util::write_file_atomic(cfg, toml);
  const std::string sweep = std::string(E2LLM_EXE) + " sweep " + cfg.string() + " --out " + out.string() + " 2>&1";
  FILE* p = ::popen(sweep.c_str(), "r");
  std::string log;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) log.append(buf, n);
  ASSERT_EQ(::pclose(p), 0) << log;
  std::vector<std::string> trainings;
  for (const auto& e : fs::directory_iterator(out / "cache" / "e2llm"))
    if (e.is_directory() && e.path().filename().string().rfind("e2llm-", 0) == 0)
      trainings.push_back(e.path().filename().string());
  EXPECT_EQ(trainings.size(), 2u) << "one training per seed, shared by both labels";
  std::map<std::string, std::string> hash;  // "label/seed" -> checkpoint hash
  std::map<std::string, double> served_g;   // "label/seed/window" -> g
  for (const auto& e : fs::directory_iterator(out / "cells")) {
    if (e.path().extension() != ".json") continue;
    const auto cell = nlohmann::json::parse(e2llm::util::read_file(e.path()));
    const std::string id = cell["backend"]["label"].get<std::string>() + "/" + cell["training_seed"].dump();
    hash[id] = cell["backend"]["prepare"]["checkpoint_hash"];
    served_g[id + "/" + cell["window"].dump()] = cell["model"]["g"];
    EXPECT_TRUE(cell.contains("uncertainty"));
  }
  ASSERT_EQ(hash.size(), 4u);
  EXPECT_NE(hash["e2/1"], hash["e2/2"]);  // another seed, other weights
  EXPECT_EQ(hash["e2/1"], hash["e2-fixed/1"]);
  EXPECT_EQ(served_g["e2/1/64"], 1.0);
  EXPECT_EQ(served_g["e2/1/128"], 2.0);
  EXPECT_EQ(served_g["e2-fixed/1/64"], 2.0);  // the fixed g at W = L too

  const fs::path bad = work() / "seeds-bad.toml";
  std::string with_seed = toml;
  with_seed.replace(with_seed.find("[backends.e2-fixed]"), 0, "seed = 5\n");
  e2llm::util::write_file_atomic(bad, with_seed);
  p = ::popen(
      (std::string(E2LLM_EXE) + " sweep " + bad.string() + " --out " + (work() / "seeds-bad").string() + " 2>&1")
          .c_str(),
      "r");
  log.clear();
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) log.append(buf, n);
  EXPECT_NE(::pclose(p), 0) << log;
  EXPECT_NE(log.find("backends.e2.seed: is set per training by the sweep's seed axis"), std::string::npos) << log;
}
