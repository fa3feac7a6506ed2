#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

#include "../support/fakes.hpp"
#include "../support/language_model_conformance.hpp"
#include "corpus_builder.hpp"
#include "debian_copyright.hpp"
#include "documents.hpp"
#include "e2llm/error.hpp"
#include "e2llm/util/files.hpp"
#include "fakes.hpp"
#include "proofpile_task.hpp"

using namespace e2llm;
using namespace e2llm::proofpile;
namespace fs = std::filesystem;
using e2llm::testing::MemoryStore;

namespace {

class RecordingProgress final : public ProgressSink {
 public:
  void update(std::size_t done, std::size_t total, std::string_view) override { last_done = done, last_total = total; }
  std::size_t last_done = 0, last_total = 0;
};

fs::path scratch(const std::string& name) {
  fs::path dir = fs::path(E2LLM_BINARY_DIR) / "tests" / "proofpile_scratch" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

fs::path write_corpus(const fs::path& dir, const std::vector<std::string>& texts) {
  fs::path file = dir / "eval.jsonl";
  std::string content;
  for (std::size_t i = 0; i < texts.size(); ++i)
    content += nlohmann::json{{"text", texts[i]}, {"meta", {{"n", i}}}}.dump() + "\n";
  util::write_file_atomic(file, content);
  return file;
}

std::string config_error_of(const nlohmann::json& config) {
  ProofPileTask task;
  try {
    task.configure(config);
  } catch (const ConfigError& e) {
    return e.field() + ": " + e.what();
  }
  return "";
}

}  // namespace

TEST(ProofPileConfig, UnknownKeySuggestsTheClosest) {
  fs::path file = write_corpus(scratch("config"), {"abc"});
  std::string error = config_error_of({{"data", file.string()}, {"strid", 128}});
  EXPECT_NE(error.find("strid"), std::string::npos) << error;
  EXPECT_NE(error.find("did you mean 'stride'"), std::string::npos) << error;
}

TEST(ProofPileConfig, BadValuesNameTheField) {
  fs::path file = write_corpus(scratch("values"), {"abc"});
  EXPECT_EQ(config_error_of({{"data", file.string()}, {"aggregation", "mean"}}).rfind("aggregation:", 0), 0u);
  EXPECT_EQ(config_error_of({{"data", file.string()}, {"stride", 0}}).rfind("stride:", 0), 0u);
  EXPECT_EQ(config_error_of({{"data", file.string()}, {"truncate", -1}}).rfind("truncate:", 0), 0u);
  EXPECT_EQ(config_error_of({{"data", file.string()}, {"add_bos", "yes"}}).rfind("add_bos:", 0), 0u);
  EXPECT_EQ(config_error_of({{"data", "/nonexistent/pp.jsonl"}}).rfind("data:", 0), 0u);
  EXPECT_EQ(config_error_of(nlohmann::json::object()).rfind("data:", 0), 0u);
}

TEST(ProofPileData, BadJsonlLineNamesFileAndLine) {
  fs::path dir = scratch("badline");
  util::write_file_atomic(dir / "eval.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"broken\"\n");
  try {
    read_documents(resolve_data_files(dir));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("eval.jsonl:2"), std::string::npos) << e.what();
  }
  util::write_file_atomic(dir / "eval.jsonl", "{\"text\": \"ok\"}\n\n{\"meta\": {}}\n");
  try {
    read_documents(resolve_data_files(dir));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("eval.jsonl:3: row has no string field \"text\""), std::string::npos)
        << e.what();
  }
}

TEST(ProofPileData, FolderWithoutEvalReadsEveryJsonlInOrder) {
  fs::path dir = scratch("folder");
  util::write_file_atomic(dir / "b.jsonl", "{\"text\": \"second\"}\n");
  util::write_file_atomic(dir / "a.jsonl", "{\"text\": \"first\", \"meta\": {\"k\": 1}}\n");
  auto docs = read_documents(resolve_data_files(dir));
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].text, "first");
  EXPECT_EQ(docs[0].id, "a.jsonl:1");
  EXPECT_EQ(docs[0].meta["k"], 1);
  EXPECT_EQ(docs[1].id, "b.jsonl:1");
}

