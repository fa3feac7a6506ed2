#include "kv_task.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <map>

#include "e2llm/config_reader.hpp"
#include "e2llm/error.hpp"
#include "e2llm/taskkit/lists.hpp"
#include "e2llm/taskkit/prompt_budget.hpp"
#include "e2llm/taskkit/sample_loop.hpp"
#include "e2llm/taskkit/uncertainty.hpp"
#include "e2llm/util/sha256.hpp"

namespace e2llm::kv_retrieval {

namespace {

// Accuracy per backend and window, then depth x window per backend.
std::vector<ReportView> report_views() {
  ReportView accuracy;
  accuracy.kind = ViewKind::window_curve;
  accuracy.title = "Key-value retrieval";
  accuracy.metric = "accuracy";
  accuracy.quantity = "accuracy";
  accuracy.note =
      "Exact-match accuracy (higher is better) of the value asked for in a JSON object of random hex keys and "
      "values that fills the window; rows = backends, columns = window W.";
  accuracy.format = ValueFormat::percent;
  accuracy.summary = WindowSummary::mean;
  accuracy.pass_threshold = KvConfig{}.threshold;
  accuracy.threshold_key = "threshold";
  accuracy.relative_threshold = 0.9;  // 90% of what the base retrieves at its own window
  ReportView by_depth;
  by_depth.kind = ViewKind::grid;
  by_depth.title = "Key-value accuracy by depth";
  by_depth.metric = "accuracy_by_depth";
  by_depth.quantity = "accuracy";
  by_depth.note = "Depth of the asked pair in the object (0 = first pair, 1 = last) x window W.";
  by_depth.format = ValueFormat::percent;
  by_depth.row_label = "depth";
  return {accuracy, by_depth};
}

struct Trial {
  std::string id;
  double depth;
  std::int64_t trial;
  std::uint64_t seed;
};

// Every (depth, trial) of one window, depth-major: the order of the cell's samples.
std::vector<Trial> plan_trials(const KvConfig& config, std::int64_t window, std::uint64_t seed) {
  std::vector<Trial> trials;
  for (double depth : config.depths)
    for (std::int64_t t = 0; t < config.trials; ++t) {
      std::string id = fmt::format("window={}/depth={}/trial={}", window, taskkit::format_fraction(depth), t);
      trials.push_back({id, depth, t, trial_seed(seed, window, depth, t)});
    }
  return trials;
}

// The sample record of one generated trial.
nlohmann::json trial_record(const Trial& t, std::int64_t window, const KvPrompt& prompt, const std::string& output,
                            std::size_t generated_tokens) {
  const Pair& asked = prompt.pairs[prompt.asked];
  auto answer = first_run(output);
  return nlohmann::json{{"id", t.id},
                        {"window", window},
                        {"depth", t.depth},
                        {"trial", t.trial},
                        {"trial_seed", t.seed},
                        {"pairs", prompt.pairs.size()},
                        {"asked_index", prompt.asked},
                        {"key", asked.key},
                        {"value", asked.value},
                        {"prompt_tokens", prompt.ids.size()},
                        {"generated_tokens", generated_tokens},
                        {"output", output},
                        {"answer", answer ? nlohmann::json(*answer) : nlohmann::json(nullptr)},
                        {"correct", is_correct(output, asked.value)}};
}

// Counts over a cell's records: accuracy overall and per depth, prompt sizes, tokens.
struct TrialTally {
  std::int64_t trials = 0, correct = 0;
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> by_depth;  // depth -> (correct, trials)
  std::int64_t prompt_min = INT64_MAX, prompt_max = 0, pairs_min = INT64_MAX, pairs_max = 0;
  std::uint64_t tokens = 0;

