// LongBenchTask end to end on the real rows with test doubles for the model: a byte-level
// tokenizer and a "model" that answers with the row's first gold answer.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>

#include "../support/fakes.hpp"
#include "../support/language_model_conformance.hpp"
#include "../support/run_command.hpp"
#include "e2llm/error.hpp"
#include "e2llm/longbench/datasets.hpp"
#include "e2llm/longbench/loader.hpp"
#include "e2llm/longbench/longbench_task.hpp"
#include "e2llm/longbench/middle_truncate.hpp"
#include "e2llm/longbench/predictions.hpp"

namespace fs = std::filesystem;
using namespace e2llm;
using namespace e2llm::longbench;
using e2llm::testing::MemoryStore;
using e2llm::testing::quote;

namespace {

const fs::path kRows = fs::path(E2LLM_SHARED_DATA) / "longbench" / "rows";

// The task never decodes BOS or a stop token: decoding one here throws.
class StrictByteTokenizer : public e2llm::testing::ByteTokenizer {
 public:
  StrictByteTokenizer() : ByteTokenizer(Specials::refuse) {}
};

// Finds the question at the end of the prompt and answers with the gold answer it was given.
class OracleModel : public LanguageModel {
 public:
  OracleModel(std::int64_t window, std::map<std::string, std::string> answers)
      : window_(window), answers_(std::move(answers)) {}
  std::int64_t window() const override { return window_; }
  const Tokenizer& tokenizer() const override { return tokenizer_; }
  // Every token equally likely; the contract's bounds as the LibTorch model keeps them.
  std::vector<float> token_logprobs(const std::vector<std::int32_t>& ids, std::size_t score_from) override {
    e2llm::testing::check_token_logprobs_args(window_, tokenizer_.vocab_size(), ids, score_from);
    return std::vector<float>(score_from < ids.size() ? ids.size() - score_from : 0,
                              -std::log(float(tokenizer_.vocab_size())));
  }
  std::vector<std::int32_t> generate(const std::vector<std::int32_t>& prompt,
                                     const GenerationOptions& options) override {
    ++calls;
    e2llm::testing::check_generate_args(window_, tokenizer_.vocab_size(), prompt, options);
    EXPECT_EQ(prompt.front(), tokenizer_.bos_id());
    EXPECT_EQ(options.temperature, 0.0);
    // The task stops at EOS; only the conformance suite may ask for a generation without a stop.
    if (!(allow_no_stop && options.stop_tokens.empty())) {
      EXPECT_EQ(options.stop_tokens, std::vector<std::int32_t>{tokenizer_.eos_id()});
    }
    max_prompt = std::max(max_prompt, prompt.size());
    std::string text = tokenizer_.decode(std::vector<std::int32_t>(prompt.begin() + 1, prompt.end()));
    for (const auto& [key, answer] : answers_) {
      // The question (and the summary instruction) sit at the end: truncation keeps them.
      if (text.size() >= key.size() && text.compare(text.size() - key.size(), key.size(), key) == 0) {
        std::vector<std::int32_t> out = tokenizer_.encode(answer);
        while (options.stop_tokens.empty() && static_cast<std::int64_t>(out.size()) < options.max_new_tokens)
          out.push_back(' ' + 3);  // no stop token to end on: on to max_new_tokens
        if (static_cast<std::int64_t>(out.size()) > options.max_new_tokens) out.resize(options.max_new_tokens);
        return out;
      }
    }
    ADD_FAILURE() << "no known question at the end of the prompt";
    return {};
  }
  std::vector<std::vector<std::int32_t>> generate_batch(const std::vector<GenerationRequest>& requests,
                                                        const GenerationDone& done) override {
    return e2llm::testing::generate_each(*this, window_, tokenizer_.vocab_size(), requests, done);
  }
  std::int64_t batch_size() const override { return 3; }
  nlohmann::json describe() const override { return {{"model", "oracle"}}; }

  int calls = 0;
  std::size_t max_prompt = 0;
  bool allow_no_stop = false;