TEST(ProofPileTask, EvaluatesFiltersTruncatesAndResumes) {
  fs::path dir = scratch("evaluate");
  // Byte tokenizer + BOS: lengths 1 + bytes.
  std::string long_a(100, 'a'), long_b(50, 'b'), short_c(5, 'c');
  write_corpus(dir, {long_a, short_c, long_b});
  ProofPileTask task;
  task.configure({{"data", dir.string()}, {"min_tokens", 20}, {"stride", 8}, {"max_documents", 0}});
  fakes::ContextProbeModel model(32);
  MemoryStore store;
  RecordingProgress progress;
  EvalContext ctx;
  ctx.window = 32;
  ctx.samples = &store;
  ctx.progress = &progress;
  CellResult r = task.evaluate(model, ctx);
  EXPECT_EQ(r.metrics["documents"], 2);
  EXPECT_EQ(r.details["documents_filtered_short"], 1);
  EXPECT_EQ(r.details["truncate"], 32);  // truncate = 0 means the window
  // Each document keeps its first 32 tokens (BOS + 31 bytes): 31 scored each.
  EXPECT_EQ(r.metrics["tokens"], 62);
  ASSERT_EQ(r.samples.size(), 2u);
  EXPECT_EQ(r.samples[0]["id"], "eval.jsonl:1");
  EXPECT_EQ(r.samples[0]["tokens_document"], 101);
  EXPECT_EQ(r.samples[1]["id"], "eval.jsonl:3");
  EXPECT_EQ(progress.last_done, progress.last_total);

  // Closed form from the fake model: one window per document, token j (j = 1..31) scored
  // with j tokens of context, -log p = log 259 + 0.001 * id + 1 / (j + 1); 'a' is id 100, 'b'
  // id 101.
  auto document_nll = [](int id) {
    double sum = 0;
    for (int j = 1; j <= 31; ++j) sum += double(float(std::log(259.0) + 0.001 * id + 1.0 / (j + 1)));
    return sum;
  };
  const double nll_a = document_nll(100), nll_b = document_nll(101);
  EXPECT_NEAR(r.samples[0]["nll_sum"].get<double>(), nll_a, 1e-6);
  EXPECT_NEAR(r.samples[1]["nll_sum"].get<double>(), nll_b, 1e-6);
  const double ppl = std::exp((nll_a + nll_b) / 62.0), ppl_doc = (std::exp(nll_a / 31) + std::exp(nll_b / 31)) / 2.0;
  EXPECT_NEAR(r.metrics["ppl"].get<double>(), ppl, 1e-8 * ppl);
  EXPECT_NEAR(r.metrics["ppl_mean_doc"].get<double>(), ppl_doc, 1e-8 * ppl_doc);
  EXPECT_EQ(r.details["tokenizer"]["fingerprint"], "byte-tokenizer");
  EXPECT_EQ(r.details["aggregation"], "token_weighted");

  // A second run with the same store scores nothing again and gives the same numbers.
  fakes::ContextProbeModel fresh(32);
  CellResult again = task.evaluate(fresh, ctx);
  EXPECT_TRUE(fresh.calls.empty());
  EXPECT_EQ(again.metrics, r.metrics);

  // A half-done cell: only the missing document is scored.
  store.rows.erase("eval.jsonl:3");
  fakes::ContextProbeModel half(32);
  CellResult resumed = task.evaluate(half, ctx);
  EXPECT_FALSE(half.calls.empty());
  EXPECT_EQ(resumed.metrics, r.metrics);
}

TEST(ProofPileTask, ExplicitTruncateLongerThanTheWindowSlides) {
  fs::path dir = scratch("truncate");
  write_corpus(dir, {std::string(200, 'x')});
  ProofPileTask task;
  task.configure({{"data", dir.string()}, {"truncate", 100}, {"stride", 16}, {"aggregation", "mean_of_window_means"}});
  fakes::ContextProbeModel model(32);
  EvalContext ctx;
  ctx.window = 32;
  CellResult r = task.evaluate(model, ctx);
  EXPECT_EQ(r.metrics["tokens"], 99);
  EXPECT_EQ(r.details["aggregation"], "mean_of_window_means");
  // Windows start at 0, 16, 32, 48, 64, 80 (80 + 32 >= 100 ends the loop).
  EXPECT_EQ(r.samples[0]["windows"], 6);
  // Mean of window means from the protocol and the fake's closed form ('x' is id 123): window
  // k starts at b = 16k, scores [max(end_{k-1}, 1), min(b + 32, 100)), token t with t - b
  // tokens of context.
  double sum_of_means = 0;
  for (int b = 0, prev_end = 0; prev_end < 100; b += 16) {
    const int end = std::min(b + 32, 100);
    double nll = 0;
    for (int t = std::max(prev_end, 1); t < end; ++t) nll += std::log(259.0) + 0.123 + 1.0 / (t - b + 1);
    sum_of_means += nll / (end - std::max(prev_end, 1));
    prev_end = end;
  }
  EXPECT_NEAR(r.metrics["ppl"].get<double>(), std::exp(sum_of_means / 6.0), 1e-7 * std::exp(sum_of_means / 6.0));
}

