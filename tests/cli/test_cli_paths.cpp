// Paths of the binary the other CLI tests leave out, against outside references
// (paths_oracle.py, built on oracle.py's numpy LLaMA and SentencePiece BPE):
// - every way `e2llm data proofpile` can fail — no package tool, a failed download, a download
//   that leaves no .deb, a corrupt .deb, no copyright file, a licence that changed, a free-text
//   copyright nobody reviewed, a file no licence covers, a changed package layout, a full disk
//   (the file-size limit), a split with an empty side, bad arguments: exit 1 (2 for usage), one
//   line naming what and what to do, nothing on stdout, no output folder or temp folder left,
//   and a corpus built before left as it was;
// - `tokenizer decode` against the GGUF's pieces; a successful `tokenizer train` whose .model
//   (read from its protobuf) encodes like SentencePiece's BPE says and e2llm encodes;
// - sampling (`generate --temperature --top-p --seed`): every token inside the reference
//   model's nucleus, the likelihood of the sampled tokens as sampling at that temperature
//   predicts, seeds reproducible.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
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

const fs::path kSource = E2LLM_SOURCE_DIR;
const fs::path kModels = fs::path(E2LLM_SHARED_DATA) / "models";
const fs::path kGguf = kModels / "stories260K.gguf";
const fs::path kTok = kModels / "tok512.model";
const std::string kExe = E2LLM_EXE;

struct Scratch {
  fs::path path;
  explicit Scratch(const std::string& name)
      : path(fs::path(E2LLM_BINARY_DIR) / "tests" / "cli" / (name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~Scratch() { fs::remove_all(path); }
};

std::string oracle(const std::string& args) {
  const std::string command = quote((kSource / ".venv/bin/python").string()) + " " +
                              quote((kSource / "tests/cli/paths_oracle.py").string()) + " " + args;
  auto r = run_command(command);
  EXPECT_EQ(r.exit_code, 0) << command << "\n" << r.err;
  return r.out;
}

int lines(const std::string& s) {
  return int(std::count(s.begin(), s.end(), '\n'));
}

std::vector<int> ints(const std::string& text) {
  std::vector<int> out;
  std::istringstream in(text);
  for (int v; in >> v;) out.push_back(v);
  return out;
}

// ---- e2llm data proofpile: failures ---------------------------------------------------------

struct DataFailure {
  std::string name;     // paths_oracle.py proofpile-debs variant, or a case of its own
  std::string variant;  // the packages to build ("" = none)
  std::string command;  // shell prefix and arguments around `e2llm data proofpile --out OUT`
  std::string expect;   // a phrase of the one line
  int code = 1;
};

void PrintTo(const DataFailure& f, std::ostream* os) {
  *os << f.name;
}

class DataProofpileFailure : public ::testing::TestWithParam<DataFailure> {};

}  // namespace

TEST_P(DataProofpileFailure, IsOneLineAndWritesNothing) {
  const DataFailure& f = GetParam();
  Scratch dir("data-fail-" + f.name);
  if (!f.variant.empty()) oracle("proofpile-debs " + quote((dir.path / "debs").string()) + " " + f.variant);
  fs::create_directories(dir.path / "empty-path");
  const fs::path out = dir.path / "corpus";
  std::string command = f.command;
  auto put = [&](const std::string& key, const std::string& value) {
    for (size_t at; (at = command.find(key)) != std::string::npos;) command.replace(at, key.size(), value);
  };
  put("{debs}", quote((dir.path / "debs/bin").string()));
  put("{empty}", quote((dir.path / "empty-path").string()));
  put("{exe}", quote(kExe));
  put("{out}", quote(out.string()));
  const auto r = run_command(command);
  EXPECT_EQ(r.exit_code, f.code) << command << "\n" << r.err;
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(f.expect), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "") << r.out;
  EXPECT_FALSE(fs::exists(out)) << "a failed build left " << out;
  EXPECT_FALSE(fs::exists(dir.path / "corpus.tmp")) << "a failed build left corpus.tmp";
}

