// The SentencePiece plugin against the real tok512.model and the spm_encode reference CLI.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../support/run_command.hpp"
#include "e2llm/error.hpp"
#include "e2llm/harness/registry.hpp"
#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;
using e2llm::testing::quote;
using e2llm::testing::run_command;

namespace {
const std::string kModel = std::string(E2LLM_SHARED_DATA) + "/models/tok512.model";

std::shared_ptr<e2llm::Tokenizer> tokenizer(const e2llm::harness::PluginRegistry& r) {
  auto t = r.make_tokenizer("sentencepiece");
  t->load(kModel);
  return t;
}

std::vector<std::int32_t> spm_encode(const std::string& text) {
  auto r = run_command("printf '%s' " + quote(text) + " | spm_encode --model " + quote(kModel) + " --output_format=id");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::int32_t> ids;
  std::istringstream in(r.out);
  for (std::int32_t id; in >> id;) ids.push_back(id);
  return ids;
}
}  // namespace

TEST(Tokenizer, EncodeMatchesSpmEncodeAndRoundTrips) {
  e2llm::harness::PluginRegistry registry({E2LLM_PLUGIN_DIR});
  auto t = tokenizer(registry);
  EXPECT_EQ(t->vocab_size(), 512);
  EXPECT_EQ(t->bos_id(), 1);
  EXPECT_EQ(t->eos_id(), 2);
  EXPECT_EQ(t->fingerprint(), "fec6aa960a1fb3ebf71d26f9b0e486afcbd76c34cf0fbfb93e21126ca9f778d3");
  for (std::string text : {"Once upon a time, there was a little girl named Lily.",
                           "The pass key is 31415. Remember it.", "Ünïcödé — bytes fall back: 日本語 ✓",
                           "  leading and   inner   spaces"}) {
    auto ids = t->encode(text);
    EXPECT_EQ(ids, spm_encode(text)) << text;
    // SentencePiece's normalizer collapses runs of spaces (spm_decode does the same).
    std::string expected = text == "  leading and   inner   spaces" ? "leading and inner spaces" : text;
    EXPECT_EQ(t->decode(ids), expected) << text;
  }
}

TEST(Tokenizer, MissingOrCorruptModelIsAClearError) {
  e2llm::harness::PluginRegistry registry({E2LLM_PLUGIN_DIR});
  auto t = registry.make_tokenizer("sentencepiece");
  EXPECT_THROW(t->load("/nonexistent.model"), e2llm::Error);
  auto bad = fs::temp_directory_path() / "e2llm-corrupt.model";
  e2llm::util::write_file_atomic(bad, "definitely not a protobuf");
  try {
    t->load(bad.string());
    FAIL();
  } catch (const e2llm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("is not a valid SentencePiece model"), std::string::npos) << e.what();
  }
  fs::remove(bad);
  EXPECT_THROW(t->encode("x"), e2llm::Error);  // nothing loaded
}

TEST(Tokenizer, TrainsAModelOnRealText) {
  // Real English text: the contexts of the shared LongBench rows.
  auto dir = fs::temp_directory_path() / ("e2llm-spm-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string corpus;
  e2llm::util::for_each_jsonl(std::string(E2LLM_SHARED_DATA) + "/longbench/rows/qasper.jsonl",
                              [&](const nlohmann::json& row, std::size_t) { corpus += row["context"].get<std::string>() + "\n"; });
  e2llm::util::write_file_atomic(dir / "corpus.txt", corpus);
  e2llm::harness::PluginRegistry registry({E2LLM_PLUGIN_DIR});
  auto t = registry.make_tokenizer("sentencepiece");
  e2llm::TokenizerTrainOptions o;
  o.inputs = {(dir / "corpus.txt").string()};
  o.vocab_size = 400;
  o.out_path = (dir / "t.model").string();
  t->train(o);
  EXPECT_EQ(t->vocab_size(), 400);
  EXPECT_TRUE(fs::exists(dir / "t.model"));
  EXPECT_FALSE(fs::exists(dir / "t.model.training"));
  std::string text = "The model is evaluated on the dataset.";
  EXPECT_EQ(t->decode(t->encode(text)), text);
  fs::remove_all(dir);
}