TEST(ProofPileTask, FingerprintFollowsConfigAndData) {
  fs::path dir = scratch("fingerprint");
  write_corpus(dir, {"one document"});
  ProofPileTask a, b, c;
  a.configure({{"data", dir.string()}});
  b.configure({{"data", dir.string()}, {"stride", 128}});
  EXPECT_NE(a.fingerprint(), b.fingerprint());
  std::string before = a.fingerprint();
  write_corpus(dir, {"another document"});
  c.configure({{"data", dir.string()}});
  EXPECT_NE(before, c.fingerprint());
}

TEST(ProofPileTask, StrideLargerThanWindowIsAnError) {
  fs::path dir = scratch("stride");
  write_corpus(dir, {std::string(100, 'x')});
  ProofPileTask task;
  task.configure({{"data", dir.string()}});  // stride 256
  fakes::ContextProbeModel model(64);
  EvalContext ctx;
  ctx.window = 64;
  EXPECT_THROW(task.evaluate(model, ctx), ConfigError);
}

// The sweep's failing case: stride = the smallest window (non-overlapping windows) against
// a model that refuses to score a window's first token, as the LibTorch model does.
TEST(ProofPileTask, StrideEqualToTheWindowScoresEveryToken) {
  fs::path dir = scratch("stride_eq");
  write_corpus(dir, {std::string(300, 'a'), std::string(90, 'b')});
  ProofPileTask task;
  task.configure({{"data", dir.string()}, {"stride", 64}, {"truncate", 300}});
  fakes::ContextProbeModel model(64);
  EvalContext ctx;
  ctx.window = 64;
  RecordingProgress progress;
  ctx.progress = &progress;
  CellResult r = task.evaluate(model, ctx);
  EXPECT_EQ(r.metrics["tokens"], (300 - 1) + (91 - 1));  // BOS + text (truncated to 300), all but token 0
  EXPECT_EQ(progress.last_done, progress.last_total);
  for (const auto& call : model.calls) EXPECT_GE(call.score_from, 1u);
}

// Fixed text (the default in a sweep): every window scores the same first N tokens of each
// document, N = the sweep's largest window, so columns compare the same text.
TEST(ProofPileTask, FixedTextScoresTheSameTokensAtEveryWindow) {
  fs::path dir = scratch("fixed_text");
  write_corpus(dir, {std::string(500, 'a'), std::string(150, 'b')});
  ProofPileTask task;
  task.configure({{"data", dir.string()}, {"stride", 32}, {"max_documents", 0}});
  task.set_sweep({{64, 128, 256}, 64});
  std::map<std::int64_t, std::int64_t> tokens;
  for (std::int64_t w : {64, 128, 256}) {
    fakes::ContextProbeModel model(w);
    EvalContext ctx;
    ctx.window = w;
    CellResult r = task.evaluate(model, ctx);
    EXPECT_EQ(r.details["truncate"], 256);
    EXPECT_EQ(r.details["truncation"], "fixed");
    tokens[w] = r.metrics["tokens"].get<std::int64_t>();
    for (const auto& call : model.calls) EXPECT_LE(std::int64_t(call.length), w);
  }
  EXPECT_EQ(tokens[64], (256 - 1) + (151 - 1));  // both documents' first 256 tokens (BOS included)
  EXPECT_EQ(tokens[128], tokens[64]);
  EXPECT_EQ(tokens[256], tokens[64]);

  // The largest window decides the text, so it is part of the fingerprint.
  ProofPileTask other;
  other.configure({{"data", dir.string()}, {"stride", 32}, {"max_documents", 0}});
  other.set_sweep({{64, 128, 512}, 64});
  EXPECT_NE(other.fingerprint(), task.fingerprint());

  // "per_window" keeps the old protocol: the first W tokens at window W.
  ProofPileTask per;
  per.configure({{"data", dir.string()}, {"stride", 32}, {"max_documents", 0}, {"truncation", "per_window"}});
  per.set_sweep({{64, 128, 256}, 64});
  fakes::ContextProbeModel model(64);
  EvalContext ctx;
  ctx.window = 64;
  EXPECT_EQ(per.evaluate(model, ctx).metrics["tokens"], 2 * 63);
}