const std::string kRun = "PATH={debs}:\"$PATH\" {exe} data proofpile --out {out} --seed 5 --max-bytes 700";

INSTANTIATE_TEST_SUITE_P(
    Cases, DataProofpileFailure,
    ::testing::Values(
        DataFailure{"no_package_tool", "", "PATH={empty} {exe} data proofpile --out {out}",
                    "apt-get and dpkg-deb are needed"},
        DataFailure{"download_fails", "download-fails", kRun,
                    "apt-get download pari-doc failed (exit 100): E: Unable to locate package pari-doc"},
        DataFailure{"no_deb", "no-deb", kRun, "apt-get download pari-doc reported success but left no .deb"},
        DataFailure{"corrupt_deb", "corrupt-deb", kRun, "Version failed"},
        DataFailure{"no_copyright", "no-copyright", kRun,
                    "package pari-doc has no /usr/share/doc/pari-doc/copyright: cannot establish its licence"},
        DataFailure{"licence_drift", "licence-drift", kRun,
                    "no longer says \"any later\": its licence may have changed"},
        DataFailure{"free_text_copyright", "free-text-copyright", kRun,
                    "the copyright file of hol-light is not machine-readable (DEP-5) and no licence is declared"},
        DataFailure{"uncovered_file", "uncovered-file", kRun,
                    "no Files: paragraph of /usr/share/doc/libcoq-stdlib/copyright (libcoq-stdlib) covers "
                    "theories/Arith/PeanoNat.v"},
        DataFailure{"layout_changed", "layout-changed", kRun, "has no /usr/share/pari/doc: its layout changed"},
        // The file-size limit stands in for a full disk (e2llm ignores SIGXFSZ: the write fails).
        // (/bin/sh counts 512-byte blocks: the stand-in .debs, ~1.1 kB, fit; train.jsonl does not.)
        DataFailure{"disk_full", "ok", "ulimit -f 3 && PATH={debs}:\"$PATH\" {exe} data proofpile --out {out}",
                    "check free space"},
        DataFailure{"empty_split", "ok", "PATH={debs}:\"$PATH\" {exe} data proofpile --out {out} --max-bytes 40",
                    "the split left"},
        DataFailure{"unknown_task", "", "{exe} data nosuchtask --out {out}", "nosuchtask"},
        DataFailure{"negative_seed", "ok", "PATH={debs}:\"$PATH\" {exe} data proofpile --out {out} --seed -1",
                    "e2llm data proofpile: --seed: must be >= 0"}),
    [](const ::testing::TestParamInfo<DataFailure>& i) { return i.param.name; });

// A failed rebuild leaves the corpus built before as it was.
TEST(DataProofpile, AFailedRebuildKeepsTheEarlierCorpus) {
  Scratch dir("data-rebuild");
  oracle("proofpile-debs " + quote((dir.path / "good").string()) + " ok");
  oracle("proofpile-debs " + quote((dir.path / "bad").string()) + " licence-drift");
  const fs::path out = dir.path / "corpus";
  auto good = run_command("PATH=" + quote((dir.path / "good/bin").string()) + ":\"$PATH\" " + kExe +
                          " data proofpile --out " + quote(out.string()) + " --seed 5 --max-bytes 700");
  ASSERT_EQ(good.exit_code, 0) << good.err;
  const std::string manifest = e2llm::util::read_file(out / "MANIFEST.json");
  const std::string eval = e2llm::util::read_file(out / "eval.jsonl");
  auto bad = run_command("PATH=" + quote((dir.path / "bad/bin").string()) + ":\"$PATH\" " + kExe +
                         " data proofpile --out " + quote(out.string()) + " --seed 6 --max-bytes 700");
  EXPECT_EQ(bad.exit_code, 1) << bad.err;
  EXPECT_EQ(e2llm::util::read_file(out / "MANIFEST.json"), manifest);
  EXPECT_EQ(e2llm::util::read_file(out / "eval.jsonl"), eval);
  EXPECT_FALSE(fs::exists(dir.path / "corpus.tmp"));
  auto full = run_command("ulimit -f 3 && PATH=" + quote((dir.path / "good/bin").string()) + ":\"$PATH\" " + kExe +
                          " data proofpile --out " + quote(out.string()) + " --seed 7");
  EXPECT_EQ(full.exit_code, 1) << full.err;
  EXPECT_EQ(e2llm::util::read_file(out / "MANIFEST.json"), manifest);
}

