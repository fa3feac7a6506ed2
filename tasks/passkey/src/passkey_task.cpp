#include "passkey_task.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "e2llm/config_reader.hpp"
#include "e2llm/error.hpp"
#include "e2llm/taskkit/lists.hpp"
#include "e2llm/taskkit/prompt_budget.hpp"
#include "e2llm/taskkit/sample_loop.hpp"
#include "e2llm/taskkit/uncertainty.hpp"
#include "e2llm/util/sha256.hpp"
#include "passkey_prompt.hpp"

namespace e2llm::passkey {

namespace {
constexpr const char* kVersion = "1.1.0";  // 1.1: intervals (uncertainty)

// Accuracy per backend and window (with the largest window that passes the threshold),
// then depth x window per backend.
std::vector<ReportView> report_views() {
  ReportView accuracy;
  accuracy.kind = ViewKind::window_curve;
  accuracy.title = "Passkey retrieval";
  accuracy.metric = "accuracy";
  accuracy.quantity = "accuracy";
  accuracy.note = "Accuracy (higher is better), rows = backends, columns = window W.";
  accuracy.note_html = "";
  accuracy.format = ValueFormat::percent;
  accuracy.summary = WindowSummary::mean;
  accuracy.pass_threshold = PasskeyConfig{}.threshold;
  accuracy.threshold_key = "threshold";
  accuracy.relative_threshold = 0.9;  // 90% of what the base retrieves at its own window
  ReportView by_depth;
  by_depth.kind = ViewKind::grid;
  by_depth.title = "Accuracy by depth";
  by_depth.metric = "accuracy_by_depth";
  by_depth.quantity = "accuracy";
  by_depth.note_html = "";
  by_depth.format = ValueFormat::percent;
  by_depth.row_label = "depth";
  return {accuracy, by_depth};
}

}  // namespace

TaskInfo PasskeyTask::info() const {
  TaskInfo info{"passkey",
                kVersion,
                "Passkey retrieval (Landmark-attention template): find a 1-50000 key hidden in filler text",
                {{"accuracy", true}, {"trials", true}}};
  info.views = report_views();
  return info;
}

std::optional<std::int64_t> PasskeyTask::planned_items(std::int64_t /*window*/) const {
  return std::int64_t(config_.depths.size()) * config_.trials;
}

void PasskeyTask::configure(const nlohmann::json& config) {
  ConfigReader cfg(config);
  PasskeyConfig c;
  if (cfg.has("depths")) c.depths = taskkit::number_list(config.at("depths"), "depths");
  c.trials = cfg.get<std::int64_t>("trials", c.trials);
  c.threshold = cfg.get<double>("threshold", c.threshold);
  c.max_new_tokens = cfg.get<std::int32_t>("max_new_tokens", c.max_new_tokens);
  c.target_tokens = cfg.get<std::int64_t>("target_tokens", c.target_tokens);
  c.framing = taskkit::read_framing_config(cfg);
  cfg.finish();
  for (double d : c.depths)
    if (!(d >= 0.0 && d <= 1.0)) throw ConfigError("depths", fmt::format("depth {} is not in [0, 1]", d));
  std::vector<double> sorted = c.depths;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    throw ConfigError("depths", "lists a depth twice");
  if (c.trials < 1) throw ConfigError("trials", "must be >= 1");
  if (!(c.threshold >= 0.0 && c.threshold <= 1.0)) throw ConfigError("threshold", "must be in [0, 1]");
  if (c.max_new_tokens < 1) throw ConfigError("max_new_tokens", "must be >= 1");
  if (c.target_tokens < 0) throw ConfigError("target_tokens", "must be >= 0 (0 = window - max_new_tokens)");
  config_ = c;
  configured_ = true;
}

std::int64_t PasskeyTask::target_tokens_for(std::int64_t window) const {
  return taskkit::retrieval_prompt_tokens("passkey", window, config_.target_tokens, config_.max_new_tokens);
}

void PasskeyTask::set_sweep(const SweepInfo& sweep) {
  // Every window is checked now, before the sweep prepares or trains anything.
  taskkit::check_retrieval_windows("passkey", sweep.windows, config_.target_tokens, config_.max_new_tokens);
}

std::string PasskeyTask::fingerprint() const {
  if (!configured_) throw Error("passkey: fingerprint() called before configure()");
  nlohmann::json resolved = {
      {"task", "passkey"},
      {"version", kVersion},
      {"template", std::string(kTaskDescription) + "|" + kFiller + "|" + key_line(0) + "|" + kQuestion},
      {"depths", config_.depths},
      {"trials", config_.trials},
      {"threshold", config_.threshold},
      {"max_new_tokens", config_.max_new_tokens},
      {"target_tokens", config_.target_tokens}};
  taskkit::add_framing_fingerprint(resolved, config_.framing);
  return util::sha256_hex(resolved.dump());
}

namespace {

struct Trial {
  std::string id;
  double depth;
  std::int64_t trial, key;
};

// One trial's record: its prompt (the key at `t.depth`), the greedy generation, the score.
nlohmann::json trial_record(const Tokenizer& tokenizer, const Trial& t, std::int64_t window,
                            const PasskeyPrompt& prompt, const std::vector<std::int32_t>& generated) {
  std::string output = tokenizer.decode(generated);
  auto answer = first_integer(output);
  return nlohmann::json{{"id", t.id},
                        {"window", window},
                        {"depth", t.depth},
                        {"trial", t.trial},
                        {"key", t.key},
                        {"prompt_tokens", prompt.ids.size()},
                        {"key_token", prompt.key_token},
                        {"filler_chars", {prompt.prefix_chars, prompt.suffix_chars}},
                        {"generated_tokens", generated.size()},
                        {"output", output},
                        {"answer", answer ? nlohmann::json(*answer) : nlohmann::json(nullptr)},
                        {"correct", is_correct(output, t.key)}};
}

// What the records add up to.
struct Tally {
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> by_depth;  // depth -> (correct, trials)
  std::int64_t correct = 0, total = 0, prompt_min = INT64_MAX, prompt_max = 0;
  std::uint64_t tokens = 0;
};

Tally tally(const std::vector<Trial>& trials, const std::vector<nlohmann::json>& records) {
  Tally t;
  for (std::size_t i = 0; i < trials.size(); ++i) {
    const bool ok = records[i].at("correct").get<bool>();
    const auto prompt_tokens = records[i].at("prompt_tokens").get<std::int64_t>();
    t.correct += ok;
    ++t.total;
    auto& [depth_correct, depth_trials] = t.by_depth[taskkit::format_fraction(trials[i].depth)];
    depth_correct += ok;
    ++depth_trials;
    t.prompt_min = std::min(t.prompt_min, prompt_tokens);
    t.prompt_max = std::max(t.prompt_max, prompt_tokens);
    t.tokens += std::uint64_t(prompt_tokens) + records[i].at("generated_tokens").get<std::uint64_t>();
  }
  return t;
}

// Prompts are the items (0/1 each): Wilson and bootstrap intervals of the accuracy, overall
// and per depth; cells on the same prompts compare by exact McNemar (docs/statistics.md).
nlohmann::json uncertainty(const std::vector<Trial>& trials, const std::vector<nlohmann::json>& records,
                           std::uint64_t seed) {
  taskkit::UncertaintyBuilder u({0.95, 2000, seed});
  taskkit::ItemTable& items = u.items();
  for (std::size_t i = 0; i < trials.size(); ++i) {
    items.ids.push_back(trials[i].id);
    items.strata.push_back(taskkit::format_fraction(trials[i].depth));
    items.columns["correct"].push_back(records[i].at("correct").get<bool>() ? 1.0 : 0.0);
  }
  const taskkit::MetricSpec accuracy{taskkit::Statistic::ratio,          "correct", "", "", 1.0,
                                     taskkit::PairedTest::mcnemar_exact, true};
  u.add("accuracy", accuracy);
  for (const auto& depth : items.strata) {
    taskkit::MetricSpec at_depth = accuracy;
    at_depth.stratum = depth;
    u.add_row("accuracy_by_depth", depth, at_depth);
  }
  return u.to_json();
}

}  // namespace

CellResult PasskeyTask::evaluate(LanguageModel& model, EvalContext& context) {
  if (!configured_) throw Error("passkey: evaluate() called before configure()");
  const std::int64_t window = context.window > 0 ? context.window : model.window();
  const std::int64_t target = target_tokens_for(window);  // throws when the prompt cannot fit
  const taskkit::PromptFraming framing(model.tokenizer(), config_.framing, taskkit::kTaskTemplateHint);
  GenerationOptions options;
  options.max_new_tokens = config_.max_new_tokens;
  options.temperature = 0.0;  // greedy
  options.stop_tokens = framing.stop_tokens();

  std::vector<Trial> trials;
  std::vector<taskkit::Sample> samples;
  for (double depth : config_.depths)
    for (std::int64_t trial = 0; trial < config_.trials; ++trial) {
      std::string id = fmt::format("window={}/depth={}/trial={}", window, taskkit::format_fraction(depth), trial);
      trials.push_back({id, depth, trial, draw_key(context.seed, window, depth, trial)});
      samples.push_back({id});
    }
  auto reuse = [&](std::size_t i, const nlohmann::json& stored) -> std::optional<nlohmann::json> {
    if (stored.value("key", std::int64_t(-1)) != trials[i].key)
      throw Error(
          fmt::format("passkey: the stored record {} has key {}, this run draws {}: the sample store belongs "
                      "to another seed or version (delete the cell to redo it)",
                      trials[i].id, stored.value("key", std::int64_t(-1)), trials[i].key));
    return stored;
  };
  // The trials not stored yet are generated together (the model batches them).
  std::vector<PasskeyPrompt> prompts(trials.size());
  auto request = [&](std::size_t i) {
    prompts[i] = build_prompt(framing, trials[i].key, trials[i].depth, target);
    return GenerationRequest{prompts[i].ids, options};
  };
  auto finish = [&](std::size_t i, const std::vector<std::int32_t>& generated) {
    return trial_record(model.tokenizer(), trials[i], window, prompts[i], generated);
  };
  CellResult result;
  result.samples = taskkit::run_generation_samples(context, model, samples, "trials", reuse, request, finish);
  const Tally t = tally(trials, result.samples);
  const double accuracy = double(t.correct) / double(t.total);
  nlohmann::json accuracy_by_depth = nlohmann::json::object();
  for (double depth : config_.depths) {
    const auto& [c, n] = t.by_depth.at(taskkit::format_fraction(depth));
    accuracy_by_depth[taskkit::format_fraction(depth)] = double(c) / double(n);
  }
  result.metrics = {{"accuracy", accuracy}, {"accuracy_by_depth", accuracy_by_depth}, {"trials", t.total}};
  result.uncertainty = uncertainty(trials, result.samples, context.seed);
  result.tokens_processed = t.tokens;
  const Tokenizer& tokenizer = model.tokenizer();
  const std::int64_t prompt_min = t.prompt_min, prompt_max = t.prompt_max;
  result.details = {
      {"template",
       "landmark-attention passkey (docs/protocols.md §Passkey): lines joined with \\n; prefix and suffix cut from the "
       "start of the filler repeated with spaces; prefix:suffix = depth:(1 - depth) in characters"},
      {"window", window},
      {"target_tokens", target},
      {"target_rule", config_.target_tokens > 0
                          ? "explicit"
                          : "window - max_new_tokens (BOS and the chat template's tokens included)"},
      {"prompt_tokens_min", prompt_min},
      {"prompt_tokens_max", prompt_max},
      {"depths", config_.depths},
      {"trials_per_depth", config_.trials},
      {"max_new_tokens", config_.max_new_tokens},
      {"decoding", framing.chat() ? "greedy, stops at EOS or the template's end of turn" : "greedy, stops at EOS"},
      {"scoring", "the first run of ASCII digits in the decoded output equals the key"},
      {"key_rule",
       "uniform in [1, 50000] by SplitMix64 seeded with derive_seed(seed, "
       "\"passkey/window=W/depth=D/trial=T\")"},
      {"seed", context.seed},
      {"threshold", config_.threshold},
      {"passes_threshold", accuracy >= config_.threshold},
      {"add_bos", taskkit::bos_rule_json(config_.framing.add_bos)},
      {"prompt_framing", framing.record()},
      {"tokenizer",
       {{"fingerprint", tokenizer.fingerprint()},
        {"model_path", tokenizer.model_path()},
        {"vocab_size", tokenizer.vocab_size()}}}};
  return result;
}

}  // namespace e2llm::passkey
