// The kv-retrieval task (tasks/kv-retrieval, docs/protocols.md §Key-value retrieval): the
// prompt's JSON parses (nlohmann) with distinct keys and values, the asked pair sits at the
// requested depth, the prompt fills but never exceeds its token target; pairs are seeded by
// the documented rule; scoring and aggregation against a fake model that keeps the
// LanguageModel contract; the plugin loads as the harness loads it.
#include <gtest/gtest.h>

#include <boost/dll/shared_library.hpp>
#include <cmath>
#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "../support/fakes.hpp"
#include "../support/language_model_conformance.hpp"
#include "e2llm/error.hpp"
#include "e2llm/plugin.hpp"
#include "e2llm/util/sha256.hpp"
#include "kv_prompt.hpp"
#include "kv_task.hpp"
#include "real_tokenizer.hpp"

using namespace e2llm;
using namespace e2llm::kv_retrieval;
namespace fs = std::filesystem;
using e2llm::testing::MemoryStore;
using ojson = nlohmann::ordered_json;

namespace {

// The JSON object and the asked key of a prompt text, read back by pattern only.
struct Parsed {
  ojson object;
  std::string asked_key;
};
Parsed parse_prompt(const std::string& text) {
  static const std::regex shape(R"re(JSON object:\n(\{[^\n]*\})\n\nKey: "([^"\n]*)"\nValue:$)re");
  std::smatch m;
  if (!std::regex_search(text, m, shape)) throw std::runtime_error("no JSON object / question in: " + text);
  return {ojson::parse(m[1].str()), m[2].str()};
}

// A model that reads the JSON object of its prompt and answers the asked key's value in
// several tokens; past `fail_beyond` (relative position of the asked key) it answers the
// previous pair's value instead. It keeps the LanguageModel contract the real one enforces.
class OracleModel final : public LanguageModel {
 public:
  OracleModel(const Tokenizer& tokenizer, std::int64_t window) : tokenizer_(tokenizer), window_(window) {}
  std::int64_t window() const override { return window_; }
  const Tokenizer& tokenizer() const override { return tokenizer_; }
  std::vector<float> token_logprobs(const std::vector<std::int32_t>& ids, std::size_t score_from) override {
    e2llm::testing::check_token_logprobs_args(window_, tokenizer_.vocab_size(), ids, score_from);
    // Uniform: the log-probabilities of a distribution, as the contract wants.
    return std::vector<float>(score_from < ids.size() ? ids.size() - score_from : 0,
                              -float(std::log(double(tokenizer_.vocab_size()))));
  }
  std::vector<std::int32_t> generate(const std::vector<std::int32_t>& prompt, const GenerationOptions& o) override {
    e2llm::testing::check_generate_args(window_, tokenizer_.vocab_size(), prompt, o);
    EXPECT_EQ(o.temperature, 0.0);
    ++calls;
    Parsed p = parse_prompt(tokenizer_.decode(prompt));
    std::size_t index = 0;
    std::vector<std::string> values;
    for (auto it = p.object.begin(); it != p.object.end(); ++it) {
      if (it.key() == p.asked_key) index = values.size();
      values.push_back(it.value().get<std::string>());
    }
    const double where = values.size() > 1 ? double(index) / double(values.size() - 1) : 0.0;
    const bool fail = where > fail_beyond && index > 0;
    seen[p.asked_key] = values[index];
    auto ids = tokenizer_.encode(" \"" + values[fail ? index - 1 : index] + "\"\n}");
    while (o.stop_tokens.empty() && std::int64_t(ids.size()) < o.max_new_tokens) ids.push_back(ids.back());
    if (std::int64_t(ids.size()) > o.max_new_tokens) ids.resize(std::size_t(o.max_new_tokens));
    return ids;
  }
  std::vector<std::vector<std::int32_t>> generate_batch(const std::vector<GenerationRequest>& requests,
                                                        const GenerationDone& done) override {
    return e2llm::testing::generate_each(*this, window_, tokenizer_.vocab_size(), requests, done);
  }
  std::int64_t batch_size() const override { return 3; }
  nlohmann::json describe() const override { return {{"model", "oracle"}}; }

  double fail_beyond = 1.0;
  int calls = 0;
  std::map<std::string, std::string> seen;  // asked key -> its value in the prompt

 private:
  const Tokenizer& tokenizer_;
  std::int64_t window_;
};

std::int64_t tokens_of(const Tokenizer& tok, const std::string& text, bool bos) {
  return std::int64_t(tok.encode(text).size()) + (bos ? 1 : 0);
}

}  // namespace

TEST(KvRetrievalPrompt, JsonParsesDistinctPairsAskedAtDepthAndFillsTheTarget) {
  const Tokenizer& tok = kvtest::tok512();
  static const std::regex key_shape("[0-9a-f]{6}"), value_shape("[0-9a-f]{8}");
  for (std::int64_t target : {120, 240, 496, 1008, 4080})
    for (double depth : {0.0, 0.25, 0.5, 0.75, 1.0}) {
      SCOPED_TRACE(::testing::Message() << "target=" << target << " depth=" << depth);
      const std::uint64_t seed = trial_seed(1234, target, depth, 0);
      KvPrompt p = build_prompt(kvtest::bos_always(tok), seed, depth, target);
      const std::size_t n = p.pairs.size();
      ASSERT_GE(n, 1u);
      // Within the target, BOS first, the ids are the text's.
      EXPECT_LE(std::int64_t(p.ids.size()), target);
      EXPECT_EQ(p.ids[0], tok.bos_id());
      EXPECT_EQ(std::int64_t(p.ids.size()), tokens_of(tok, p.text, true));
      // Fills it: one pair more would not fit.
      PairStream more(seed, Shape{});
      const auto& next = more.first(n + 1);
      EXPECT_GT(tokens_of(tok, prompt_text(next, n + 1, asked_index(depth, n + 1)), true), target);
      // The template, exactly.
      EXPECT_EQ(p.text.rfind(std::string(kInstruction) + "\n\nJSON object:\n{", 0), 0u);
      // The object parses; its keys (in order) and values are the pairs, all distinct.
      Parsed parsed = parse_prompt(p.text);
      ASSERT_TRUE(parsed.object.is_object());
      ASSERT_EQ(parsed.object.size(), n) << "a key repeats";
      std::set<std::string> strings;
      std::size_t i = 0, asked_at = n;
      for (auto it = parsed.object.begin(); it != parsed.object.end(); ++it, ++i) {
        EXPECT_TRUE(std::regex_match(it.key(), key_shape)) << it.key();
        EXPECT_TRUE(std::regex_match(it.value().get<std::string>(), value_shape)) << it.value();
        EXPECT_EQ(it.key(), p.pairs[i].key);
        EXPECT_EQ(it.value(), p.pairs[i].value);
        strings.insert(it.key());
        strings.insert(it.value().get<std::string>());
        if (it.key() == parsed.asked_key) asked_at = i;
      }
      EXPECT_EQ(strings.size(), 2 * n) << "a value repeats (or equals a key)";
      // The asked key is the pair at the requested depth: round(depth * (n - 1)).
      ASSERT_LT(asked_at, n);
      EXPECT_EQ(asked_at, p.asked);
      EXPECT_EQ(double(asked_at), std::round(depth * double(n - 1)));
      if (n > 1) {
        EXPECT_LE(std::abs(double(asked_at) / double(n - 1) - depth), 0.5 / double(n - 1) + 1e-12);
      }
    }
  // The window decides the size: about 20 tokens per pair with tok512.
  KvPrompt big = build_prompt(kvtest::bos_always(tok), 1, 0.5, 4080),
           small = build_prompt(kvtest::bos_always(tok), 1, 0.5, 240);
  EXPECT_GT(big.pairs.size(), 150u);
  EXPECT_GE(small.pairs.size(), 5u);
  EXPECT_LT(small.pairs.size(), 15u);
}

TEST(KvRetrievalPrompt, TooSmallATargetIsAnErrorNamingTheNumbers) {
  try {
    build_prompt(kvtest::bos_always(kvtest::tok512()), 1, 0.5, 20);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("target of 20"), std::string::npos) << e.what();
  }
}

TEST(KvRetrievalPrompt, PairsAreSeededByTheDocumentedRule) {
  // derive_seed: the first 8 bytes of sha256("<seed>|<tag>"), big-endian.
  const std::string hex = util::sha256_hex("7|kv-retrieval/window=256/depth=0.5/trial=1");
  EXPECT_EQ(trial_seed(7, 256, 0.5, 1), std::stoull(hex.substr(0, 16), nullptr, 16));
  std::set<std::uint64_t> seeds;
  for (std::uint64_t s : {0ull, 7ull})
    for (std::int64_t w : {256, 512})
      for (double d : {0.0, 0.5})
        for (std::int64_t t : {0, 1}) seeds.insert(trial_seed(s, w, d, t));
  EXPECT_EQ(seeds.size(), 16u);
  // A longer draw starts with the shorter one; the same seed gives the same pairs.
  PairStream a(42, Shape{}), b(42, Shape{}), c(43, Shape{});
  const std::vector<Pair> five(a.first(5).begin(), a.first(5).end());
  const auto& fifty = b.first(50);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(five[i].key, fifty[i].key);
    EXPECT_EQ(five[i].value, fifty[i].value);
  }
  EXPECT_NE(c.first(1)[0].key, five[0].key);
  // Other lengths are honoured.
  PairStream d(42, Shape{4, 12});
  EXPECT_EQ(d.first(3)[2].key.size(), 4u);
  EXPECT_EQ(d.first(3)[2].value.size(), 12u);
  EXPECT_THROW(PairStream(1, Shape{3, 8}), Error);
}

