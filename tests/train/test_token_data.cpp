// Token data: BOS-joined documents packed into R + 1 rows, split by document, cached by hash.
// The SentencePiece plugin is loaded at runtime (never linked: docs/pitfalls.md, "SentencePiece and LibTorch").
#include <gtest/gtest.h>

#include <boost/dll/shared_library.hpp>
#include <filesystem>
#include <fstream>
#include <memory>

#include "e2llm/backend.hpp"
#include "e2llm/error.hpp"
#include "e2llm/llama/train/token_data.hpp"
#include "e2llm/plugin.hpp"
#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;
using namespace e2llm::llama::train;

namespace {
struct LoadedTokenizer {
  boost::dll::shared_library lib;
  std::shared_ptr<e2llm::Tokenizer> tok;
};
LoadedTokenizer load_tokenizer() {
  LoadedTokenizer t;
  t.lib = boost::dll::shared_library(E2LLM_PLUGIN_DIR "/libe2llm_tokenizer_sentencepiece.so",
                                     boost::dll::load_mode::rtld_deepbind | boost::dll::load_mode::rtld_local);
  auto entry = t.lib.get<const e2llm::PluginDescriptor*()>("e2llm_plugin_descriptor");
  t.tok.reset(static_cast<e2llm::Tokenizer*>(entry()->create()));
  t.tok->load(E2LLM_SHARED_DATA "/models/tok512.model");
  return t;
}
fs::path temp_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("e2llm-test-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}
}  // namespace

TEST(TokenData, PacksDocumentsWithBosAndSplitsByDocument) {
  auto t = load_tokenizer();
  const auto dir = temp_dir("data");
  std::string jsonl;
  std::vector<std::string> docs;
  for (int i = 0; i < 20; ++i) {
    docs.push_back("Once upon a time there was a little girl number " + std::to_string(i) + ". She liked the park.");
    jsonl += nlohmann::json{{"text", docs.back()}}.dump() + "\n";
  }
  e2llm::util::write_file_atomic(dir / "c.jsonl", jsonl);
  DataOptions o;
  o.corpus = {dir / "c.jsonl"};
  o.seq_len = 16;
  o.val_fraction = 0.1;
  o.cache_dir = dir / "cache";
  const auto ds = load_or_build_dataset(o, *t.tok);
  EXPECT_EQ(ds.meta["dtype"], "uint16");
  EXPECT_EQ(ds.meta["documents"], 20);
  EXPECT_EQ(ds.meta["val_documents"], (std::vector<int>{9, 19}));  // evenly spaced, 10%
  // The expected train stream: BOS + tokens of every training document.
  std::vector<int64_t> stream;
  for (int i = 0; i < 20; ++i) {
    if (i == 9 || i == 19) continue;
    stream.push_back(t.tok->bos_id());
    for (int32_t id : t.tok->encode(docs[i])) stream.push_back(id);
  }
  ASSERT_EQ(ds.train.size(), static_cast<int64_t>(stream.size()) / 17);
  std::vector<int64_t> row(17);
  for (int64_t s = 0; s < ds.train.size(); ++s) {
    ds.train.read(s, row.data());
    for (int i = 0; i < 17; ++i) ASSERT_EQ(row[i], stream[s * 17 + i]);
  }
  EXPECT_GE(ds.val.size(), 1);
  // Cached: same folder, not rebuilt; another R is another dataset.
  const auto mtime = fs::last_write_time(ds.dir / "train.bin");
  const auto again = load_or_build_dataset(o, *t.tok);
  EXPECT_EQ(again.dir, ds.dir);
  EXPECT_EQ(fs::last_write_time(again.dir / "train.bin"), mtime);
  o.seq_len = 8;
  EXPECT_NE(dataset_hash(o, *t.tok), ds.hash);
  fs::remove_all(dir);
}

TEST(TokenData, TooSmallCorpusIsAnActionableError) {
  auto t = load_tokenizer();
  const auto dir = temp_dir("small");
  e2llm::util::write_file_atomic(dir / "a.txt", "tiny");
  DataOptions o;
  o.corpus = {dir / "a.txt"};
  o.seq_len = 512;
  o.val_fraction = 0;
  o.cache_dir = dir / "cache";
  try {
    load_or_build_dataset(o, *t.tok);
    FAIL();
  } catch (const e2llm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("lower seq_len"), std::string::npos) << e.what();
  }
  o.corpus = {dir / "missing.txt"};
  EXPECT_THROW(load_or_build_dataset(o, *t.tok), e2llm::Error);
  fs::remove_all(dir);
}
