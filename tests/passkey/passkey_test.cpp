#include <gtest/gtest.h>

#include <boost/dll/shared_library.hpp>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>

#include "../support/fakes.hpp"
#include "../support/language_model_conformance.hpp"
#include "e2llm/error.hpp"
#include "e2llm/plugin.hpp"
#include "passkey_prompt.hpp"
#include "passkey_task.hpp"

using namespace e2llm;
using namespace e2llm::passkey;
namespace fs = std::filesystem;
using e2llm::testing::MemoryStore;

namespace {

// One token per whitespace-separated word or newline; enough to check sizing without
// SentencePiece. ids: 0 unk, 1 BOS, 2 EOS, 3 "\n", then words in order of first sight.
class WordTokenizer final : public Tokenizer {
 public:
  void load(const std::string&) override {}
  void train(const TokenizerTrainOptions&) override {}
  std::vector<std::int32_t> encode(std::string_view text) const override {
    std::vector<std::int32_t> ids;
    std::string word;
    auto flush = [&] {
      if (word.empty()) return;
      auto it = words_.find(word);
      if (it == words_.end()) {
        it = words_.emplace(word, std::int32_t(4 + names_.size())).first;
        names_.push_back(word);
      }
      ids.push_back(it->second);
      word.clear();
    };
    for (char c : text) {
      if (c == ' ') {
        flush();
      } else if (c == '\n') {
        flush();
        ids.push_back(3);
      } else {
        word += c;
      }
    }
    flush();
    return ids;
  }
  std::string decode(const std::vector<std::int32_t>& ids) const override {
    std::string s;
    for (auto id : ids) {
      if (id == 3)
        s += "\n";
      else if (id >= 4)
        s += (s.empty() || s.back() == '\n' ? "" : " ") + names_[std::size_t(id - 4)];
    }
    return s;
  }
  std::int32_t bos_id() const override { return 1; }
  std::int32_t eos_id() const override { return 2; }
  std::int32_t vocab_size() const override { return 1 << 20; }
  bool adds_bos() const override { return true; }
  bool adds_eos() const override { return false; }
  std::optional<std::int32_t> token_id(std::string_view) const override { return std::nullopt; }
  std::string chat_template() const override { return ""; }
  std::string fingerprint() const override { return "word-tokenizer"; }
  std::string model_path() const override { return "(words)"; }

 private:
  mutable std::map<std::string, std::int32_t> words_;
  mutable std::vector<std::string> names_;
};

// The real tokenizer plugin, loaded as the harness loads it (docs/pitfalls.md, "SentencePiece and LibTorch").
struct RealTokenizer {
  boost::dll::shared_library library;
  std::unique_ptr<Tokenizer> tokenizer;
};
std::unique_ptr<RealTokenizer> load_sentencepiece() {
  fs::path so = fs::path(E2LLM_PLUGIN_DIR) / "libe2llm_tokenizer_sentencepiece.so";
  fs::path model = fs::path(E2LLM_SHARED_DATA) / "models" / "tok512.model";
  if (!fs::exists(so) || !fs::exists(model)) return nullptr;
  auto real = std::make_unique<RealTokenizer>();
  real->library.load(so.string(), boost::dll::load_mode::rtld_deepbind | boost::dll::load_mode::rtld_local);
  auto entry = real->library.get<const PluginDescriptor*()>(E2LLM_PLUGIN_ENTRY_POINT_NAME);
  const PluginDescriptor* d = entry();
  EXPECT_EQ(d->abi_version, kAbiVersion);
  real->tokenizer.reset(static_cast<Tokenizer*>(d->create()));
  real->tokenizer->load(model.string());
  return real;
}

// A model that reads the key from its prompt (or fails at chosen depths), answering in
// several tokens so the key is split across them.
class ReadingModel final : public LanguageModel {
 public:
  ReadingModel(const Tokenizer& tokenizer, std::int64_t window) : tokenizer_(tokenizer), window_(window) {}
  std::int64_t window() const override { return window_; }
  const Tokenizer& tokenizer() const override { return tokenizer_; }
  std::vector<float> token_logprobs(const std::vector<std::int32_t>& ids, std::size_t score_from) override {
    e2llm::testing::check_token_logprobs_args(window_, tokenizer_.vocab_size(), ids, score_from);
    return std::vector<float>(score_from < ids.size() ? ids.size() - score_from : 0,
                              -std::log(float(tokenizer_.vocab_size())));
  }
  std::vector<std::int32_t> generate(const std::vector<std::int32_t>& prompt, const GenerationOptions& o) override {
    e2llm::testing::check_generate_args(window_, tokenizer_.vocab_size(), prompt, o);
    EXPECT_EQ(o.temperature, 0.0);
    ++calls;
    std::string text = tokenizer_.decode(prompt);
    std::smatch m;
    std::regex_search(text, m, std::regex("The pass key is ([0-9]+)"));
    std::string answer = wrong ? " 0" : " " + m[1].str() + ". The end";
    auto ids = tokenizer_.encode(answer);
    // With no stop token to end on, a model goes on to max_new_tokens (the contract).
    while (o.stop_tokens.empty() && std::int64_t(ids.size()) < o.max_new_tokens) {
      const auto more = tokenizer_.encode(" The end");
      ids.insert(ids.end(), more.begin(), more.end());
    }
    if (std::int64_t(ids.size()) > o.max_new_tokens) ids.resize(std::size_t(o.max_new_tokens));
    return ids;
  }
  std::vector<std::vector<std::int32_t>> generate_batch(const std::vector<GenerationRequest>& requests,
                                                        const GenerationDone& done) override {
    return e2llm::testing::generate_each(*this, window_, tokenizer_.vocab_size(), requests, done);
  }
  std::int64_t batch_size() const override { return 3; }
  nlohmann::json describe() const override { return {{"model", "reading"}}; }
  bool wrong = false;
  int calls = 0;

