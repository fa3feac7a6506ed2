// Prompt framing (taskkit/prompt_framing.hpp) on a real instruct model's tokenizer against
// transformers: SmolLM2-135M-Instruct's tokenizer, read by transformers from the GGUF that
// scripts/setup.sh installs and saved as a tokenizer folder (chat_oracle.py export-smollm2).
// The ids e2llm frames (its real ChatML template with the default system message; the BOS
// rule of a tokenizer that adds none) equal transformers' apply_chat_template and
// tokenizer(text); the passkey, key-value and LongBench prompts wrapped in the template still
// fill their token targets and place the key where asked, and equal transformers' ids too.
//
// The tokenizer file is a parameter (kTokenizers): a GGUF read by a tokenizer plugin of its own
// joins the list as one more row.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../support/run_command.hpp"
#include "e2llm/error.hpp"
#include "e2llm/formats/chat_template.hpp"
#include "e2llm/harness/registry.hpp"
#include "e2llm/harness/tokenizer_choice.hpp"
#include "e2llm/longbench/datasets.hpp"
#include "e2llm/longbench/loader.hpp"
#include "e2llm/longbench/middle_truncate.hpp"
#include "e2llm/taskkit/prompt_framing.hpp"
#include "e2llm/util/files.hpp"
#include "kv_prompt.hpp"
#include "kv_task.hpp"
#include "passkey_prompt.hpp"
#include "passkey_task.hpp"
#include "smollm2.hpp"

namespace fs = std::filesystem;
using namespace e2llm;
using e2llm::testing::quote;
using e2llm::testing::run_command;
using taskkit::BosRule;
using taskkit::PromptFraming;

