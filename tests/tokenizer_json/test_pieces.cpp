// The pieces of the hf-json tokenizer: hand-checked regex splits, the byte map, lossy UTF-8,
// the one-line errors for what is not supported, and the plugin's BOS/EOS and round trips.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "e2llm/bpe/pretokenize.hpp"
#include "e2llm/bpe/unicode.hpp"
#include "e2llm/error.hpp"
#include "e2llm/harness/registry.hpp"
#include "e2llm/util/files.hpp"
#include "tokenizer_json.hpp"

namespace fs = std::filesystem;
using namespace e2llm::bpe;
using namespace e2llm::hfjson;

namespace {

const fs::path kData = fs::path(E2LLM_SOURCE_DIR) / "tests/data/tokenizers";

std::vector<std::string> split_all(KnownRegex regex, const std::string& text) {
  std::vector<std::string> out;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t end = match_known_regex(regex, text, pos);
    out.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

std::string error_of(const std::string& json_text) {
  try {
    TokenizerJson t(json_text);
  } catch (const e2llm::Error& e) {
    return e.what();
  }
  return "";
}

std::shared_ptr<e2llm::Tokenizer> load(const e2llm::harness::PluginRegistry& registry, const fs::path& path) {
  auto t = registry.make_tokenizer("hf-json");
  t->load(path.string());
  return t;
}

const char* kMinimalBpe = R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}})";

}  // namespace

TEST(TokenizerJsonPieces, Gpt2RegexSplits) {
  using V = std::vector<std::string>;
  EXPECT_EQ(split_all(KnownRegex::gpt2, "Hello world's  end\n"), (V{"Hello", " world", "'s", " ", " end", "\n"}));
  EXPECT_EQ(split_all(KnownRegex::gpt2, "x  \t y"), (V{"x", "  \t", " y"}));
  EXPECT_EQ(split_all(KnownRegex::gpt2, "a1b2 !!? 'S"), (V{"a", "1", "b", "2", " !!?", " '", "S"}));
  EXPECT_EQ(split_all(KnownRegex::gpt2, "\u00e9t\u00e9 123"), (V{"\u00e9t\u00e9", " 123"}));
}

TEST(TokenizerJsonPieces, Llama3AndQwen2RegexSplits) {
  using V = std::vector<std::string>;
  EXPECT_EQ(split_all(KnownRegex::llama3, "I'LL pay 12345!!\n\n  x"),
            (V{"I", "'LL", " pay", " ", "123", "45", "!!\n\n", " ", " x"}));
  EXPECT_EQ(split_all(KnownRegex::qwen2, "12345"), (V{"1", "2", "3", "4", "5"}));
  // A punctuation or space character glues onto the letters after it; a line break does not.
  EXPECT_EQ(split_all(KnownRegex::llama3, "(hi)\thello\nworld"), (V{"(hi", ")", "\thello", "\n", "world"}));
  // (?i:'s) also takes the long s, which case-folds to s.
  EXPECT_EQ(split_all(KnownRegex::llama3, "x'\u017f y'S"), (V{"x", "'\u017f", " y", "'S"}));
}

TEST(TokenizerJsonPieces, ByteMapIsABijection) {
  for (int b = 0; b < 256; ++b) {
    const std::string& s = byte_to_unicode(static_cast<unsigned char>(b));
    std::size_t len;
    EXPECT_EQ(unicode_to_byte(decode_at(s, 0, len)), b);
    EXPECT_EQ(len, s.size());
  }
  EXPECT_EQ(byte_to_unicode(' '), "\u0120");  // the familiar "Ġ"
  EXPECT_EQ(unicode_to_byte(U'\u0120'), ' ');
  EXPECT_EQ(unicode_to_byte(U'\u0144'), -1);
}

TEST(TokenizerJsonPieces, LossyUtf8ReplacesMaximalSubparts) {
  EXPECT_EQ(utf8_lossy("a\xE4\xB8"), "a\uFFFD");
  EXPECT_EQ(utf8_lossy("\x80\x80"), "\uFFFD\uFFFD");
  EXPECT_EQ(utf8_lossy("\xF0\x9F\x98z"), "\uFFFDz");
  EXPECT_EQ(utf8_lossy("\xED\xA0\x80"), "\uFFFD\uFFFD\uFFFD");  // an encoded surrogate
  EXPECT_EQ(utf8_lossy("\xC0\xAF"), "\uFFFD\uFFFD");
  EXPECT_EQ(utf8_lossy("ok \xE2\x82\xAC"), "ok \u20AC");
}