 private:
  const Tokenizer& tokenizer_;
  std::int64_t window_;
};

// The framing before chat templates: BOS always, the text as is.
taskkit::PromptFraming bos_always(const Tokenizer& tok) {
  return taskkit::PromptFraming(tok, {"none", taskkit::BosRule::always}, "");
}

void expect_prompt_shape(const Tokenizer& tok, std::int64_t target, double depth, std::int64_t tolerance) {
  SCOPED_TRACE(::testing::Message() << "target=" << target << " depth=" << depth);
  PasskeyPrompt p = build_prompt(bos_always(tok), 12345, depth, target);
  EXPECT_LE(std::int64_t(p.ids.size()), target);
  EXPECT_GE(std::int64_t(p.ids.size()), target - tolerance);
  EXPECT_EQ(p.ids[0], tok.bos_id());
  // The template, exactly.
  const std::string head = std::string(kTaskDescription) + "\n";
  EXPECT_EQ(p.text.rfind(head, 0), 0u);
  EXPECT_EQ(p.text.substr(p.text.size() - std::string(kQuestion).size()), kQuestion);
  EXPECT_NE(p.text.find("\nThe pass key is 12345. Remember it. 12345 is the pass key.\n"), std::string::npos);
  EXPECT_EQ(p.text.substr(head.size(), p.prefix_chars), filler_prefix(p.prefix_chars));
  // The key sits at the intended depth of the filler (in tokens, within 2%).
  const double header = double(tok.encode(head).size() + 1);
  const double filler =
      double(p.ids.size()) - header - double(tok.encode("\n" + key_line(12345) + "\n\n" + kQuestion).size());
  EXPECT_NEAR((double(p.key_token) - header) / filler, depth, 0.02);
}

}  // namespace

TEST(PasskeyPrompt, FillerIsCutFromTheStartOfTheRepetition) {
  EXPECT_EQ(filler_prefix(0), "");
  EXPECT_EQ(filler_prefix(9), "The grass");
  const std::string one = std::string(kFiller) + " ";
  EXPECT_EQ(filler_prefix(one.size() + 9), one + "The grass");
  EXPECT_EQ(prompt_text(7, 9, 3), std::string(kTaskDescription) +
                                      "\nThe grass\nThe pass key is 7. Remember it. 7 is the pass key.\nThe\n" +
                                      "What is the pass key? The pass key is");
}

TEST(PasskeyPrompt, WordTokenizerHitsTargetAndDepth) {
  WordTokenizer tok;
  for (std::int64_t target : {200, 1000, 4000})
    for (double depth : {0.0, 0.25, 0.5, 0.75, 1.0}) expect_prompt_shape(tok, target, depth, 2);
}

TEST(PasskeyPrompt, RealTokenizerHitsTargetAndDepth) {
  auto real = load_sentencepiece();
  ASSERT_TRUE(real) << "libe2llm_tokenizer_sentencepiece.so or tok512.model is not there (build it; ../shared/data)";
  for (std::int64_t target : {500, 4000})
    for (double depth : {0.0, 0.5, 1.0}) expect_prompt_shape(*real->tokenizer, target, depth, 4);
}

