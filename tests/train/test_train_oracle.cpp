// Training checked by its positions: one optimizer step of `e2llm train` against an
// independent reference, for every position policy.
//
// The trainer starts from stories260K (converted to a Hugging Face directory by `e2llm convert`)
// and records each sample's token ids and position draw (`record_positions`). The reference,
// train_step_reference.py, rebuilds the positions from the method's definition (E²-LLM: sink
// tokens at m / g, the rest at (m + t) / g; PI: m / g; plain: m), checks every draw against the
// method's support, and computes the same step in float64 with transformers' LlamaForCausalLM
// and torch.optim.AdamW: the step's mean loss, the gradient norm before clipping, and the
// weights after the update must agree with the trainer's (float32). The reference also computes
// the loss a trainer that dropped t, g or the sink would see: each is asserted to be far
// outside the tolerance, so such a trainer fails here. And 2 Gloo ranks train the same E²-LLM
// steps as 1 rank: the same draws per global sample, losses and gradient norms.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../support/run_command.hpp"
#include "e2llm/llama/train/position_policy.hpp"
#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;
using e2llm::testing::quote;
using e2llm::testing::run_command;

namespace {

const fs::path kSource = E2LLM_SOURCE_DIR;
const std::string kTokenizer = E2LLM_SHARED_DATA "/models/tok512.model";
constexpr double kLr = 1e-3;
// float32 (trainer) against float64 (reference). Measured: loss within ~1e-7 relative, gradient
// norm ~4e-7, weights ~1.3e-7 absolute where the gradient is resolved (|g| >= 1e-6; below that,
// near AdamW's eps, float32 rounding decides the step and only its bound is checked).
constexpr double kLossTolerance = 1e-6;      // relative
constexpr double kGradNormTolerance = 1e-5;  // relative
constexpr double kWeightTolerance = 2e-6;    // absolute, 0.2% of lr

// A run folder with a corpus in the register of TinyStories and stories260K as an HF directory.
struct Work {
  fs::path dir = fs::temp_directory_path() / ("e2llm-train-oracle-" + std::to_string(::getpid()));
  fs::path base = dir / "base";
  Work() {
    fs::remove_all(dir);
    fs::create_directories(dir);
    const char* names[] = {"Lily", "Tom", "Sue", "Ben", "Max", "Amy", "Tim", "Mia"};
    const char* things[] = {"ball", "cat", "tree", "cake", "boat", "bird", "kite", "dog"};
    std::string jsonl;
    for (int i = 0; i < 120; ++i) {
      std::string text;
      for (int j = 0; j < 4; ++j)
        text += std::string("Once upon a time, ") + names[(i + j) % 8] + " found a little " + things[(i * 3 + j) % 8] +
                " in the park. " + names[(i + 5 * j) % 8] + " was happy and wanted to play with the " +
                things[(i + j * 7) % 8] + " all day. ";
      jsonl += nlohmann::json{{"text", text}}.dump() + "\n";
    }
    e2llm::util::write_file_atomic(dir / "corpus.jsonl", jsonl);
    const auto r = run_command(std::string(E2LLM_EXE) + " convert " +
                               quote(E2LLM_SHARED_DATA "/models/stories260K.gguf") + " " + quote(base.string()));
    if (r.exit_code != 0) throw std::runtime_error("e2llm convert failed: " + r.err);
  }
  ~Work() { fs::remove_all(dir); }
};

const Work& work() {
  static const Work w;
  return w;
}

// `e2llm train` with [train] `keys` (one step, recorded); returns the training's folder.
fs::path train(const std::string& name, const std::string& keys, const std::string& extra = "",
               const std::string& args = "") {
  const fs::path out = work().dir / name;
  const std::string toml = "[tokenizer]\nmodel = \"" + kTokenizer + "\"\n[base]\npath = \"" + work().base.string() +
                           "\"\nwindow = 512\n" + extra + "[train]\nout = \"" + out.string() + "\"\ncorpus = \"" +
                           (work().dir / "corpus.jsonl").string() +
                           "\"\nwarmup = 0\nweight_decay = 0.1\ngrad_clip = 1.0\nseed = 3\nthreads = 1\n"
                           "check_blas = false\nlog_every = 1\nrecord_positions = true\nlr = " +
                           std::to_string(kLr) + "\n" + keys;
  const fs::path cfg = work().dir / (name + ".toml");
  e2llm::util::write_file_atomic(cfg, toml);
  const auto r = run_command(std::string(E2LLM_EXE) + " train " + quote(cfg.string()) + " " + args);
  if (r.exit_code != 0) throw std::runtime_error("e2llm train " + name + " failed: " + r.err);
  const auto record = nlohmann::json::parse(r.out.substr(r.out.find("{\n")));
  const auto& trained = record.at("trained");
  if (trained.size() != 1) throw std::runtime_error(name + ": expected one training, got " + trained.dump());
  return fs::path(trained[0].at("checkpoint_path").get<std::string>()).parent_path();
}

std::vector<nlohmann::json> jsonl(const fs::path& file) {
  std::vector<nlohmann::json> rows;
  std::istringstream in(e2llm::util::read_file(file));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

std::vector<std::string> records(const fs::path& run) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(run))
    if (e.path().filename().string().rfind("positions-rank", 0) == 0) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// The reference's verdict on step `step` (0-based) of a training.
nlohmann::json reference(const fs::path& run, int64_t step = 0) {
  const auto result = nlohmann::json::parse(e2llm::util::read_file(run / "result.json"));
  const nlohmann::json manifest = {{"base", work().base.string()},
                                   {"trained", (run / "model").string()},
                                   {"records", records(run)},
                                   {"step", step},
                                   {"policy", result.at("policy")},
                                   {"lr", kLr},
                                   {"warmup", 0},
                                   {"weight_decay", 0.1},
                                   {"grad_clip", 1.0},
                                   {"betas", {0.9, 0.95}},  // docs/training.md
                                   {"eps", 1e-8},
                                   {"out", (run / "reference.json").string()}};
  e2llm::util::write_file_atomic(run / "manifest.json", manifest.dump());
  const auto r = run_command(quote((kSource / ".venv/bin/python").string()) + " " +
                             quote((kSource / "tests/train/train_step_reference.py").string()) + " " +
                             quote((run / "manifest.json").string()));
  if (r.exit_code != 0) throw std::runtime_error("train_step_reference.py: " + r.err);
  return nlohmann::json::parse(e2llm::util::read_file(run / "reference.json"));
}

struct Case {
  std::string name;
  std::string keys;   // [train] keys
  std::string extra;  // other sections
  int64_t batch;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

// Every policy the trainer knows, with a training of one step that uses it. A new policy
// (PolicyKind) fails EveryPolicyHasACase until it is listed here and the reference knows it.
const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"plain", "plugin = \"pretrain\"\ninit = \"base\"\nseq_len = 64\nsteps = 1\nbatch = 4\n", "", 4},
      {"pi", "plugin = \"pi-ft\"\nsteps = 1\nbatch = 2\n", "[sweep]\nwindows = [1024]\n", 2},
      {"e2llm", "plugin = \"e2llm\"\nseq_len = 64\nsteps = 1\nbatch = 6\ngmax = 4\n", "", 6},
      {"e2llm_iteration",
       "plugin = \"e2llm\"\nseq_len = 64\nsteps = 1\nbatch = 4\ng_values = [2.0, 3.5]\ng_sampling = \"iteration\"\n"
       "sink = 2\n",
       "", 4},
      {"pose", "plugin = \"pose\"\nseq_len = 64\nsteps = 1\nbatch = 4\ntarget_window = 2048\nchunks = 3\n", "", 4},
  };
  return c;
}