 private:
  std::int64_t window_;
  StrictByteTokenizer tokenizer_;
  std::map<std::string, std::string> answers_;
};

class CountingProgress : public ProgressSink {
 public:
  void update(std::size_t done, std::size_t total, std::string_view) override { last_done = done, last_total = total; }
  std::size_t last_done = 0, last_total = 0;
};

const std::vector<std::string> kDatasets = {"qasper", "hotpotqa", "gov_report"};

// The prompt's last characters (end of the context, question) -> the row's first answer.
std::map<std::string, std::string> oracle_answers() {
  std::map<std::string, std::string> out;
  for (const auto& name : kDatasets) {
    const DatasetSpec& spec = dataset(name);
    for (const Row& row : load_rows(kRows / (name + ".jsonl"))) {
      std::string prompt = build_prompt(spec, row.context, row.input);
      std::string tail = prompt.substr(prompt.size() - std::min<std::size_t>(prompt.size(), 200));
      out[tail] = row.answers[0];
    }
  }
  return out;
}

fs::path temp_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("e2llm_longbench_task_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  return dir;
}

// LongBench's score of answering each row with the first `bytes` bytes of its first answer,
// from the official metric run by metrics_oracle.py.
double official_prefix_score(const std::string& name, const std::string& metric, int bytes) {
  const fs::path source = E2LLM_SOURCE_DIR;
  const std::string command = quote((source / ".venv/bin/python").string()) + " " +
                              quote((source / "tests/longbench/metrics_oracle.py").string()) + " --prefix-score " +
                              quote((kRows / (name + ".jsonl")).string()) + " " + metric + " " + std::to_string(bytes);
  auto r = e2llm::testing::run_command(command);
  EXPECT_EQ(r.exit_code, 0) << command << "\n" << r.err;
  return r.exit_code == 0 ? std::stod(r.out) : -1.0;
}

nlohmann::json base_config() {
  return {{"data_dir", kRows.string()}, {"datasets", kDatasets}};
}

std::string config_error(const nlohmann::json& config) {
  LongBenchTask task;
  try {
    task.configure(config);
  } catch (const ConfigError& e) {
    return e.field() + ": " + e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(longbench_prompts, MatchTheOfficialTemplates) {
  EXPECT_EQ(dataset_names().size(), 9u);
  EXPECT_EQ(build_prompt(dataset("hotpotqa"), "C {input} D", "Q"),
            "Answer the question based on the given passages. Only give me the answer and do not output any other "
            "words.\n\nThe following are given passages.\nC {input} D\n\nAnswer the question based on the given "
            "passages. Only give me the answer and do not output any other words.\n\nQuestion: Q\nAnswer:");
  EXPECT_NE(dataset("narrativeqa").prompt.find("asconcisely"), std::string::npos);
  EXPECT_EQ(dataset("gov_report").max_new_tokens, 512);
  EXPECT_EQ(dataset("multifieldqa_en").max_new_tokens, 64);
  EXPECT_EQ(dataset("musique").metric, Metric::qa_f1);
  EXPECT_EQ(dataset("multi_news").metric, Metric::rouge);
  try {
    dataset("hotpot_qa");
    FAIL();
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("did you mean 'hotpotqa'"), std::string::npos) << what;
    EXPECT_NE(what.find("known: narrativeqa, qasper"), std::string::npos) << what;
  }
}

TEST(longbench_middle_truncate, KeepsHeadAndTailHalves) {
  std::vector<std::int32_t> ids{1, 2, 3, 4, 5, 6, 7};
  EXPECT_EQ(keep_head_and_tail(ids, 7), ids);
  EXPECT_EQ(keep_head_and_tail(ids, 4), (std::vector<std::int32_t>{1, 2, 6, 7}));
  EXPECT_EQ(keep_head_and_tail(ids, 5), (std::vector<std::int32_t>{1, 2, 6, 7}));  // int(5/2) = 2 each side

  StrictByteTokenizer tokenizer;
  const taskkit::PromptFraming plain(tokenizer, {}, "");  // the tokenizer's rule: BOS, no template
  TruncatedPrompt short_prompt = truncate_prompt(plain, plain, "abc", 10);
  EXPECT_FALSE(short_prompt.truncated);
  EXPECT_EQ(short_prompt.ids.size(), 4u);  // BOS + 3
  // BOS counts toward the budget and is skipped when the head is decoded.
  TruncatedPrompt cut = truncate_prompt(plain, plain, "abcdefghij", 6);
  EXPECT_TRUE(cut.truncated);
  EXPECT_EQ(cut.original_tokens, 11u);
  EXPECT_EQ(tokenizer.decode(std::vector<std::int32_t>(cut.ids.begin() + 1, cut.ids.end())), "abhij");
  EXPECT_EQ(cut.ids.front(), 1);
}

TEST(longbench_task, EvaluatesScoresResumesAndWritesPredictions) {
  fs::path out = temp_dir("predictions");
  nlohmann::json config = base_config();
  config["out_dir"] = out.string();
  LongBenchTask task;
  task.configure(config);

  const std::int64_t window = 4096;
  OracleModel model(window, oracle_answers());
  MemoryStore store;
  CountingProgress progress;
  EvalContext context;
  context.window = window;
  context.samples = &store;
  context.progress = &progress;
  CellResult result = task.evaluate(model, context);

  EXPECT_EQ(model.calls, 6);
  EXPECT_EQ(progress.last_done, 6u);
  EXPECT_EQ(progress.last_total, 6u);
  EXPECT_EQ(result.samples.size(), 6u);
  EXPECT_EQ(store.rows.size(), 6u);
  // Every real row is longer than 3596 bytes: all are cut to the budget exactly (bytes
  // decode and encode losslessly), with room left for the answer.
  EXPECT_EQ(model.max_prompt, 3596u);
  for (const auto& s : result.samples) {
    EXPECT_TRUE(s.at("truncated").get<bool>());
    EXPECT_EQ(s.at("prompt_tokens").get<std::size_t>(), 3596u);
    EXPECT_LE(s.at("prompt_tokens").get<std::int64_t>() + s.at("max_new_tokens").get<std::int64_t>(), window);
  }
  const auto& details = result.details;
  // The oracle answers with a gold answer: qa_f1 = 1 -> 100.0. Its gov_report summaries are
  // cut at 500 tokens (512 capped so that 3596 + 500 fits the window) = 500 bytes; the
  // official ROUGE-L of those prefixes comes from the PyPI rouge package (metrics_oracle.py).
  EXPECT_EQ(result.metrics.at("qasper").get<double>(), 100.0);
  EXPECT_EQ(result.metrics.at("hotpotqa").get<double>(), 100.0);
  const double gov = result.metrics.at("gov_report").get<double>();
  EXPECT_EQ(gov, official_prefix_score("gov_report", "rouge", 500));
  EXPECT_EQ(result.metrics.at("avg_en").get<double>(), python_round((100.0 + 100.0 + gov) / 3, 2));
  for (const auto& s : result.samples) {
    int expected = s.at("dataset") == "gov_report" ? 500 : dataset(s.at("dataset").get<std::string>()).max_new_tokens;
    EXPECT_EQ(s.at("max_new_tokens").get<int>(), expected);
  }
  EXPECT_EQ(details.at("datasets").at("gov_report").at("max_new_tokens_capped").get<int>(), 2);
  EXPECT_GT(result.tokens_processed, 6u * 3596u);
  EXPECT_EQ(details.at("budget_rule"), "window_minus_reserve");
  EXPECT_EQ(details.at("datasets").at("gov_report").at("budget").get<int>(), 3596);
  EXPECT_EQ(details.at("datasets").at("gov_report").at("max_new_tokens").get<int>(), 512);
  EXPECT_EQ(details.at("datasets").at("qasper").at("truncated").get<int>(), 2);
  EXPECT_NE(details.at("truncation").get<std::string>().find("decode(ids[:half])"), std::string::npos);

  // Prediction files in LongBench's format score the same as the cell.
  for (const auto& name : kDatasets) {
    fs::path file = out / (name + ".jsonl");
    ASSERT_TRUE(fs::exists(file)) << file;
    std::vector<Prediction> predictions = read_predictions(file);
    ASSERT_EQ(predictions.size(), 2u);
    EXPECT_TRUE(predictions[0].length.is_number_integer());
    nlohmann::json scored = task.score_predictions({{"dataset", name}, {"file", file.string()}, {"per_sample", true}});
    EXPECT_EQ(scored.at("score"), result.metrics.at(name));
    EXPECT_EQ(scored.at("per_sample").size(), 2u);
  }

  // A second run over the same store generates nothing and reports the same numbers.
  OracleModel again(window, oracle_answers());
  CellResult resumed = task.evaluate(again, context);
  EXPECT_EQ(again.calls, 0);
  EXPECT_EQ(resumed.metrics, result.metrics);
  EXPECT_EQ(resumed.details.at("datasets").at("qasper").at("resumed").get<int>(), 2);
}

TEST(longbench_task, BudgetRules) {
  const DatasetSpec& gov = dataset("gov_report");
  TaskConfig c;
  EXPECT_EQ(prompt_budget(c, 4096, gov), 3596);
  c.budget_rule = BudgetRule::window_minus_max_new;
  EXPECT_EQ(prompt_budget(c, 4096, gov), 3584);
  c.budget_rule = BudgetRule::fixed;
  c.budget = 3500;
  EXPECT_EQ(prompt_budget(c, 4096, gov), 3500);
  EXPECT_THROW(prompt_budget(c, 3000, gov), Error);
  c.budget_rule = BudgetRule::window_minus_reserve;
  EXPECT_THROW(prompt_budget(c, 400, gov), Error);

  LongBenchTask task;
  nlohmann::json config = base_config();
  config["budget"] = 1000;
  task.configure(config);
  EXPECT_EQ(task.config().budget_rule, BudgetRule::fixed);
  EXPECT_EQ(task.config().budget, 1000);
}

TEST(longbench_task, SmallWindowCapsTheAnswerToFit) {
  // W = 1024, reserve 500: gov_report's 512 new tokens are capped to fit the window.
  LongBenchTask task;
  nlohmann::json config = base_config();
  config["datasets"] = {"gov_report"};
  config["limit"] = 1;
  task.configure(config);
  OracleModel model(1024, oracle_answers());
  EvalContext context;
  CellResult result = task.evaluate(model, context);
  ASSERT_EQ(result.samples.size(), 1u);
  EXPECT_EQ(result.samples[0].at("prompt_tokens").get<int>(), 524);
  EXPECT_EQ(result.samples[0].at("max_new_tokens").get<int>(), 500);
  EXPECT_EQ(result.details.at("datasets").at("gov_report").at("max_new_tokens_capped").get<int>(), 1);
}

namespace {

// Decoding writes every byte twice, so a re-encoded truncated prompt is twice the budget.
class DoublingTokenizer : public StrictByteTokenizer {
 public:
  std::string decode(const std::vector<std::int32_t>& ids) const override {
    std::string once = StrictByteTokenizer::decode(ids), twice;
    for (char c : once) twice += std::string(2, c);
    return twice;
  }
};

class ShortAnswerModel : public LanguageModel {
 public:
  explicit ShortAnswerModel(std::int64_t window) : window_(window) {}
  std::int64_t window() const override { return window_; }
  const Tokenizer& tokenizer() const override { return tokenizer_; }
  std::vector<float> token_logprobs(const std::vector<std::int32_t>& ids, std::size_t score_from) override {
    e2llm::testing::check_token_logprobs_args(window_, tokenizer_.vocab_size(), ids, score_from);
    return std::vector<float>(score_from < ids.size() ? ids.size() - score_from : 0,
                              -std::log(float(tokenizer_.vocab_size())));
  }
  std::vector<std::int32_t> generate(const std::vector<std::int32_t>& prompt,
                                     const GenerationOptions& options) override {
    e2llm::testing::check_generate_args(window_, tokenizer_.vocab_size(), prompt, options);
    auto out = tokenizer_.encode("summary");
    while (options.stop_tokens.empty() && out.size() < std::size_t(options.max_new_tokens)) out.push_back(' ' + 3);
    out.resize(std::min(out.size(), std::size_t(options.max_new_tokens)));
    return out;
  }
  std::vector<std::vector<std::int32_t>> generate_batch(const std::vector<GenerationRequest>& requests,
                                                        const GenerationDone& done) override {
    return e2llm::testing::generate_each(*this, window_, tokenizer_.vocab_size(), requests, done);
  }
  std::int64_t batch_size() const override { return 3; }
  nlohmann::json describe() const override { return {}; }

 private:
  std::int64_t window_;
  DoublingTokenizer tokenizer_;
};

}  // namespace

TEST(longbench_task, WindowGuardCutsIdsWhenReencodingOverflows) {
  LongBenchTask task;
  nlohmann::json config = base_config();
  config["datasets"] = {"gov_report"};
  config["limit"] = 1;
  task.configure(config);
  ShortAnswerModel model(1024);
  EvalContext context;
  CellResult result = task.evaluate(model, context);
  ASSERT_EQ(result.samples.size(), 1u);
  const auto& s = result.samples[0];
  EXPECT_TRUE(s.at("window_cut").get<bool>());
  EXPECT_EQ(s.at("prompt_tokens").get<int>(), 524);  // budget 1024 - 500, cut on the ids
  EXPECT_EQ(s.at("max_new_tokens").get<int>(), 500);
  EXPECT_EQ(result.details.at("datasets").at("gov_report").at("window_cut").get<int>(), 1);
}

TEST(longbench_task, FingerprintFollowsConfigAndData) {
  LongBenchTask a, b, c;
  a.configure(base_config());
  b.configure(base_config());
  nlohmann::json limited = base_config();
  limited["limit"] = 1;
  c.configure(limited);
  EXPECT_EQ(a.fingerprint().size(), 64u);
  EXPECT_EQ(a.fingerprint(), b.fingerprint());
  EXPECT_NE(a.fingerprint(), c.fingerprint());
  // out_dir changes no number, so no cell key.
  nlohmann::json with_out = base_config();
  with_out["out_dir"] = "/tmp/elsewhere";
  LongBenchTask d;
  d.configure(with_out);
  EXPECT_EQ(a.fingerprint(), d.fingerprint());
  LongBenchTask unconfigured;
  EXPECT_THROW(unconfigured.fingerprint(), Error);
}

TEST(longbench_task, ConfigErrorsNameTheField) {
  nlohmann::json unknown = base_config();
  unknown["datasets"] = {"qasper", "gov_reprot"};
  std::string what = config_error(unknown);
  EXPECT_EQ(what.rfind("datasets: ", 0), 0u) << what;
  EXPECT_NE(what.find("did you mean 'gov_report'"), std::string::npos) << what;

  nlohmann::json typo = base_config();
  typo["limt"] = 3;
  EXPECT_NE(config_error(typo).find("did you mean 'limit'"), std::string::npos);

  nlohmann::json missing = base_config();
  missing["datasets"] = {"narrativeqa"};  // not among the shared test rows
  what = config_error(missing);
  EXPECT_EQ(what.rfind("data_dir: ", 0), 0u) << what;
  EXPECT_NE(what.find("narrativeqa.jsonl"), std::string::npos) << what;
  // The error lists what the folder does hold, so a wrong data_dir is seen at once.
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(kRows))
    if (e.path().extension() == ".jsonl") found.push_back(e.path().filename().string());
  ASSERT_FALSE(found.empty());
  for (const auto& f : found) EXPECT_NE(what.find(f), std::string::npos) << f << " missing from: " << what;
  nlohmann::json empty_dir = base_config();
  empty_dir["data_dir"] = temp_dir("empty").string();
  fs::create_directories(temp_dir("empty"));
  EXPECT_NE(config_error(empty_dir).find("found no .jsonl files"), std::string::npos) << config_error(empty_dir);
  empty_dir["data_dir"] = (temp_dir("absent") / "nowhere").string();
  EXPECT_NE(config_error(empty_dir).find("found no such folder"), std::string::npos) << config_error(empty_dir);

  EXPECT_EQ(config_error(nlohmann::json::object()).rfind("data_dir: ", 0), 0u);
  nlohmann::json rule = base_config();
  rule["budget_rule"] = "fixed";
  EXPECT_EQ(config_error(rule).rfind("budget: ", 0), 0u);
  nlohmann::json negative = base_config();
  negative["limit"] = -1;
  EXPECT_EQ(config_error(negative).rfind("limit: ", 0), 0u);
}

TEST(longbench_task, ScoreRequestsAreChecked) {
  LongBenchTask task;
  EXPECT_THROW(task.score_predictions({{"file", "x.jsonl"}}), Error);
  EXPECT_THROW(task.score_predictions({{"dataset", "qasper"}}), Error);
  EXPECT_THROW(task.score_predictions({{"dataset", "qasperr"}, {"file", "x.jsonl"}}), Error);
  nlohmann::json scored =
      task.score_predictions({{"dataset", "gov_report"},
                              {"file", std::string(E2LLM_SHARED_DATA) + "/longbench/predictions/gov_report.jsonl"},
                              {"per_sample", true}});
  EXPECT_EQ(scored.at("score").get<double>(), 26.93);
  EXPECT_EQ(scored.at("metric"), "rouge_score");
  EXPECT_EQ(scored.at("per_sample").size(), 200u);
}

TEST(longbench_predictions, LinesLookLikePythonJsonDump) {
  Prediction p{" Yes \"q\"\n\u00e9", {"yes", "no"}, nullptr, 42, 1};
  EXPECT_EQ(prediction_line(p), R"({"pred": " Yes \"q\"\n)"
                                "\u00e9"
                                R"(", "answers": ["yes", "no"], "all_classes": null, "length": 42})");
}

// The test doubles keep the LanguageModel contract as strictly as the LibTorch model.
TEST(longbench_task, TestModelsKeepTheLanguageModelContract) {
  const auto answers = oracle_answers();
  StrictByteTokenizer bytes;
  std::vector<std::int32_t> prompt{bytes.bos_id()};
  for (auto id : bytes.encode(answers.begin()->first)) prompt.push_back(id);
  OracleModel oracle(512, answers);
  oracle.allow_no_stop = true;
  GenerationOptions options;
  options.stop_tokens = {bytes.eos_id()};
  e2llm::testing::expect_language_model_contract(oracle, prompt, options);
  ShortAnswerModel short_answer(512);
  e2llm::testing::expect_language_model_contract(short_answer);
}