TEST(PasskeyPrompt, TooSmallTargetIsAnError) {
  WordTokenizer tok;
  EXPECT_THROW(build_prompt(bos_always(tok), 1, 0.5, 10), Error);
}

// With the sweep's tokenizer, set_sweep refuses a window whose prompt target cannot hold the
// prompt without filler (before any model loads: the dry run); at exactly that target it passes
// and a prompt is built. Without a tokenizer only the answer's room is checked.
TEST(PasskeyTask, SetSweepRefusesAWindowBelowTheShortestPrompt) {
  auto real = load_sentencepiece();
  ASSERT_TRUE(real) << "libe2llm_tokenizer_sentencepiece.so or tok512.model is not there (build it; ../shared/data)";
  PasskeyTask task;
  task.configure(nlohmann::json::object());
  const taskkit::PromptFraming framing(*real->tokenizer, task.config().framing, taskkit::kTaskTemplateHint);
  const std::int64_t shortest = shortest_prompt_tokens(framing), answer = task.config().max_new_tokens;
  EXPECT_GT(shortest, 100);  // the task description, the key line and the question
  const SweepInfo small{{shortest - 1 + answer, 4096}, 256, real->tokenizer.get()};
  try {
    task.set_sweep(small);
    ADD_FAILURE() << "window " << small.windows[0] << " was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "target_tokens");
    EXPECT_NE(std::string(e.what()).find("passkey: window " + std::to_string(shortest - 1 + answer) + " leaves " +
                                         std::to_string(shortest - 1) +
                                         " tokens for the prompt, but its shortest "
                                         "prompt (no filler) takes " +
                                         std::to_string(shortest) + " tokens"),
              std::string::npos)
        << e.what();
  }
  EXPECT_NO_THROW(task.set_sweep({{shortest + answer, 4096}, 256, real->tokenizer.get()}));
  EXPECT_NO_THROW(build_prompt(framing, kKeyMax, 0.5, shortest));
  EXPECT_THROW(build_prompt(framing, kKeyMax, 0.5, shortest - 1), Error);  // the bound is the one evaluate() meets
  EXPECT_NO_THROW(task.set_sweep({small.windows, 256, nullptr}));
}

TEST(PasskeyKey, SeededPerWindowDepthTrial) {
  EXPECT_EQ(draw_key(0, 4096, 0.5, 3), draw_key(0, 4096, 0.5, 3));
  std::set<std::int64_t> keys;
  for (int t = 0; t < 200; ++t) {
    auto k = draw_key(1, 4096, 0.25, t);
    EXPECT_GE(k, 1);
    EXPECT_LE(k, 50000);
    keys.insert(k);
  }
  EXPECT_GT(keys.size(), 190u);
  EXPECT_NE(draw_key(0, 4096, 0.5, 3), draw_key(1, 4096, 0.5, 3));
  EXPECT_NE(draw_key(0, 4096, 0.5, 3), draw_key(0, 8192, 0.5, 3));
  EXPECT_NE(draw_key(0, 4096, 0.5, 3), draw_key(0, 4096, 0.75, 3));
}

TEST(PasskeyScore, FirstInteger) {
  EXPECT_FALSE(first_integer("no digits here").has_value());
  EXPECT_EQ(*first_integer(" 12345."), "12345");
  EXPECT_EQ(*first_integer("The pass key is 42. 42 is"), "42");
  EXPECT_TRUE(is_correct(" 12345. Remember it.", 12345));
  EXPECT_TRUE(is_correct("is 12345", 12345));       // leading text
  EXPECT_TRUE(is_correct("012345", 12345));         // leading zeros
  EXPECT_FALSE(is_correct("1234 5", 12345));        // split by a space: first integer is 1234
  EXPECT_FALSE(is_correct("123456", 12345));        // longer number
  EXPECT_FALSE(is_correct("7 then 12345", 12345));  // only the first integer counts
  EXPECT_FALSE(is_correct("", 12345));
  EXPECT_FALSE(is_correct("-", 12345));
}