TEST(ProofPileTask, TruncateBelowTheLargestWindowNamesBothNumbers) {
  fs::path dir = scratch("fixed_small");
  write_corpus(dir, {std::string(100, 'a')});
  ProofPileTask task;
  task.configure({{"data", dir.string()}, {"truncate", 300}});
  try {
    task.set_sweep({{256, 512}, 256});
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "truncate");
    EXPECT_NE(std::string(e.what()).find("300"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("512"), std::string::npos) << e.what();
  }
  EXPECT_EQ(config_error_of({{"data", dir.string()}, {"truncation", "per_window"}, {"truncate", 512}}).rfind("truncate:", 0), 0u);
  EXPECT_EQ(config_error_of({{"data", dir.string()}, {"truncation", "window"}}).rfind("truncation:", 0), 0u);
}

TEST(ProofPileDebianCopyright, LastMatchingParagraphWins) {
  const std::string text =
      "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
      "Upstream-Name: x\n\n"
      "Files: *\nCopyright: 1998 A\nLicense: BSD-2-clause\n\n"
      "Files: Jordan/float.ml\n Other/*.ml\nCopyright: B\nLicense: GPL-3\n This program is free software\n\n"
      "License: BSD-2-clause\n Redistribution and use ...\n";
  auto c = parse_debian_copyright(text);
  EXPECT_TRUE(c.machine_readable);
  EXPECT_EQ(c.license_of("lib.ml"), "BSD-2-clause");
  EXPECT_EQ(c.license_of("Jordan/float.ml"), "GPL-3");
  EXPECT_EQ(c.license_of("Other/deep/x.ml"), "GPL-3");  // '*' crosses '/'
  EXPECT_EQ(c.licenses(), (std::vector<std::string>{"BSD-2-clause", "GPL-3"}));
  EXPECT_FALSE(parse_debian_copyright("This package was debianized by ...\n\nGPL\n").machine_readable);
  EXPECT_TRUE(dep5_match("a?c", "abc"));
  EXPECT_FALSE(dep5_match("a?c", "ac"));
}

TEST(ProofPileCorpusSplit, DeterministicAndNearTheFraction) {
  EXPECT_EQ(split_key("hol-light", "usr/share/hol-light/lib.ml"), split_key("hol-light", "usr/share/hol-light/lib.ml"));
  EXPECT_NE(selection_key(0, "hol-light", "a"), selection_key(1, "hol-light", "a"));
  int held_out = 0;
  for (int i = 0; i < 10000; ++i) held_out += is_eval_document(split_key("p", std::to_string(i)), 0.1);
  EXPECT_NEAR(held_out, 1000, 120);
  EXPECT_TRUE(is_eval_document("00000000ffff", 0.1));
  EXPECT_FALSE(is_eval_document("ffffffff0000", 0.1));
}

TEST(ProofPileCorpusRequest, UnknownPackageAndKeysAreErrors) {
  EXPECT_THROW(parse_corpus_request({{"out", "x"}, {"packages", {"hol-lite"}}}), ConfigError);
  try {
    parse_corpus_request({{"out", "x"}, {"max_byte", 5}});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'max_bytes'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_corpus_request({{"out", "x"}, {"max_bytes", -1}}), ConfigError);
  EXPECT_THROW(parse_corpus_request({{"out", "x"}, {"eval_fraction", 1.0}}), ConfigError);
  EXPECT_THROW(parse_corpus_request(nlohmann::json::object()), ConfigError);  // out is required
  auto r = parse_corpus_request({{"out", "x"}});
  EXPECT_EQ(r.packages.size(), 3u);
}

// The test double keeps the LanguageModel contract as strictly as the LibTorch model.
TEST(ProofPileTask, ContextProbeModelKeepsTheLanguageModelContract) {
  fakes::ContextProbeModel model(32);
  e2llm::testing::expect_language_model_contract(model);
}