// ---- tokenizer decode and train --------------------------------------------------------------

// `tokenizer decode` prints the text the GGUF's pieces give (tok512.model is stories260K's
// vocabulary), byte pieces and the leading-space rule included; it inverts `tokenizer encode`.
TEST(CliPaths, TokenizerDecodeEqualsTheVocabularysPieces) {
  const std::string text = "Once upon a time, Lily found a caf\u00e9 \u2014 na\u00efve and happy.";
  auto enc = run_command(kExe + " tokenizer encode --model " + quote(kTok.string()) + " " + quote(text));
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  const auto ids = ints(enc.out);
  ASSERT_GT(ids.size(), 10u);
  EXPECT_TRUE(std::any_of(ids.begin(), ids.end(), [](int id) { return id >= 3 && id < 259; }))
      << "the text should need byte pieces (é, —, ï)";
  std::vector<std::vector<int>> cases = {ids, {400, 300, 260, 450, 299, 511}, {263, 264, 265, 300, 301, 302, 303}};
  for (const auto& c : cases) {
    std::string args;
    for (int id : c) args += " " + std::to_string(id);
    auto dec = run_command(kExe + " tokenizer decode --model " + quote(kTok.string()) + args);
    ASSERT_EQ(dec.exit_code, 0) << dec.err;
    const auto want = json::parse(oracle("decode " + quote(kGguf.string()) + args)).get<std::string>();
    EXPECT_EQ(dec.out, want + "\n") << args;
  }
  auto round = run_command(kExe + " tokenizer decode --model " + quote(kTok.string()) + " " + enc.out);
  EXPECT_EQ(round.out, text + "\n");
  auto bad = run_command(kExe + " tokenizer decode --model " + quote(kTok.string()) + " 1 x 2");
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_EQ(lines(bad.err), 1) << bad.err;
}