TEST(TokenizerJsonPieces, UnsupportedComponentsNameTheTypeAndTheSupportedOnes) {
  std::string e = error_of(R"({"model": {"type": "Unigram", "vocab": []}})");
  EXPECT_NE(e.find("'Unigram'"), std::string::npos) << e;
  EXPECT_NE(e.find("supported: BPE"), std::string::npos) << e;
  nlohmann::json spec = nlohmann::json::parse(kMinimalBpe);
  spec["pre_tokenizer"] = {{"type", "Whitespace"}};
  e = error_of(spec.dump());
  EXPECT_NE(e.find("'Whitespace'"), std::string::npos) << e;
  EXPECT_NE(e.find("ByteLevel, Split"), std::string::npos) << e;
  spec["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "\\w+"}}}, {"behavior", "Isolated"}};
  e = error_of(spec.dump());
  EXPECT_NE(e.find("'\\w+'"), std::string::npos) << e;
  EXPECT_NE(e.find("GPT-2, Llama 3 and Qwen2"), std::string::npos) << e;
  spec.erase("pre_tokenizer");
  spec["normalizer"] = {{"type", "Lowercase"}};
  e = error_of(spec.dump());
  EXPECT_NE(e.find("'Lowercase'"), std::string::npos) << e;
  spec.erase("normalizer");
  spec["decoder"] = {{"type", "WordPiece"}};
  e = error_of(spec.dump());
  EXPECT_NE(e.find("'WordPiece'"), std::string::npos) << e;
  spec.erase("decoder");
  spec["model"]["dropout"] = 0.1;
  EXPECT_NE(error_of(spec.dump()).find("dropout"), std::string::npos);
  EXPECT_NE(error_of("{not json").find("not valid JSON"), std::string::npos);
  for (const std::string& m : {error_of(R"({"model": {"type": "Unigram"}})"), error_of("{not json")})
    EXPECT_EQ(m.find('\n'), std::string::npos) << "one line: " << m;
}

TEST(TokenizerJsonPieces, MinimalBpeMergesAndDropsUnknownCharacters) {
  TokenizerJson t(kMinimalBpe);
  EXPECT_EQ(t.encode("abab"), (std::vector<std::int32_t>{2, 2}));
  EXPECT_EQ(t.encode("axb"), (std::vector<std::int32_t>{2}));  // no unk_token: "x" vanishes, "ab" merges
  EXPECT_EQ(t.vocab_size(), 3);
  EXPECT_EQ(t.decode({2, 0}, true), "ab a");  // no decoder: tokens joined by spaces
  EXPECT_THROW(t.decode({3}, true), e2llm::Error);
}

TEST(TokenizerJsonPieces, PluginLoadsFilesAndFoldersAndReportsBosEos) {
  e2llm::harness::PluginRegistry registry({E2LLM_PLUGIN_DIR});
  auto gpt2 = load(registry, kData / "gpt2");  // a folder holding tokenizer.json
  EXPECT_EQ(gpt2->vocab_size(), 50257);
  EXPECT_EQ(gpt2->bos_id(), 50256);  // tokenizer_config.json: <|endoftext|>
  EXPECT_EQ(gpt2->eos_id(), 50256);
  EXPECT_EQ(gpt2->fingerprint().size(), 64u);
  auto llama = load(registry, kData / "open-llama-3b" / "tokenizer.json");
  EXPECT_EQ(llama->vocab_size(), 32001);
  EXPECT_EQ(llama->bos_id(), 1);  // the post-processor's template puts <s> first
  EXPECT_EQ(llama->eos_id(), 2);  // </s> by name
  EXPECT_EQ(llama->encode("Hello world"), (std::vector<std::int32_t>{16644, 924}));  // as tokenizers gives
  EXPECT_NE(gpt2->fingerprint(), llama->fingerprint());
}

TEST(TokenizerJsonPieces, DecodeInvertsByteLevelExactly) {
  e2llm::harness::PluginRegistry registry({E2LLM_PLUGIN_DIR});
  auto gpt2 = load(registry, kData / "gpt2");
  std::mt19937 rng(5);
  for (int i = 0; i < 300; ++i) {
    std::string text;
    for (int k = std::uniform_int_distribution<int>(0, 60)(rng); k > 0; --k) {
      char32_t cp = std::uniform_int_distribution<char32_t>(1, 0x2FFFF)(rng);
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      append_utf8(text, cp);
    }
    EXPECT_EQ(gpt2->decode(gpt2->encode(text)), text);
  }
  // Invalid UTF-8 in a file is read as U+FFFD, not a crash.
  EXPECT_EQ(gpt2->decode(gpt2->encode("a\xFF"
                                      "b")),
            "a\uFFFD"
            "b");
}

TEST(TokenizerJsonPieces, BadPathsAreClearErrors) {
  e2llm::harness::PluginRegistry registry({E2LLM_PLUGIN_DIR});
  auto t = registry.make_tokenizer("hf-json");
  try {
    t->load("/nonexistent/tokenizer.json");
    FAIL();
  } catch (const e2llm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos);
  }
  auto dir = fs::temp_directory_path() / "e2llm-hfjson-bad";
  fs::create_directories(dir);
  e2llm::util::write_file_atomic(dir / "tokenizer.json", R"({"model": {"type": "WordPiece", "vocab": {}}})");
  try {
    t->load(dir.string());
    FAIL();
  } catch (const e2llm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'WordPiece' is not supported"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find((dir / "tokenizer.json").string()), std::string::npos) << e.what();
  }
  EXPECT_THROW(t->train({}), e2llm::Error);
  fs::remove_all(dir);
}