TEST(KvRetrievalScore, FirstRunOfLettersAndDigitsLowercased) {
  EXPECT_EQ(first_run(" \"7B20e4d5\",\n}"), "7b20e4d5");
  EXPECT_EQ(first_run("7b20e4d5"), "7b20e4d5");
  EXPECT_EQ(first_run(" \"\n"), std::nullopt);
  EXPECT_EQ(first_run(""), std::nullopt);
  EXPECT_TRUE(is_correct(" \"7b20e4d5\"", "7b20e4d5"));
  EXPECT_TRUE(is_correct("7B20E4D5 is the value", "7b20e4d5"));
  EXPECT_FALSE(is_correct(" \"7b20e4d\"", "7b20e4d5"));         // a prefix
  EXPECT_FALSE(is_correct(" \"7b20e4d5a\"", "7b20e4d5"));       // longer
  EXPECT_FALSE(is_correct(" the value 7b20e4d5", "7b20e4d5"));  // not the first run
  EXPECT_FALSE(is_correct("", "7b20e4d5"));
}

TEST(KvRetrievalTask, ConfigErrorsNameTheField) {
  auto field_of = [](const nlohmann::json& config) -> std::string {
    KvRetrievalTask t;
    try {
      t.configure(config);
    } catch (const ConfigError& e) {
      return e.field();
    }
    return "";
  };
  EXPECT_EQ(field_of({{"depth", {0.5}}}), "depth");  // unknown key ("did you mean depths?")
  EXPECT_EQ(field_of({{"depths", {0.5, 1.5}}}), "depths");
  EXPECT_EQ(field_of({{"depths", {0.5, 0.5}}}), "depths");
  EXPECT_EQ(field_of({{"depths", {0.0, -0.0}}}), "depths");  // one depth, as numbers (as passkey)
  EXPECT_EQ(field_of({{"trials", 0}}), "trials");
  EXPECT_EQ(field_of({{"key_chars", 3}}), "key_chars");
  EXPECT_EQ(field_of({{"value_chars", 40}}), "value_chars");
  EXPECT_EQ(field_of({{"max_new_tokens", 0}}), "max_new_tokens");
  EXPECT_EQ(field_of({{"threshold", 1.5}}), "threshold");
  EXPECT_EQ(field_of(nlohmann::json::object()), "");
}

