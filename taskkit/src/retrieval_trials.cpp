#include "e2llm/taskkit/retrieval_trials.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "e2llm/error.hpp"
#include "e2llm/taskkit/lists.hpp"
#include "e2llm/taskkit/uncertainty.hpp"

namespace e2llm::taskkit {

void read_retrieval_config(ConfigReader& cfg, RetrievalConfig& c) {
  if (cfg.has("depths")) c.depths = number_list(cfg.raw().at("depths"), "depths");
  c.trials = cfg.get<std::int64_t>("trials", c.trials);
  c.threshold = cfg.get<double>("threshold", c.threshold);
  c.max_new_tokens = cfg.get<std::int32_t>("max_new_tokens", c.max_new_tokens);
  c.target_tokens = cfg.get<std::int64_t>("target_tokens", c.target_tokens);
  c.framing = read_framing_config(cfg);
}

void check_retrieval_config(const RetrievalConfig& c) {
  if (c.depths.empty()) throw ConfigError("depths", "is empty");
  for (double d : c.depths)
    if (!(d >= 0.0 && d <= 1.0)) throw ConfigError("depths", fmt::format("depth {} is not in [0, 1]", d));
  // As numbers: distinct numbers have distinct names (format_fraction round-trips), and 0
  // and -0, one depth, are refused too.
  std::vector<double> sorted = c.depths;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    throw ConfigError("depths", "lists a depth twice");
  if (c.trials < 1) throw ConfigError("trials", "must be >= 1");
  if (!(c.threshold >= 0.0 && c.threshold <= 1.0)) throw ConfigError("threshold", "must be in [0, 1]");
  if (c.max_new_tokens < 1) throw ConfigError("max_new_tokens", "must be >= 1");
  if (c.target_tokens < 0) throw ConfigError("target_tokens", "must be >= 0 (0 = window - max_new_tokens)");
}

nlohmann::json retrieval_fingerprint_fields(const RetrievalConfig& config) {
  nlohmann::json fields = {{"depths", config.depths},
                           {"trials", config.trials},
                           {"threshold", config.threshold},
                           {"max_new_tokens", config.max_new_tokens},
                           {"target_tokens", config.target_tokens}};
  add_framing_fingerprint(fields, config.framing);
  return fields;
}

std::int64_t retrieval_items(const RetrievalConfig& config) {
  return std::int64_t(config.depths.size()) * config.trials;
}

GenerationOptions retrieval_generation(const RetrievalConfig& config, const PromptFraming& framing) {
  GenerationOptions options;
  options.max_new_tokens = config.max_new_tokens;
  options.temperature = 0.0;  // greedy
  options.stop_tokens = framing.stop_tokens();
  return options;
}

std::vector<RetrievalTrial> plan_retrieval_trials(const RetrievalConfig& config, std::int64_t window) {
  std::vector<RetrievalTrial> trials;
  for (double depth : config.depths) {
    const std::string name = format_fraction(depth);
    for (std::int64_t t = 0; t < config.trials; ++t)
      trials.push_back({fmt::format("window={}/depth={}/trial={}", window, name, t), depth, name, t});
  }
  return trials;
}

nlohmann::json RetrievalTally::accuracy_by_depth() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [depth, cn] : by_depth) out[depth] = double(cn.first) / double(cn.second);
  return out;
}

nlohmann::json RetrievalTally::metrics() const {
  return {{"accuracy", accuracy()}, {"accuracy_by_depth", accuracy_by_depth()}, {"trials", trials}};
}

RetrievalTally tally_retrieval(const std::vector<RetrievalTrial>& trials, const std::vector<nlohmann::json>& records) {
  RetrievalTally tally;
  tally.trials = std::int64_t(trials.size());
  for (std::size_t i = 0; i < trials.size(); ++i) {
    const auto& r = records.at(i);
    const bool ok = r.at("correct").get<bool>();
    tally.correct += ok;
    auto& [c, n] = tally.by_depth[trials[i].depth_name];
    c += ok;
    ++n;
    const auto prompt_tokens = r.at("prompt_tokens").get<std::int64_t>();
    tally.prompt_min = std::min(tally.prompt_min, prompt_tokens);
    tally.prompt_max = std::max(tally.prompt_max, prompt_tokens);
    tally.tokens += std::uint64_t(prompt_tokens) + r.at("generated_tokens").get<std::uint64_t>();
  }
  return tally;
}

