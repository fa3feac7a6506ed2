// The hf-json tokenizer plugin against the Hugging Face `tokenizers` package: identical ids
// and identical decoded text on every line of a multilingual corpus (LongBench rows, licence
// texts, seeded random Unicode) and on random id sequences, for the real tokenizer.json files
// in tests/data/tokenizers and for small tokenizers of the other families trained on the fly.
// hf_reference.py writes the oracle's answers; this test reads them and compares.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../support/run_command.hpp"
#include "e2llm/harness/registry.hpp"

namespace fs = std::filesystem;
using e2llm::testing::quote;
using e2llm::testing::run_command;

namespace {

const fs::path kSource = E2LLM_SOURCE_DIR;
const fs::path kPython = kSource / ".venv" / "bin" / "python";

// Runs the oracle: --tokenizer FILE or --synthetic FAMILY; returns the output folder.
fs::path run_oracle(const std::string& name, const std::string& source_args) {
  fs::path out = fs::path(E2LLM_BINARY_DIR) / "tests" / "tokenizer_json" / name;
  fs::remove_all(out);
  std::string command = quote(kPython.string()) + " " +
                        quote((kSource / "tests/tokenizer_json/hf_reference.py").string()) + " " + source_args +
                        " --out " + quote(out.string());
  // Every text source is required: a missing one fails the oracle rather than shrink the test.
  const fs::path longbench = fs::path(E2LLM_SHARED_DATA) / "longbench" / "rows";
  EXPECT_TRUE(fs::is_directory(longbench)) << longbench << " is missing (../shared/data beside the checkout)";
  command += " --longbench " + quote(longbench.string()) + " --code " + quote(kSource.string());
  auto r = run_command(command);
  EXPECT_EQ(r.exit_code, 0) << command << "\n" << r.err;
  return out;
}

// Up to 24 ids from `from`.
std::string show(const std::vector<std::int32_t>& ids, std::size_t from = 0) {
  std::string s = from > 0 ? "... " : "";
  for (std::size_t i = from; i < ids.size() && i < from + 24; ++i) s += (i > from ? " " : "") + std::to_string(ids[i]);
  return s + (ids.size() > from + 24 ? " ..." : "");
}

std::size_t first_difference(const std::vector<std::int32_t>& a, const std::vector<std::int32_t>& b) {
  std::size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}

// Compares every case; returns the number of texts compared.
std::size_t compare(const fs::path& tokenizer_path, const fs::path& cases) {
  e2llm::harness::PluginRegistry registry({E2LLM_PLUGIN_DIR});
  auto tokenizer = registry.make_tokenizer("hf-json");
  tokenizer->load(tokenizer_path.string());
  std::ifstream in(cases);
  std::string line;
  std::size_t texts = 0, decodes = 0, encode_diffs = 0, decode_diffs = 0;
  while (std::getline(in, line)) {
    auto c = nlohmann::json::parse(line);
    const std::string expected_text = c["decoded"].get<std::string>();
    if (c.contains("text")) {
      ++texts;
      const std::string text = c["text"].get<std::string>();
      const auto expected = c["ids"].get<std::vector<std::int32_t>>();
      const auto ids = tokenizer->encode(text);
      if (ids != expected && ++encode_diffs <= 5) {
        const std::size_t at = first_difference(ids, expected), from = at > 4 ? at - 4 : 0;
        ADD_FAILURE() << "encode differs at token " << at << " for " << nlohmann::json(text.substr(0, 300)).dump()
                      << "\n  ours:       " << show(ids, from) << "\n  tokenizers: " << show(expected, from);
      }
      const std::string decoded = tokenizer->decode(expected);
      if (decoded != expected_text && ++decode_diffs <= 5)
        ADD_FAILURE() << "decode differs for " << show(expected)
                      << "\n  ours:       " << nlohmann::json(decoded.substr(0, 300)).dump()
                      << "\n  tokenizers: " << nlohmann::json(expected_text.substr(0, 300)).dump();
    } else {
      ++decodes;
      const auto ids = c["decode_ids"].get<std::vector<std::int32_t>>();
      const std::string decoded = tokenizer->decode(ids);
      if (decoded != expected_text && ++decode_diffs <= 5)
        ADD_FAILURE() << "decode differs for " << show(ids) << "\n  ours:       " << nlohmann::json(decoded).dump()
                      << "\n  tokenizers: " << nlohmann::json(expected_text).dump();
    }
  }
  EXPECT_EQ(encode_diffs, 0u) << "of " << texts << " texts";
  EXPECT_EQ(decode_diffs, 0u) << "of " << texts << " texts and " << decodes << " id sequences";
  std::printf("%s: %zu texts, %zu random id sequences; %zu encode and %zu decode differences\n",
              tokenizer_path.string().c_str(), texts, decodes, encode_diffs, decode_diffs);
  return texts;
}

void check_real(const std::string& name) {
  ASSERT_TRUE(fs::exists(kPython)) << kPython << " is missing: run scripts/setup.sh (it installs tokenizers)";
  const fs::path file = kSource / "tests/data/tokenizers" / name / "tokenizer.json";
  fs::path out = run_oracle(name, "--tokenizer " + quote(file.string()));
  // Thousands of texts: the random strings alone are 3000.
  EXPECT_GT(compare(file.parent_path(), out / "cases.jsonl"), 3000u);
}

void check_synthetic(const std::string& family) {
  ASSERT_TRUE(fs::exists(kPython)) << kPython << " is missing: run scripts/setup.sh (it installs tokenizers)";
  fs::path out = run_oracle("synthetic-" + family, "--synthetic " + family);
  EXPECT_GT(compare(out / "tokenizer.json", out / "cases.jsonl"), 3000u);
}

}  // namespace

// Byte-level BPE with the GPT-2 regex (OpenAI GPT-2, a real file).
TEST(TokenizerJsonDifferential, Gpt2) {
  check_real("gpt2");
}
// SentencePiece-style BPE in JSON: Prepend/Replace normalizer, byte fallback (OpenLLaMA 3B).
TEST(TokenizerJsonDifferential, OpenLlama3b) {
  check_real("open-llama-3b");
}
// Families without a committed file: small tokenizers trained by `tokenizers` itself.
TEST(TokenizerJsonDifferential, Llama3Regex) {
  check_synthetic("llama3");
}
TEST(TokenizerJsonDifferential, Qwen2RegexWithNfc) {
  check_synthetic("qwen2");
}
TEST(TokenizerJsonDifferential, DigitsThenByteLevel) {
  check_synthetic("digits");
}
TEST(TokenizerJsonDifferential, MetaspaceWithByteFallback) {
  check_synthetic("metaspace");
}