  double accuracy() const { return double(correct) / double(trials); }
  nlohmann::json accuracy_by_depth() const {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [depth, cn] : by_depth) out[depth] = double(cn.first) / double(cn.second);
    return out;
  }
};

TrialTally tally_trials(const std::vector<Trial>& trials, const std::vector<nlohmann::json>& records) {
  TrialTally tally;
  tally.trials = std::int64_t(trials.size());
  for (std::size_t i = 0; i < trials.size(); ++i) {
    const auto& r = records[i];
    const bool ok = r.at("correct").get<bool>();
    tally.correct += ok;
    auto& [c, n] = tally.by_depth[taskkit::format_fraction(trials[i].depth)];
    c += ok;
    ++n;
    const auto prompt_tokens = r.at("prompt_tokens").get<std::int64_t>();
    const auto pairs = r.at("pairs").get<std::int64_t>();
    tally.prompt_min = std::min(tally.prompt_min, prompt_tokens);
    tally.prompt_max = std::max(tally.prompt_max, prompt_tokens);
    tally.pairs_min = std::min(tally.pairs_min, pairs);
    tally.pairs_max = std::max(tally.pairs_max, pairs);
    tally.tokens += std::uint64_t(prompt_tokens) + r.at("generated_tokens").get<std::uint64_t>();
  }
  return tally;
}

// Prompts are the items (0/1 each): Wilson and bootstrap intervals, overall and per depth.
nlohmann::json accuracy_uncertainty(const std::vector<Trial>& trials, const std::vector<nlohmann::json>& records,
                                    std::uint64_t seed) {
  taskkit::UncertaintyBuilder u({0.95, 2000, seed});
  const taskkit::MetricSpec exact{taskkit::Statistic::ratio,          "correct", "", "", 1.0,
                                  taskkit::PairedTest::mcnemar_exact, true};
  u.add("accuracy", exact);
  for (std::size_t i = 0; i < trials.size(); ++i) {
    const std::string depth = taskkit::format_fraction(trials[i].depth);
    u.items().ids.push_back(trials[i].id);
    u.items().strata.push_back(depth);
    u.items().columns["correct"].push_back(records[i].at("correct").get<bool>() ? 1.0 : 0.0);
    taskkit::MetricSpec at_depth = exact;
    at_depth.stratum = depth;
    u.add_row("accuracy_by_depth", depth, at_depth);
  }
  return u.to_json();
}

struct CellShape {
  std::int64_t window, target_tokens;
  std::uint64_t seed;
};

// What the cell ran and by which rules: its details block.
nlohmann::json cell_details(const KvConfig& config, const taskkit::PromptFraming& framing, const Tokenizer& tokenizer,
                            const CellShape& cell, const TrialTally& tally) {
  return {
      {"template",
       "instruction, a JSON object of n random lowercase hex pairs on one line, then Key: \"k\" and Value: "
       "(docs/protocols.md §Key-value retrieval)"},
      {"window", cell.window},
      {"target_tokens", cell.target_tokens},
      {"target_rule",
       config.target_tokens > 0 ? "explicit" : "window - max_new_tokens (BOS and the chat template's tokens included)"},
      {"prompt_tokens_min", tally.prompt_min},
      {"prompt_tokens_max", tally.prompt_max},
      {"pairs_min", tally.pairs_min},
      {"pairs_max", tally.pairs_max},
      {"depths", config.depths},
      {"trials_per_depth", config.trials},
      {"key_chars", config.shape.key_chars},
      {"value_chars", config.shape.value_chars},
      {"max_new_tokens", config.max_new_tokens},
      {"decoding", framing.chat() ? "greedy, stops at EOS or the template's end of turn" : "greedy, stops at EOS"},
      {"scoring", "the first run of ASCII letters and digits in the decoded output, lowercased, equals the value"},
      {"depth_rule", "asked pair = round(depth * (n - 1)) of the n pairs"},
      {"seed_rule",
       "pairs drawn by SplitMix64 seeded with derive_seed(seed, \"kv-retrieval/window=W/depth=D/trial=T\")"},
      {"seed", cell.seed},
      {"threshold", config.threshold},
      {"passes_threshold", tally.accuracy() >= config.threshold},
      {"add_bos", taskkit::bos_rule_json(config.framing.add_bos)},
      {"prompt_framing", framing.record()},
      {"tokenizer",
       {{"fingerprint", tokenizer.fingerprint()},
        {"model_path", tokenizer.model_path()},
        {"vocab_size", tokenizer.vocab_size()}}}};
}

}  // namespace

TaskInfo KvRetrievalTask::info() const {
  TaskInfo info{kName,
                kVersion,
                "Key-value retrieval: the value of one key in a JSON object that fills the window",
                {{"accuracy", true}, {"trials", true}}};
  info.views = report_views();
  return info;
}

std::optional<std::int64_t> KvRetrievalTask::planned_items(std::int64_t /*window*/) const {
  return std::int64_t(config_.depths.size()) * config_.trials;
}

void KvRetrievalTask::configure(const nlohmann::json& config) {
  ConfigReader cfg(config);
  KvConfig c;
  if (cfg.has("depths")) c.depths = taskkit::number_list(config.at("depths"), "depths");
  c.trials = cfg.get<std::int64_t>("trials", c.trials);
  c.shape.key_chars = cfg.get<int>("key_chars", c.shape.key_chars);
  c.shape.value_chars = cfg.get<int>("value_chars", c.shape.value_chars);
  c.max_new_tokens = cfg.get<std::int32_t>("max_new_tokens", c.max_new_tokens);
  c.target_tokens = cfg.get<std::int64_t>("target_tokens", c.target_tokens);
  c.framing = taskkit::read_framing_config(cfg);
  c.threshold = cfg.get<double>("threshold", c.threshold);
  cfg.finish();
  if (c.depths.empty()) throw ConfigError("depths", "is empty");
  for (double d : c.depths)
    if (!(d >= 0.0 && d <= 1.0)) throw ConfigError("depths", fmt::format("depth {} is not in [0, 1]", d));
  std::vector<std::string> names;
  for (double d : c.depths) names.push_back(taskkit::format_fraction(d));
  std::sort(names.begin(), names.end());
  if (std::adjacent_find(names.begin(), names.end()) != names.end()) throw ConfigError("depths", "lists a depth twice");
  if (c.trials < 1) throw ConfigError("trials", "must be >= 1");
  for (auto [field, chars] : {std::pair{"key_chars", c.shape.key_chars}, {"value_chars", c.shape.value_chars}})
    if (chars < kMinChars || chars > kMaxChars)
      throw ConfigError(field, fmt::format("must be in [{}, {}]", kMinChars, kMaxChars));
  if (c.max_new_tokens < 1) throw ConfigError("max_new_tokens", "must be >= 1");
  if (c.target_tokens < 0) throw ConfigError("target_tokens", "must be >= 0 (0 = window - max_new_tokens)");
  if (!(c.threshold >= 0.0 && c.threshold <= 1.0)) throw ConfigError("threshold", "must be in [0, 1]");
  config_ = c;
  configured_ = true;
}