nlohmann::json retrieval_uncertainty(const std::vector<RetrievalTrial>& trials,
                                     const std::vector<nlohmann::json>& records, std::uint64_t seed) {
  UncertaintyBuilder u({0.95, 2000, seed});
  const MetricSpec exact{Statistic::ratio, "correct", "", "", 1.0, PairedTest::mcnemar_exact, true};
  u.add("accuracy", exact);
  for (std::size_t i = 0; i < trials.size(); ++i) {
    u.items().ids.push_back(trials[i].id);
    u.items().strata.push_back(trials[i].depth_name);
    u.items().columns["correct"].push_back(records.at(i).at("correct").get<bool>() ? 1.0 : 0.0);
    MetricSpec at_depth = exact;
    at_depth.stratum = trials[i].depth_name;
    u.add_row("accuracy_by_depth", trials[i].depth_name, at_depth);
  }
  return u.to_json();
}

nlohmann::json retrieval_details(const RetrievalConfig& config, const PromptFraming& framing, const RetrievalCell& cell,
                                 const RetrievalTally& tally) {
  const Tokenizer& tokenizer = framing.tokenizer();
  return {
      {"window", cell.window},
      {"target_tokens", cell.target_tokens},
      {"target_rule",
       config.target_tokens > 0 ? "explicit" : "window - max_new_tokens (BOS and the chat template's tokens included)"},
      {"prompt_tokens_min", tally.prompt_min},
      {"prompt_tokens_max", tally.prompt_max},
      {"depths", config.depths},
      {"trials_per_depth", config.trials},
      {"max_new_tokens", config.max_new_tokens},
      {"decoding", framing.chat() ? "greedy, stops at EOS or the template's end of turn" : "greedy, stops at EOS"},
      {"seed", cell.seed},
      {"threshold", config.threshold},
      {"passes_threshold", tally.accuracy() >= config.threshold},
      {"add_bos", bos_rule_json(config.framing.add_bos)},
      {"prompt_framing", framing.record()},
      {"tokenizer",
       {{"fingerprint", tokenizer.fingerprint()},
        {"model_path", tokenizer.model_path()},
        {"vocab_size", tokenizer.vocab_size()}}}};
}

RetrievalTally score_retrieval_cell(CellResult& result, const RetrievalConfig& config, const PromptFraming& framing,
                                    const std::vector<RetrievalTrial>& trials, const RetrievalCell& cell) {
  const RetrievalTally tally = tally_retrieval(trials, result.samples);
  result.metrics = tally.metrics();
  result.uncertainty = retrieval_uncertainty(trials, result.samples, cell.seed);
  result.tokens_processed = tally.tokens;
  result.details = retrieval_details(config, framing, cell, tally);
  return tally;
}

std::vector<ReportView> retrieval_views(const RetrievalViewTexts& texts) {
  // Both views show accuracy in percent, with the same HTML note.
  auto percent_view = [&](ViewKind kind, const std::string& title, const std::string& metric, const std::string& note) {
    ReportView v;
    v.kind = kind;
    v.title = title;
    v.metric = metric;
    v.quantity = "accuracy";
    v.note = note;
    v.note_html = texts.note_html;
    v.format = ValueFormat::percent;
    return v;
  };
  ReportView accuracy = percent_view(ViewKind::window_curve, texts.title, "accuracy", texts.note);
  accuracy.summary = WindowSummary::mean;
  accuracy.pass_threshold = kRetrievalThreshold;
  accuracy.threshold_key = "threshold";
  accuracy.relative_threshold = 0.9;  // 90% of what the base retrieves at its own window
  ReportView by_depth = percent_view(ViewKind::grid, texts.depth_title, "accuracy_by_depth", texts.depth_note);
  by_depth.row_label = "depth";
  return {accuracy, by_depth};
}

TaskInfo retrieval_task_info(const std::string& name, const std::string& version, const std::string& description,
                             const RetrievalViewTexts& texts) {
  TaskInfo info{name, version, description, {{"accuracy", true}, {"trials", true}}};
  info.views = retrieval_views(texts);
  return info;
}

}  // namespace e2llm::taskkit