TEST(KvRetrievalTask, InfoDeclaresItsViewsAndItems) {
  KvRetrievalTask t;
  const TaskInfo info = t.info();  // before configure(): must not depend on it
  EXPECT_EQ(info.name, "kv-retrieval");
  EXPECT_EQ(info.metrics.at(0).name, "accuracy");
  ASSERT_EQ(info.views.size(), 2u);
  EXPECT_EQ(info.views[0].kind, ViewKind::window_curve);
  EXPECT_EQ(info.views[0].metric, "accuracy");
  EXPECT_EQ(info.views[1].kind, ViewKind::grid);
  EXPECT_EQ(info.views[1].metric, "accuracy_by_depth");
  EXPECT_EQ(info.views[1].row_label, "depth");
  t.configure({{"depths", {0, 0.5, 1}}, {"trials", 4}});
  EXPECT_EQ(t.planned_items(256), 12);
  KvRetrievalTask u;
  u.configure({{"depths", {0, 0.5, 1}}, {"trials", 3}});
  EXPECT_NE(t.fingerprint(), u.fingerprint());
}

// The double runs the LanguageModel conformance suite like every other (on a key-value prompt
// it can answer), so it is never laxer than the LibTorch model.
TEST(KvRetrievalTask, FakeModelKeepsTheContract) {
  const auto& tok = kvtest::tok512();
  KvPrompt p = build_prompt(kvtest::bos_always(tok), 1, 0.5, 200);
  OracleModel model(tok, std::int64_t(p.ids.size()) + 24);
  e2llm::testing::expect_language_model_contract(model, p.ids);
  GenerationOptions o;
  o.max_new_tokens = 16;
  EXPECT_THROW(model.generate(std::vector<std::int32_t>(std::size_t(model.window()) - 15, 5), o), Error);
}