std::int64_t KvRetrievalTask::target_tokens_for(std::int64_t window) const {
  return taskkit::retrieval_prompt_tokens("kv-retrieval", window, config_.target_tokens, config_.max_new_tokens);
}

void KvRetrievalTask::set_sweep(const SweepInfo& sweep) {
  // Every window is checked now, before the sweep prepares or trains anything.
  taskkit::check_retrieval_windows("kv-retrieval", sweep.windows, config_.target_tokens, config_.max_new_tokens);
}

std::string KvRetrievalTask::fingerprint() const {
  if (!configured_) throw Error("kv-retrieval: fingerprint() called before configure()");
  const std::vector<Pair> example{{"k", "v"}};
  nlohmann::json resolved = {{"task", kName},
                             {"version", kVersion},
                             {"template", prompt_text(example, 1, 0)},
                             {"depths", config_.depths},
                             {"trials", config_.trials},
                             {"key_chars", config_.shape.key_chars},
                             {"value_chars", config_.shape.value_chars},
                             {"max_new_tokens", config_.max_new_tokens},
                             {"target_tokens", config_.target_tokens},
                             {"threshold", config_.threshold}};
  taskkit::add_framing_fingerprint(resolved, config_.framing);
  return util::sha256_hex(resolved.dump());
}

CellResult KvRetrievalTask::evaluate(LanguageModel& model, EvalContext& context) {
  if (!configured_) throw Error("kv-retrieval: evaluate() called before configure()");
  const std::int64_t window = context.window > 0 ? context.window : model.window();
  const std::int64_t target = target_tokens_for(window);  // throws when the prompt cannot fit
  const taskkit::PromptFraming framing(model.tokenizer(), config_.framing, taskkit::kTaskTemplateHint);
  GenerationOptions options;
  options.max_new_tokens = config_.max_new_tokens;
  options.temperature = 0.0;  // greedy
  options.stop_tokens = framing.stop_tokens();

  const std::vector<Trial> trials = plan_trials(config_, window, context.seed);
  std::vector<taskkit::Sample> samples;
  for (const Trial& t : trials) samples.push_back({t.id});
  const Tokenizer& tokenizer = model.tokenizer();
  auto reuse = [&](std::size_t i, const nlohmann::json& stored) -> std::optional<nlohmann::json> {
    const auto stream_seed = stored.value("trial_seed", std::uint64_t(0));
    if (stream_seed != trials[i].seed)
      throw Error(
          fmt::format("kv-retrieval: the stored record {} was drawn from trial seed {}, this run draws {}: the "
                      "sample store belongs to another seed or version (delete the cell to redo it)",
                      trials[i].id, stream_seed, trials[i].seed));
    nlohmann::json record = stored;  // scored again by the current rule
    record["correct"] = is_correct(stored.at("output").get<std::string>(), stored.at("value").get<std::string>());
    return record;
  };
  // The trials not stored yet are generated together (the model batches them).
  std::vector<KvPrompt> prompts(trials.size());
  auto request = [&](std::size_t i) {
    const Trial& t = trials[i];
    prompts[i] = build_prompt(framing, t.seed, t.depth, target, config_.shape);
    return GenerationRequest{prompts[i].ids, options};
  };
  auto finish = [&](std::size_t i, const std::vector<std::int32_t>& generated) {
    return trial_record(trials[i], window, prompts[i], tokenizer.decode(generated), generated.size());
  };
  CellResult result;
  result.samples = taskkit::run_generation_samples(context, model, samples, "trials", reuse, request, finish);

  const TrialTally tally = tally_trials(trials, result.samples);
  result.metrics = {{"accuracy", tally.accuracy()},
                    {"accuracy_by_depth", tally.accuracy_by_depth()},
                    {"trials", std::int64_t(trials.size())}};
  result.uncertainty = accuracy_uncertainty(trials, result.samples, context.seed);
  result.tokens_processed = tally.tokens;
  result.details = cell_details(config_, framing, tokenizer, {window, target, context.seed}, tally);
  return result;
}

}  // namespace e2llm::kv_retrieval