namespace {

using chattest::kOracle;
using chattest::kPython;
using chattest::kSource;
using chattest::kWork;
using chattest::smollm2_folder;

struct TokenizerCase {
  const char* name;
  fs::path (*file)();
};

void PrintTo(const TokenizerCase& c, std::ostream* os) {
  *os << c.name;
}

const TokenizerCase kTokenizers[] = {
    {"hf_json", [] { return smollm2_folder() / "tokenizer.json"; }},
};

struct Loaded {
  harness::PluginRegistry registry{{E2LLM_PLUGIN_DIR}};
  std::shared_ptr<Tokenizer> tokenizer;
};

std::unique_ptr<Loaded> load(const fs::path& file) {
  auto l = std::make_unique<Loaded>();
  l->tokenizer = l->registry.make_tokenizer(harness::tokenizer_plugin_for(file));
  l->tokenizer->load(file.string());
  return l;
}

// transformers' "plain" and "chat" ids for each case (chat_oracle.py ids).
nlohmann::json oracle_ids(const fs::path& tokenizer, const nlohmann::json& cases) {
  const fs::path dir = kWork / ("ids-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
  fs::create_directories(dir);
  util::write_file_atomic(dir / "cases.json", cases.dump());
  const auto r =
      run_command(quote(kPython.string()) + " " + quote(kOracle.string()) + " ids " + quote(tokenizer.string()) + " " +
                  quote((dir / "cases.json").string()) + " " + quote((dir / "out.json").string()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto out = nlohmann::json::parse(util::read_file(dir / "out.json"));
  fs::remove_all(dir);
  return out;
}

std::vector<std::int32_t> as_ids(const nlohmann::json& j) {
  return j.get<std::vector<std::int32_t>>();
}

PromptFraming chatml_auto(const Tokenizer& tok) {
  return PromptFraming(tok, {"auto", BosRule::tokenizer}, taskkit::kTaskTemplateHint);
}

class ChatPrompts : public ::testing::TestWithParam<TokenizerCase> {
 protected:
  void SetUp() override {
    file_ = GetParam().file();
    loaded_ = load(file_);
  }
  const Tokenizer& tok() const { return *loaded_->tokenizer; }
  fs::path file_;
  std::unique_ptr<Loaded> loaded_;
};

}  // namespace

// The tokenizer file's own template is recognised and read; chat ids and plain ids (no BOS:
// SmolLM2 adds none) equal transformers'.
TEST_P(ChatPrompts, IdsEqualApplyChatTemplateAndTheTokenizersBosRule) {
  const formats::ChatTemplate read = formats::recognise_chat_template(tok().chat_template());
  EXPECT_EQ(read.family, formats::ChatFamily::chatml);
  EXPECT_EQ(read.default_system, "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  EXPECT_FALSE(read.writes_bos);
  EXPECT_FALSE(tok().adds_bos());

  const std::vector<std::string> texts = {
      "Hello there",
      "What is the capital of France? Answer in one word.",
      "  leading and trailing spaces  \n",
      "Code: `for (int i = 0; i < 10; ++i) {}` and digits 1234567890 and ünïcödé, 日本語.",
      "",
  };
  nlohmann::json cases = nlohmann::json::array();
  for (const auto& t : texts) cases.push_back({{"text", t}});
  const nlohmann::json expected = oracle_ids(file_, cases);
  const PromptFraming chat = chatml_auto(tok());
  const PromptFraming plain(tok(), {}, "");
  ASSERT_EQ(expected.size(), texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    SCOPED_TRACE(nlohmann::json(texts[i]).dump());
    EXPECT_EQ(chat.ids(texts[i]), as_ids(expected[i]["chat"]));
    EXPECT_EQ(plain.ids(texts[i]), as_ids(expected[i]["plain"]));
    EXPECT_EQ(taskkit::document_ids(tok(), BosRule::tokenizer, texts[i]), as_ids(expected[i]["plain"]));
  }
  // What a cell records, and the end-of-turn token among the stop tokens.
  const nlohmann::json record = chat.record();
  EXPECT_EQ(record["family"], "chatml");
  EXPECT_EQ(record["source"], "tokenizer file");
  EXPECT_EQ(record["default_system"], read.default_system);
  EXPECT_EQ(record["bos"], false);
  EXPECT_EQ(record["tokens_as_text"], nlohmann::json::array());
  const auto stops = chat.stop_tokens();
  EXPECT_NE(std::find(stops.begin(), stops.end(), *tok().token_id("<|im_end|>")), stops.end());
  // add_bos = true puts BOS first once; false drops it.
  const PromptFraming always(tok(), {"auto", BosRule::always}, "");
  EXPECT_EQ(always.ids("hi").front(), tok().bos_id());
  EXPECT_EQ(always.ids("hi").size(), chat.ids("hi").size() + 1);
}

// Passkey and key-value prompts in the chat template: at most the target, one filler character
// (one pair) more would exceed it, the key where asked, and the ids are transformers' chat ids
// of the prompt text.
TEST_P(ChatPrompts, PasskeyAndKeyValuePromptsFillTheirTargetsInTheTemplate) {
  const PromptFraming chat = chatml_auto(tok());
  nlohmann::json cases = nlohmann::json::array();
  std::vector<std::vector<std::int32_t>> ours;
  for (std::int64_t target : {200, 1000})
    for (double depth : {0.0, 0.5, 1.0}) {
      SCOPED_TRACE(::testing::Message() << "passkey target=" << target << " depth=" << depth);
      const passkey::PasskeyPrompt p = passkey::build_prompt(chat, 31337, depth, target);
      EXPECT_LE(std::int64_t(p.ids.size()), target);
      const std::size_t filler = p.prefix_chars + p.suffix_chars;
      const std::size_t prefix = std::size_t(std::floor(depth * double(filler + 1)));
      EXPECT_GT(std::int64_t(chat.ids(passkey::prompt_text(31337, prefix, filler + 1 - prefix)).size()), target);
      // The key line starts at key_token, at the asked depth of the filler (in tokens).
      const std::string rest = tok().decode(std::vector<std::int32_t>(p.ids.begin() + p.key_token, p.ids.end()));
      // (The text before the key is encoded alone, so a merge across the cut — "\n\n" before
      // "The" at depth 0 — can leave the newline in front.)
      EXPECT_LE(rest.find("The pass key is 31337."), 1u) << rest.substr(0, 60);
      const std::size_t key_at = p.text.find(passkey::key_line(31337));
      const std::size_t after_key = key_at + passkey::key_line(31337).size() + 1;
      const double head = double(chat.tokens_before(p.text, std::string(passkey::kTaskDescription).size() + 1));
      const double prefix_tokens = double(p.key_token) - head;
      const double suffix_tokens =
          double(chat.tokens_before(p.text, after_key + p.suffix_chars) - chat.tokens_before(p.text, after_key));
      if (target >= 1000) {
        EXPECT_NEAR(prefix_tokens / (prefix_tokens + suffix_tokens), depth, 0.03);
      }
      cases.push_back({{"text", p.text}});
      ours.push_back(p.ids);
    }
  for (std::int64_t target : {200, 1000})
    for (double depth : {0.0, 0.5, 1.0}) {
      SCOPED_TRACE(::testing::Message() << "kv target=" << target << " depth=" << depth);
      const std::uint64_t seed = kv_retrieval::trial_seed(7, target, depth, 0);
      const kv_retrieval::KvPrompt p = kv_retrieval::build_prompt(chat, seed, depth, target);
      EXPECT_LE(std::int64_t(p.ids.size()), target);
      const std::size_t n = p.pairs.size();
      kv_retrieval::PairStream more(seed, kv_retrieval::Shape{});
      const auto& next = more.first(n + 1);
      EXPECT_GT(std::int64_t(
                    chat.ids(kv_retrieval::prompt_text(next, n + 1, kv_retrieval::asked_index(depth, n + 1))).size()),
                target);
      EXPECT_EQ(p.asked, kv_retrieval::asked_index(depth, n));
      cases.push_back({{"text", p.text}});
      ours.push_back(p.ids);
    }
  const nlohmann::json expected = oracle_ids(file_, cases);
  ASSERT_EQ(expected.size(), ours.size());
  for (std::size_t i = 0; i < ours.size(); ++i) EXPECT_EQ(ours[i], as_ids(expected[i]["chat"])) << "prompt " << i;
}

// LongBench's convention for chat models: the prompt is cut in the middle on its plain tokens,
// the two halves decoded to text and joined, and only then wrapped in the chat template — the
// ids equal transformers' apply_chat_template of the text LongBench's pred.py cuts.
TEST_P(ChatPrompts, LongBenchCutsBeforeTheTemplateAsPredPy) {
  const PromptFraming chat = chatml_auto(tok());
  const PromptFraming plain = chat.without_template();
  const fs::path rows_dir = fs::path(E2LLM_SHARED_DATA) / "longbench" / "rows";
  nlohmann::json cases = nlohmann::json::array();
  std::vector<longbench::TruncatedPrompt> ours;
  for (const char* name : {"qasper", "hotpotqa", "gov_report"}) {
    const longbench::DatasetSpec& spec = longbench::dataset(name);
    ASSERT_TRUE(spec.chat_template) << name;
    const auto rows = longbench::load_rows(rows_dir / (std::string(name) + ".jsonl"), 2);
    for (const auto& row : rows)
      for (std::size_t budget : {std::size_t(500), std::size_t(1501), std::size_t(1000000)}) {
        const std::string prompt = longbench::build_prompt(spec, row.context, row.input);
        ours.push_back(longbench::truncate_prompt(plain, chat, prompt, budget));
        cases.push_back({{"prompt", prompt}, {"budget", budget}});
      }
  }
  const nlohmann::json expected = oracle_ids(file_, cases);
  ASSERT_EQ(expected.size(), ours.size());
  std::size_t cut = 0;
  for (std::size_t i = 0; i < ours.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "case " << i << " budget " << cases[i]["budget"]);
    EXPECT_EQ(ours[i].original_tokens, expected[i]["original_tokens"].get<std::size_t>());
    EXPECT_EQ(ours[i].truncated, ours[i].original_tokens > cases[i]["budget"].get<std::size_t>());
    EXPECT_EQ(ours[i].ids, as_ids(expected[i]["chat"]));
    cut += ours[i].truncated;
  }
  EXPECT_GE(cut, 10u);  // most rows are longer than 500 and 1501 tokens
}

// "auto" meeting a template e2llm does not render: one line naming the tokenizer file, what
// the template starts with, the families and how to choose instead.
TEST_P(ChatPrompts, AnUnrecognisedTemplateIsOneLine) {
  const fs::path dir = kWork / ("vicuna-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) fs::copy_file(smollm2_folder() / f, dir / f);
  util::write_file_atomic(dir / "chat_template.jinja",
                          "{% for message in messages %}{{ 'USER: ' + message['content'] + '\\n' }}{% endfor %}"
                          "{{ 'ASSISTANT:' }}");
  auto loaded = load(dir / "tokenizer.json");
  try {
    chatml_auto(*loaded->tokenizer);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what, (dir / "tokenizer.json").string() +
                        ": chat template not recognised (it starts with \"{% for message in messages %}{{ 'USER: ' + "
                        "message['content'…\"); e2llm renders chatml, llama2, llama3, mistral, gemma, phi3, zephyr; " +
                        taskkit::kTaskTemplateHint);
  }
  // Named explicitly, the family renders whatever the file says.
  const PromptFraming named(*loaded->tokenizer, {"chatml", BosRule::tokenizer}, "");
  EXPECT_EQ(named.record()["source"], "named");
  EXPECT_EQ(named.ids("hi").front(), *loaded->tokenizer->token_id("<|im_start|>"));
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, ChatPrompts, ::testing::ValuesIn(kTokenizers),
                         [](const ::testing::TestParamInfo<TokenizerCase>& info) { return info.param.name; });

// A tokenizer file with no template (tok512, SentencePiece): "auto" falls back to the text as
// is, recorded; the default framing is the BOS-first prompt every task used before.
TEST(ChatPromptsSentencePiece, AutoWithoutATemplateFramesAsBefore) {
  auto loaded = load(fs::path(E2LLM_SHARED_DATA) / "models" / "tok512.model");
  const Tokenizer& tok = *loaded->tokenizer;
  ASSERT_TRUE(tok.chat_template().empty());
  const PromptFraming framing = chatml_auto(tok);
  EXPECT_FALSE(framing.chat());
  EXPECT_EQ(framing.record()["source"], "none: the tokenizer file carries no chat template");
  std::vector<std::int32_t> before{tok.bos_id()};
  const auto body = tok.encode("The pass key is 12345.");
  before.insert(before.end(), body.begin(), body.end());
  EXPECT_EQ(framing.ids("The pass key is 12345."), before);
  EXPECT_EQ(PromptFraming(tok, {}, "").ids("The pass key is 12345."), before);
  EXPECT_EQ(taskkit::document_ids(tok, BosRule::tokenizer, "The pass key is 12345."), before);
  EXPECT_EQ(PromptFraming(tok, {"none", BosRule::never}, "").ids("The pass key is 12345."), body);
  // A named family on a vocabulary without its special tokens: they are text, and recorded.
  const PromptFraming named(tok, {"chatml", BosRule::tokenizer}, "");
  EXPECT_EQ(named.record()["tokens_as_text"], (nlohmann::json{"<|im_start|>", "<|im_end|>"}));
  EXPECT_EQ(named.ids("hi"), tok.encode("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"));
}

// The defaults (chat_template = "none", add_bos = "auto") hash as a config that does not name
// them — the configs of every committed cell — so framing moved no key by itself; any other
// setting changes the key. (The committed cells' own fingerprints are older: the tasks'
// version 1.1.0, which added intervals, moved every key once.)
TEST(ChatPromptsFingerprint, DefaultFramingKeepsCommittedCellKeys) {
  std::size_t checked = 0;
  for (const fs::path& run : {kSource / "results/paper-small/cells", kSource / "tests/report/golden/run/cells"})
    for (const auto& entry : fs::directory_iterator(run)) {
      if (entry.path().extension() != ".json") continue;
      const auto cell = nlohmann::json::parse(util::read_file(entry.path()));
      const auto& task = cell["task"];
      std::unique_ptr<Task> t;
      if (task["plugin"] == "passkey") t = std::make_unique<passkey::PasskeyTask>();
      if (task["plugin"] == "kv-retrieval") t = std::make_unique<kv_retrieval::KvRetrievalTask>();
      if (!t) continue;
      ASSERT_FALSE(task["config"].contains("chat_template")) << entry.path();
      ASSERT_FALSE(task["config"].contains("add_bos")) << entry.path();
      t->configure(task["config"]);
      const std::string unnamed = t->fingerprint();
      // The fingerprint the cell was keyed by: the task's config keys hash as they did.
      EXPECT_EQ(unnamed, task["fingerprint"].get<std::string>()) << entry.path();
      nlohmann::json defaults = task["config"];
      defaults.update(nlohmann::json{{"chat_template", "none"}, {"add_bos", "auto"}});
      t->configure(defaults);
      EXPECT_EQ(t->fingerprint(), unnamed) << entry.path();
      ++checked;
      for (const nlohmann::json& setting : {nlohmann::json{{"chat_template", "auto"}},
                                            nlohmann::json{{"add_bos", true}}, nlohmann::json{{"add_bos", false}}}) {
        nlohmann::json config = task["config"];
        config.update(setting);
        t->configure(config);
        EXPECT_NE(t->fingerprint(), unnamed) << setting.dump();
      }
    }
  EXPECT_GE(checked, 20u);
}