// A successful `tokenizer train`: the .model holds the requested vocabulary and model type, and
// e2llm encodes held-out text as SentencePiece's BPE does with the pieces and scores in it.
TEST(CliPaths, TokenizerTrainWritesAModelThatEncodesAsItsPiecesSay) {
  Scratch dir("train-tok");
  const char* names[] = {"Lily", "Tom", "Sue", "Ben", "Max", "Amy", "Tim", "Mia"};
  const char* acts[] = {"played with", "found", "saw", "wanted", "liked", "made"};
  const char* things[] = {"a ball", "the cat", "a big tree", "some cake", "a red boat", "the bird"};
  std::string corpus;
  for (int i = 0; i < 400; ++i)
    corpus += std::string(names[i % 8]) + " " + acts[(i / 8) % 6] + " " + things[(i * 5) % 6] + " in the park. " +
              (i % 3 == 0 ? "They were happy.\n" : "It was fun.\n");
  e2llm::util::write_file_atomic(dir.path / "corpus.txt", corpus);
  const fs::path model = dir.path / "tok.model";
  auto r = run_command(kExe + " tokenizer train --input " + quote((dir.path / "corpus.txt").string()) +
                       " --vocab-size 400 --out " + quote(model.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(vocab 400,"), std::string::npos) << r.out;
  ASSERT_TRUE(fs::exists(model));
  const std::string text = "Mia liked the bird in the park. Ben made a big tree. It was fun.";
  e2llm::util::write_file_atomic(dir.path / "held-out.txt", text);
  const auto want =
      json::parse(oracle("spm-model " + quote(model.string()) + " " + quote((dir.path / "held-out.txt").string())));
  EXPECT_EQ(want["vocab_size"], 400);
  EXPECT_EQ(want["trainer_vocab_size"], 400);
  EXPECT_EQ(want["model_type"], "bpe");
  auto enc = run_command(kExe + " tokenizer encode --model " + quote(model.string()) + " " + quote(text));
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  EXPECT_EQ(json(ints(enc.out)), want["ids"]);
  EXPECT_LT(want["ids"].size(), text.size() / 2) << "the trained merges should compress the text";
  auto dec = run_command(kExe + " tokenizer decode --model " + quote(model.string()) + " " + enc.out);
  EXPECT_EQ(dec.out, text + "\n");
}

// ---- sampling ----------------------------------------------------------------------------------

namespace {

// `generate --json` from "Once upon a time" with the sampling flags; one run per seed.
json sample_runs(const std::string& flags, int seeds, int tokens) {
  json runs = json::array();
  for (int seed = 1; seed <= seeds; ++seed) {
    auto r = run_command(kExe + " generate --model " + quote(kGguf.string()) + " --tokenizer " + quote(kTok.string()) +
                         " --prompt 'Once upon a time' --max-new-tokens " + std::to_string(tokens) + " " + flags +
                         " --seed " + std::to_string(seed) + " --json");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    runs.push_back(json::parse(r.out));
  }
  return runs;
}

}  // namespace

// Every sampled token lies in the nucleus of the reference model's distribution at that
// temperature, and the log-likelihood of the sampled tokens under it matches its expectation
// (z within ±4.5 over a few hundred tokens): a sampler that ignored the temperature or the
// nucleus, or sampled from the wrong distribution, lands far outside.
TEST(CliPaths, SamplingDrawsFromTheTemperedNucleus) {
  Scratch dir("sampling");
  struct Setting {
    std::string flags;
    double temperature, top_p;
  };
  for (const Setting& s :
       {Setting{"--temperature 0.8 --top-p 0.9", 0.8, 0.9}, Setting{"--temperature 1.5 --top-p 1", 1.5, 1.0},
        Setting{"--temperature 1 --top-p 0.5", 1.0, 0.5}}) {
    SCOPED_TRACE(s.flags);
    const json runs = sample_runs(s.flags, 6, 60);
    e2llm::util::write_file_atomic(dir.path / "runs.json", runs.dump());
    const auto got =
        json::parse(oracle("sampling " + quote(kGguf.string()) + " " + quote((dir.path / "runs.json").string()) + " " +
                           std::to_string(s.temperature) + " " + std::to_string(s.top_p)));
    std::cout << "[ sampling ] " << s.flags << ": " << got["steps"] << " tokens, z " << got["z"] << ", borderline "
              << got["borderline"] << "\n";
    EXPECT_GE(got["steps"].get<int>(), 200);
    EXPECT_TRUE(got["outside"].empty()) << got["outside"].dump();
    EXPECT_LT(std::abs(got["z"].get<double>()), 4.5) << got.dump();
  }
}

TEST(CliPaths, SamplingIsReproducibleBySeedAndGreedyAtTemperatureZero) {
  const json a = sample_runs("--temperature 1 --top-p 0.95", 2, 40),
             b = sample_runs("--temperature 1 --top-p 0.95", 2, 40);
  EXPECT_EQ(a, b) << "the same seed must give the same tokens";
  EXPECT_NE(a[0]["new_ids"], a[1]["new_ids"]) << "seeds 1 and 2 gave the same 40 tokens";
  const json greedy = sample_runs("--temperature 0", 2, 40);
  EXPECT_EQ(greedy[0]["new_ids"], greedy[1]["new_ids"]) << "greedy decoding does not depend on the seed";
  auto text = run_command(kExe + " generate --model " + quote(kGguf.string()) + " --tokenizer " + quote(kTok.string()) +
                          " --prompt 'Once upon a time' --max-new-tokens 40 --temperature 0");
  EXPECT_EQ(text.out, greedy[0]["text"].get<std::string>() + "\n") << "--json carries the text generate prints";
}