std::string policy_of(const Case& c) {
  return c.name.substr(0, c.name.find('_'));
}

class TrainStepOracle : public ::testing::TestWithParam<Case> {};

}  // namespace

TEST(TrainStepOracle, EveryPolicyHasACase) {
  using e2llm::llama::train::policy_name;
  using e2llm::llama::train::PolicyKind;
  std::set<std::string> covered;
  for (const auto& c : cases()) covered.insert(policy_of(c));
  int known = 0;
  for (int i = 0; std::string(policy_name(static_cast<PolicyKind>(i))) != "?"; ++i, ++known)
    EXPECT_TRUE(covered.count(policy_name(static_cast<PolicyKind>(i))))
        << "position policy '" << policy_name(static_cast<PolicyKind>(i))
        << "' has no training-step oracle case: add one to cases() and its positions to train_step_reference.py";
  EXPECT_GE(known, 3);
}

TEST_P(TrainStepOracle, OneStepEqualsTheReference) {
  const Case& c = GetParam();
  const fs::path run = train(c.name, c.keys, c.extra);
  const auto ref = reference(run);
  const auto log = jsonl(run / "train_log.jsonl");
  ASSERT_EQ(log.size(), 1u);
  ASSERT_EQ(ref["samples"], c.batch);
  const double loss = log[0]["loss"], grad_norm = log[0]["grad_norm"];
  const double ref_loss = ref["loss"], ref_norm = ref["grad_norm"];
  std::cout << "[ oracle ] " << c.name << ": loss " << loss << " vs " << ref_loss << " (relative "
            << std::abs(loss - ref_loss) / ref_loss << "), grad norm " << grad_norm << " vs " << ref_norm
            << " (relative " << std::abs(grad_norm - ref_norm) / ref_norm << "), draws " << ref["draws"].dump()
            << ", losses without " << ref["variant_losses"].dump() << "\n";
  EXPECT_NEAR(loss, ref_loss, kLossTolerance * ref_loss) << "the step's loss";
  EXPECT_NEAR(grad_norm, ref_norm, kGradNormTolerance * ref_norm) << "the gradient norm before clipping";
  EXPECT_GT(ref_norm, 1.0) << "clipping (grad_clip = 1) should be active in this step";
  double worst = 0;
  int64_t resolved = 0, elements = 0;
  for (const auto& [name, t] : ref["tensors"].items()) {
    const double diff = t["max_abs_diff"], update = t["max_update"];
    worst = std::max(worst, diff);
    EXPECT_LE(diff, kWeightTolerance) << name << " after the step; worst element " << t["worst"].dump();
    EXPECT_GT(t["resolved"].get<int64_t>(), 0) << name << ": no gradient to compare";
    EXPECT_EQ(t["unresolved_beyond_bound"], 0) << name << ": elements moved beyond AdamW's step bound";
    resolved += t["resolved"].get<int64_t>(), elements += t["numel"].get<int64_t>();
    EXPECT_GT(update, 0.5 * kLr) << name << " did not move by about lr";  // AdamW's first step: ~lr per element
  }
  // Most weights are compared exactly (the rest: embeddings of tokens the batch lacks, gradients
  // near AdamW's eps).
  EXPECT_GT(resolved, elements / 2) << resolved << " of " << elements << " elements have a resolved gradient";
  std::cout << "[ oracle ] " << c.name << ": worst |weight difference| " << worst << " over " << resolved << " of "
            << elements << " weights\n";

  // The comparison can fail: a trainer that dropped a part of the policy is far outside it.
  for (const auto& [variant, value] : ref["variant_losses"].items())
    EXPECT_GT(std::abs(value.get<double>() - ref_loss), 100 * kLossTolerance * ref_loss)
        << c.name << " " << variant << ": the loss without it is too close to tell apart";
  const std::string policy = policy_of(c);
  if (policy == "e2llm" || policy == "pi" || policy == "pose") {
    EXPECT_FALSE(ref["variant_losses"].empty());
  }
  if (policy == "e2llm") {
    std::set<double> scales;
    int64_t offsets = 0;
    for (const auto& d : ref["draws"]) scales.insert(d["g"].get<double>()), offsets += d["t"].get<int64_t>() > 0;
    EXPECT_GT(offsets, 0) << "no draw with t > 0: the offset and the sink are not exercised";
    EXPECT_GT(*scales.rbegin(), 1.0) << "no draw with g > 1";
    if (c.name == "e2llm") {
      EXPECT_GE(scales.size(), 2u) << "per-sample g should draw several scales";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Policies, TrainStepOracle, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& i) { return i.param.name; });

// Data parallel under the E²-LLM policy: each global sample gets the same draw and tokens on
// whichever rank trains it, and the steps equal one process's (uneven shares: batch 5 over
// 2 ranks × 2 micro-steps).
TEST(TrainStepOracle, TwoRanksTrainTheSameE2llmStepsAsOne) {
  const std::string keys =
      "plugin = \"e2llm\"\nseq_len = 64\nsteps = 3\nbatch = 5\ngrad_accum = 2\ngmax = 4\ncheckpoint_every = 0\n";
  const fs::path one = train("ranks-1", keys), two = train("ranks-2", keys, "", "--nproc 2");
  ASSERT_EQ(records(one).size(), 1u);
  ASSERT_EQ(records(two).size(), 2u);
  std::map<int64_t, nlohmann::json> single, merged;
  for (const auto& r : jsonl(records(one)[0])) single[r["sample"].get<int64_t>()] = r;
  for (const auto& file : records(two))
    for (const auto& r : jsonl(file)) EXPECT_TRUE(merged.emplace(r["sample"].get<int64_t>(), r).second) << r.dump();
  ASSERT_EQ(single.size(), 15u);
  ASSERT_EQ(merged.size(), single.size());
  for (const auto& [sample, r] : single) {
    const auto& m = merged.at(sample);
    EXPECT_EQ(m["g"], r["g"]) << "sample " << sample;
    EXPECT_EQ(m["t"], r["t"]) << "sample " << sample;
    EXPECT_EQ(m["ids"], r["ids"]) << "sample " << sample;
    EXPECT_EQ(m["step"], r["step"]) << "sample " << sample;
  }
  const auto a = jsonl(one / "train_log.jsonl"), b = jsonl(two / "train_log.jsonl");
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(b[i]["loss"].get<double>(), a[i]["loss"].get<double>(), 1e-5 * a[i]["loss"].get<double>()) << i;
    EXPECT_NEAR(b[i]["grad_norm"].get<double>(), a[i]["grad_norm"].get<double>(),
                1e-4 * a[i]["grad_norm"].get<double>())
        << i;
  }
  // The first step of the 2-rank run is also the reference's step.
  const auto ref = reference(two);
  EXPECT_NEAR(b[0]["loss"].get<double>(), ref["loss"].get<double>(), kLossTolerance * ref["loss"].get<double>());
}