TEST(KvRetrievalTask, ScoresByDepthAgainstAModelThatReadsThePromptAndResumes) {
  KvRetrievalTask task;
  task.configure({{"trials", 2}});  // depths 0, 0.25, 0.5, 0.75, 1
  OracleModel model(kvtest::tok512(), 256);
  model.fail_beyond = 0.6;  // right up to the middle (round(0.5 (n - 1)) may be n/2), wrong after it
  MemoryStore store;
  EvalContext ctx;
  ctx.window = 256;
  ctx.seed = 99;
  ctx.samples = &store;
  CellResult r = task.evaluate(model, ctx);
  EXPECT_EQ(model.calls, 10);
  EXPECT_DOUBLE_EQ(r.metrics.at("accuracy").get<double>(), 6.0 / 10.0);
  const nlohmann::json expected = {{"0", 1.0}, {"0.25", 1.0}, {"0.5", 1.0}, {"0.75", 0.0}, {"1", 0.0}};
  EXPECT_EQ(r.metrics.at("accuracy_by_depth"), expected);
  EXPECT_EQ(r.metrics.at("trials"), 10);
  ASSERT_EQ(r.samples.size(), 10u);
  for (const auto& s : r.samples) {
    EXPECT_LE(s.at("prompt_tokens").get<std::int64_t>(), 256 - 16);
    // The record's key and value are the ones the model found in its prompt.
    EXPECT_EQ(model.seen.at(s.at("key").get<std::string>()), s.at("value").get<std::string>());
  }
  EXPECT_EQ(r.details.at("target_tokens"), 240);

  // A second run reads every sample from the store; a store of another seed is refused.
  OracleModel again(kvtest::tok512(), 256);
  again.fail_beyond = 0.6;
  CellResult resumed = task.evaluate(again, ctx);
  EXPECT_EQ(again.calls, 0);
  EXPECT_EQ(resumed.metrics, r.metrics);
  ctx.seed = 100;
  EXPECT_THROW(task.evaluate(again, ctx), Error);

  // Another seed, another draw; a perfect reader is right everywhere.
  OracleModel perfect(kvtest::tok512(), 512);
  EvalContext fresh;
  fresh.window = 512;
  fresh.seed = 100;
  CellResult all = task.evaluate(perfect, fresh);
  EXPECT_DOUBLE_EQ(all.metrics.at("accuracy").get<double>(), 1.0);
  EXPECT_NE(all.samples[0].at("key"), r.samples[0].at("key"));
}