TEST(PasskeyTask, ConfigErrors) {
  auto error_of = [](const nlohmann::json& config) -> std::string {
    PasskeyTask task;
    try {
      task.configure(config);
    } catch (const ConfigError& e) {
      return e.field() + ": " + e.what();
    }
    return "";
  };
  EXPECT_NE(error_of({{"trails", 5}}).find("did you mean 'trials'"), std::string::npos);
  EXPECT_EQ(error_of({{"depths", {0.5, 1.5}}}).rfind("depths:", 0), 0u);
  EXPECT_EQ(error_of({{"depths", {0.5, 0.5}}}).rfind("depths:", 0), 0u);
  EXPECT_EQ(error_of({{"depths", nlohmann::json::array()}}).rfind("depths:", 0), 0u);
  EXPECT_EQ(error_of({{"depths", "0.5"}}).rfind("depths:", 0), 0u);
  EXPECT_EQ(error_of({{"threshold", 2}}).rfind("threshold:", 0), 0u);
  EXPECT_EQ(error_of({{"trials", 0}}).rfind("trials:", 0), 0u);
  EXPECT_EQ(error_of(nlohmann::json::object()), "");
}

TEST(PasskeyTask, EvaluatesScoresAndResumes) {
  auto real = load_sentencepiece();
  ASSERT_TRUE(real) << "libe2llm_tokenizer_sentencepiece.so or tok512.model is not there (build it; ../shared/data)";
  const Tokenizer& tok = *real->tokenizer;
  PasskeyTask task;
  task.configure({{"depths", {0.0, 0.5, 1.0}}, {"trials", 3}, {"threshold", 0.5}});
  ReadingModel model(tok, 1024);
  MemoryStore store;
  EvalContext ctx;
  ctx.window = 1024;
  ctx.seed = 7;
  ctx.samples = &store;
  CellResult r = task.evaluate(model, ctx);
  EXPECT_EQ(r.metrics["accuracy"], 1.0);
  EXPECT_EQ(r.metrics["trials"], 9);
  EXPECT_EQ(r.metrics["accuracy_by_depth"]["0.5"], 1.0);
  EXPECT_EQ(r.details["threshold"], 0.5);
  EXPECT_EQ(r.details["target_tokens"], 1014);
  EXPECT_LE(r.details["prompt_tokens_max"].get<std::int64_t>(), 1014);
  EXPECT_GE(r.details["prompt_tokens_min"].get<std::int64_t>(), 1004);
  EXPECT_EQ(model.calls, 9);
  ASSERT_EQ(r.samples.size(), 9u);
  EXPECT_EQ(r.samples[0]["key"], draw_key(7, 1024, 0.0, 0));

  // Resume: nothing is generated again; the numbers are the same.
  ReadingModel again(tok, 1024);
  EXPECT_EQ(task.evaluate(again, ctx).metrics, r.metrics);
  EXPECT_EQ(again.calls, 0);

  // A model that never finds the key.
  ReadingModel wrong(tok, 1024);
  wrong.wrong = true;
  EvalContext fresh;
  fresh.window = 1024;
  fresh.seed = 7;
  CellResult w = task.evaluate(wrong, fresh);
  EXPECT_EQ(w.metrics["accuracy"], 0.0);
  EXPECT_EQ(w.details["passes_threshold"], false);
}

TEST(PasskeyTask, FingerprintFollowsConfig) {
  PasskeyTask a, b;
  a.configure(nlohmann::json::object());
  b.configure({{"trials", 5}});
  EXPECT_NE(a.fingerprint(), b.fingerprint());
}

TEST(PasskeyPlugin, TaskPluginsLoadAndDescribeThemselves) {
  for (std::string name : {"passkey", "proofpile"}) {
    SCOPED_TRACE(name);
    fs::path so = fs::path(E2LLM_PLUGIN_DIR) / ("libe2llm_task_" + name + ".so");
    ASSERT_TRUE(fs::exists(so)) << so;
    boost::dll::shared_library library(so.string(), boost::dll::load_mode::rtld_local);
    const PluginDescriptor* d = library.get<const PluginDescriptor*()>(E2LLM_PLUGIN_ENTRY_POINT_NAME)();
    EXPECT_EQ(d->abi_version, kAbiVersion);
    EXPECT_STREQ(d->kind, "task");
    EXPECT_EQ(d->name, name);
    EXPECT_STREQ(d->version, "1.0.0");
    std::unique_ptr<Task> task(static_cast<Task*>(d->create()));
    EXPECT_EQ(task->info().name, name);
    EXPECT_THROW(task->configure({{"no_such_key", 1}}), ConfigError);
  }
}

// The test double keeps the LanguageModel contract as strictly as the LibTorch model.
TEST(PasskeyTask, ReadingModelKeepsTheLanguageModelContract) {
  WordTokenizer tok;
  ReadingModel model(tok, 64);
  auto prompt = tok.encode("The pass key is 31337. Remember it. What is the pass key?");
  prompt.insert(prompt.begin(), tok.bos_id());
  e2llm::testing::expect_language_model_contract(model, prompt);
}