TEST(KvRetrievalTask, AWindowTooSmallForTheAnswerIsRefused) {
  KvRetrievalTask task;
  task.configure({{"target_tokens", 250}});
  OracleModel model(kvtest::tok512(), 256);
  EvalContext ctx;
  ctx.window = 256;
  EXPECT_THROW(task.evaluate(model, ctx), ConfigError);
}

// With the sweep's tokenizer, set_sweep refuses a window whose prompt target cannot hold a
// one-pair prompt (before any model loads: the dry run); without one only the answer's room is
// checked.
TEST(KvRetrievalTask, SetSweepRefusesAWindowBelowTheShortestPrompt) {
  KvRetrievalTask task;
  task.configure(nlohmann::json::object());
  const Tokenizer& tok = kvtest::tok512();
  const taskkit::PromptFraming framing(tok, task.config().framing, taskkit::kTaskTemplateHint);
  const std::int64_t shortest = shortest_prompt_tokens(framing, task.config().shape),
                     answer = task.config().max_new_tokens;
  const SweepInfo small{{4096, shortest - 1 + answer}, 256, &tok};
  try {
    task.set_sweep(small);
    ADD_FAILURE() << "window " << small.windows[1] << " was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "target_tokens");
    EXPECT_NE(std::string(e.what()).find("kv-retrieval: window " + std::to_string(shortest - 1 + answer) + " leaves " +
                                         std::to_string(shortest - 1) +
                                         " tokens for the prompt, but its shortest prompt (one pair) takes " +
                                         std::to_string(shortest) + " tokens"),
              std::string::npos)
        << e.what();
  }
  EXPECT_NO_THROW(task.set_sweep({{shortest + answer, 4096}, 256, &tok}));
  bool refused = false;  // the bound is one evaluate() meets: some seed's one-pair prompt needs all of it
  for (std::uint64_t seed = 0; seed < 4; ++seed) {
    try {
      build_prompt(framing, seed, 0.0, shortest - 1, task.config().shape);
    } catch (const Error&) {
      refused = true;
    }
  }
  EXPECT_TRUE(refused);
  EXPECT_NO_THROW(task.set_sweep({small.windows, 256, nullptr}));
}

TEST(KvRetrievalPlugin, LoadsAndDescribesItself) {
  const fs::path so = fs::path(E2LLM_PLUGIN_DIR) / "libe2llm_task_kv_retrieval.so";
  ASSERT_TRUE(fs::exists(so)) << so;
  boost::dll::shared_library library(so.string(), boost::dll::load_mode::rtld_local);
  const PluginDescriptor* d = library.get<const PluginDescriptor*()>(E2LLM_PLUGIN_ENTRY_POINT_NAME)();
  EXPECT_EQ(d->abi_version, kAbiVersion);
  EXPECT_STREQ(d->kind, "task");
  EXPECT_STREQ(d->name, "kv-retrieval");
  std::unique_ptr<Task> task(static_cast<Task*>(d->create()));
  EXPECT_EQ(task->info().views.size(), 2u);
  EXPECT_THROW(task->configure({{"no_such_key", 1}}), ConfigError);
}
