#include "e2llm/longbench/longbench_task.hpp"

#include <algorithm>
#include <fstream>
#include <optional>
#include <set>

#include "e2llm/config_reader.hpp"
#include "e2llm/error.hpp"
#include "e2llm/longbench/loader.hpp"
#include "e2llm/longbench/metrics.hpp"
#include "e2llm/longbench/middle_truncate.hpp"
#include "e2llm/longbench/predictions.hpp"
#include "e2llm/longbench/python_text.hpp"
#include "e2llm/longbench/report_view.hpp"
#include "e2llm/taskkit/sample_loop.hpp"
#include "e2llm/taskkit/uncertainty.hpp"
#include "e2llm/util/sha256.hpp"

namespace e2llm::longbench {

namespace {

constexpr const char* kTaskVersion = "1.1.0";  // 1.1: intervals (uncertainty)

constexpr const char* kTruncationRule =
    "LongBench pred.py: ids = [BOS by add_bos] + encode(prompt); if len(ids) > budget: half = budget // 2, "
    "prompt = decode(ids[:half]) + decode(ids[-half:]) (special tokens skipped); then ids = the prompt "
    "framed again, in the chat template when one is used and the dataset takes it, else [BOS by add_bos] + "
    "encode(prompt). Window guard: if len(ids) >= window, ids = ids[:half] + ids[-half:] (window_cut); "
    "if len(ids) + max_new_tokens > window, max_new_tokens = window - len(ids).";

BudgetRule parse_budget_rule(const std::string& name) {
  if (name == "window_minus_reserve") return BudgetRule::window_minus_reserve;
  if (name == "window_minus_max_new") return BudgetRule::window_minus_max_new;
  if (name == "fixed") return BudgetRule::fixed;
  throw ConfigError("budget_rule",
                    "must be \"window_minus_reserve\", \"window_minus_max_new\" or \"fixed\", got \"" + name + "\"");
}

std::vector<std::int32_t> strip_special(std::vector<std::int32_t> ids, const Tokenizer& tokenizer) {
  const std::int32_t bos = tokenizer.bos_id(), eos = tokenizer.eos_id();
  ids.erase(std::remove_if(ids.begin(), ids.end(), [&](std::int32_t t) { return t == bos || t == eos; }), ids.end());
  return ids;
}

// The rows of a JSONL file (its non-blank lines), without parsing them: for progress.
std::size_t count_rows(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::size_t rows = 0;
  for (std::string line; std::getline(in, line);)
    if (line.find_first_not_of(" \t\r") != std::string::npos) ++rows;
  return rows;
}

// "a.jsonl, b.jsonl" (sorted), "no .jsonl files" or "no such folder": for the error that
// names a missing dataset.
std::string jsonl_files_in(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return "no such folder";
  std::vector<std::string> names;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".jsonl") names.push_back(it->path().filename().string());
  if (names.empty()) return "no .jsonl files";
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

std::string budget_rule_name(BudgetRule rule) {
  switch (rule) {
    case BudgetRule::window_minus_reserve:
      return "window_minus_reserve";
    case BudgetRule::window_minus_max_new:
      return "window_minus_max_new";
    case BudgetRule::fixed:
      return "fixed";
  }
  return "?";
}

std::int64_t prompt_budget(const TaskConfig& config, std::int64_t window, const DatasetSpec& spec) {
  std::int64_t budget = 0;
  switch (config.budget_rule) {
    case BudgetRule::window_minus_reserve:
      budget = window - config.reserve;
      break;
    case BudgetRule::window_minus_max_new:
      budget = window - spec.max_new_tokens;
      break;
    case BudgetRule::fixed:
      budget = config.budget;
      break;
  }
  if (budget < 2 || budget >= window)
    throw Error("longbench: prompt budget " + std::to_string(budget) + " for " + spec.name + " at window " +
                std::to_string(window) + " (rule " + budget_rule_name(config.budget_rule) +
                ") must be at least 2 and below the window; change reserve/budget");
  return budget;
}

TaskInfo LongBenchTask::info() const {
  TaskInfo info;
  info.name = "longbench";
  info.version = kTaskVersion;
  info.description = "LongBench v1 English QA and summarization (official prompts, middle truncation, greedy)";
  info.metrics.push_back({"avg_en", true});
  for (const auto& d : datasets()) info.metrics.push_back({d.name, true});
  info.views = {report_view()};
  info.path_keys = {"data_dir", "out_dir"};
  return info;
}

std::optional<std::int64_t> LongBenchTask::planned_items(std::int64_t /*window*/) const {
  if (!configured_) return std::nullopt;
  return planned_rows_;
}

// Every dataset's prompt budget at every window of the sweep, before it prepares anything:
// the error names the key that sets the budget.
void LongBenchTask::set_sweep(const SweepInfo& sweep) {
  if (!configured_) throw Error("longbench: set_sweep() before configure()");
  for (std::int64_t window : sweep.windows)
    for (const auto& name : config_.datasets) {
      try {
        prompt_budget(config_, window, dataset(name));
      } catch (const ConfigError&) {
        throw;
      } catch (const Error& e) {
        const char* field = config_.budget_rule == BudgetRule::window_minus_reserve ? "reserve"
                            : config_.budget_rule == BudgetRule::fixed              ? "budget"
                                                                                    : "budget_rule";
        throw ConfigError(field, e.what());
      }
    }
}

void LongBenchTask::configure(const nlohmann::json& section) {
  ConfigReader cfg(section);
  TaskConfig c;
  c.data_dir = cfg.require<std::string>("data_dir");
  c.datasets = cfg.get<std::vector<std::string>>("datasets", dataset_names());
  if (c.datasets.empty()) throw ConfigError("datasets", "is empty; name at least one of the LongBench datasets");
  std::set<std::string> seen;
  for (const auto& name : c.datasets) {
    try {
      dataset(name);
    } catch (const Error& e) {
      throw ConfigError("datasets", e.what());
    }
    if (!seen.insert(name).second) throw ConfigError("datasets", "lists '" + name + "' twice");
  }
  auto limit = cfg.get<std::int64_t>("limit", 0);
  if (limit < 0) throw ConfigError("limit", "must be >= 0 (0 = every row)");
  c.limit = static_cast<std::size_t>(limit);
  c.reserve = cfg.get<std::int64_t>("reserve", 500);
  if (c.reserve < 0) throw ConfigError("reserve", "must be >= 0");
  bool has_budget = cfg.has("budget");
  std::string rule = cfg.get<std::string>("budget_rule", has_budget ? "fixed" : "window_minus_reserve");
  c.budget_rule = parse_budget_rule(rule);
  if (c.budget_rule == BudgetRule::fixed) {
    if (!has_budget) throw ConfigError("budget", "is required when budget_rule = \"fixed\"");
    c.budget = cfg.get<std::int64_t>("budget", 0);
    if (c.budget < 2) throw ConfigError("budget", "must be at least 2 tokens");
  } else if (has_budget) {
    throw ConfigError("budget", "is only used with budget_rule = \"fixed\" (rule here: " + rule + ")");
  }
  c.out_dir = cfg.get<std::string>("out_dir", "");
  c.framing = taskkit::read_framing_config(cfg);
  cfg.finish();

  // The data is part of the fingerprint: hash each file now, so a missing one fails early.
  nlohmann::json data = nlohmann::json::object();
  for (const auto& name : c.datasets) {
    auto file = c.data_dir / (name + ".jsonl");
    if (!std::filesystem::is_regular_file(file))
      throw ConfigError("data_dir", "has no " + name + ".jsonl (looked for " + file.string() + "; found " +
                                        jsonl_files_in(c.data_dir) + "); put the LongBench v1 file there or drop '" +
                                        name + "' from datasets");
    data[name] = util::sha256_file(file);
  }
  planned_rows_ = 0;
  for (const auto& name : c.datasets) {
    const std::size_t rows = count_rows(c.data_dir / (name + ".jsonl"));
    planned_rows_ += std::int64_t(c.limit > 0 ? std::min(rows, c.limit) : rows);
  }

  nlohmann::json resolved = {{"datasets", c.datasets},
                             {"limit", c.limit},
                             {"budget_rule", budget_rule_name(c.budget_rule)},
                             {"reserve", c.reserve},
                             {"budget", c.budget}};
  taskkit::add_framing_fingerprint(resolved, c.framing, /*bos_key=*/false);
  // Paths are left out of the hash (the data hashes stand for them); out_dir changes no number.
  nlohmann::json keyed = {{"task", "longbench"}, {"version", kTaskVersion}, {"config", resolved}, {"data", data}};
  fingerprint_ = util::sha256_hex(keyed.dump());
  resolved["data_dir"] = c.data_dir.string();
  resolved["out_dir"] = c.out_dir.string();
  resolved["data_sha256"] = data;
  resolved_ = resolved;
  config_ = std::move(c);
  configured_ = true;
}

std::string LongBenchTask::fingerprint() const {
  if (!configured_) throw Error("longbench: fingerprint() before configure()");
  return fingerprint_;
}

namespace {

// One row's request: the prompt middle-truncated to the budget (cut again if re-encoding grew
// it past the window), framed by the chat template when the dataset takes one, greedy
// generation up to the dataset's length.
struct RowPrompt {
  TruncatedPrompt prompt;
  std::int64_t max_new = 0;
  bool cut = false;
  std::vector<std::int32_t> stop_tokens;  // the framing's: EOS, and the template's end of turn
};

RowPrompt row_prompt(LanguageModel& model, const DatasetSpec& spec, const Row& row, std::int64_t budget,
                     const taskkit::PromptFraming& framing) {
  const std::int64_t window = model.window();
  const taskkit::PromptFraming plain = framing.without_template();
  const taskkit::PromptFraming& framed = spec.chat_template ? framing : plain;
  RowPrompt r;
  r.prompt =
      truncate_prompt(plain, framed, build_prompt(spec, row.context, row.input), static_cast<std::size_t>(budget));
  r.max_new = spec.max_new_tokens;
  r.stop_tokens = framed.stop_tokens();
  auto prompt_len = static_cast<std::int64_t>(r.prompt.ids.size());
  if (prompt_len >= window) {  // re-encoding grew the prompt past the window: cut the ids themselves
    r.prompt.ids = keep_head_and_tail(r.prompt.ids, static_cast<std::size_t>(budget));
    prompt_len = static_cast<std::int64_t>(r.prompt.ids.size());
    r.cut = true;
  }
  if (prompt_len + r.max_new > window) r.max_new = window - prompt_len;
  return r;
}

GenerationOptions row_options(const std::vector<std::int32_t>& stop_tokens, std::int64_t max_new, std::uint64_t seed) {
  GenerationOptions options;
  options.max_new_tokens = static_cast<std::int32_t>(max_new);
  options.temperature = 0.0;  // greedy, as pred.py (do_sample=False, num_beams=1)
  options.seed = seed;
  options.stop_tokens = stop_tokens;
  return options;
}

// The row's prediction from its generated tokens: the answer decoded as Python would hold it.
nlohmann::json prediction(const Tokenizer& tokenizer, const DatasetSpec& spec, const Row& row, const RowPrompt& r,
                          const std::vector<std::int32_t>& generated) {
  // Invalid UTF-8 (a cut multi-byte character) becomes U+FFFD, as a Python str would hold it.
  std::string pred = py::encode_utf8(py::decode_utf8(tokenizer.decode(strip_special(generated, tokenizer))));
  return {{"dataset", spec.name},
          {"_id", row.id},
          {"line", row.line},
          {"pred", pred},
          {"original_tokens", r.prompt.original_tokens},
          {"prompt_tokens", r.prompt.ids.size()},
          {"truncated", r.prompt.truncated},
          {"window_cut", r.cut},
          {"max_new_tokens", r.max_new},
          {"generated_tokens", generated.size()}};
}

struct Item {  // one row of one dataset, in evaluation order
  std::size_t dataset;
  const Row* row;
};

}  // namespace

CellResult LongBenchTask::evaluate(LanguageModel& model, EvalContext& context) {
  if (!configured_) throw Error("longbench: evaluate() before configure()");
  const taskkit::PromptFraming framing(model.tokenizer(), config_.framing, taskkit::kTaskTemplateHint);
  // Load everything first so a bad file fails before any generation.
  std::vector<std::vector<Row>> all_rows;
  std::vector<Item> items;
  std::vector<taskkit::Sample> samples;
  std::vector<std::int64_t> budgets;
  for (std::size_t d = 0; d < config_.datasets.size(); ++d) {
    const DatasetSpec& spec = dataset(config_.datasets[d]);
    const auto file = config_.data_dir / (spec.name + ".jsonl");
    all_rows.push_back(load_rows(file, config_.limit));
    budgets.push_back(prompt_budget(config_, model.window(), spec));
  }
  std::vector<std::size_t> resumed(config_.datasets.size(), 0);
  for (std::size_t d = 0; d < all_rows.size(); ++d) {
    std::set<std::string> ids_seen;
    for (const Row& row : all_rows[d]) {
      if (!ids_seen.insert(row.id).second)
        throw Error((config_.data_dir / (config_.datasets[d] + ".jsonl")).string() + ":" + std::to_string(row.line) +
                    ": field '_id' repeats '" + row.id + "' (ids must be unique)");
      items.push_back({d, &row});
      samples.push_back({config_.datasets[d] + "/" + row.id, 1, config_.datasets[d]});
    }
  }
  CellResult result;
  // Always scored here, so a resumed sample is scored by this version of the metric.
  auto scored = [&](std::size_t i, nlohmann::json record) {
    const Item& item = items[i];
    record["score"] = score_sample(dataset(config_.datasets[item.dataset]).metric, record["pred"].get<std::string>(),
                                   item.row->answers);
    return record;
  };
  auto reuse = [&](std::size_t i, const nlohmann::json& stored) -> std::optional<nlohmann::json> {
    if (!stored.is_object() || !stored.contains("pred") || !stored["pred"].is_string()) return std::nullopt;
    ++resumed[items[i].dataset];
    return scored(i, stored);
  };
  // The rows not stored yet are generated together (the model batches them).
  std::vector<RowPrompt> prompts(items.size());
  auto request = [&](std::size_t i) {
    const Item& item = items[i];
    prompts[i] = row_prompt(model, dataset(config_.datasets[item.dataset]), *item.row, budgets[item.dataset], framing);
    return GenerationRequest{prompts[i].prompt.ids,
                             row_options(prompts[i].stop_tokens, prompts[i].max_new, context.seed)};
  };
  auto finish = [&](std::size_t i, const std::vector<std::int32_t>& generated) {
    const Item& item = items[i];
    nlohmann::json record =
        prediction(model.tokenizer(), dataset(config_.datasets[item.dataset]), *item.row, prompts[i], generated);
    result.tokens_processed +=
        record["prompt_tokens"].get<std::uint64_t>() + record["generated_tokens"].get<std::uint64_t>();
    return scored(i, std::move(record));
  };
  result.samples = taskkit::run_generation_samples(context, model, samples, "rows", reuse, request, finish);
  summarize(result, all_rows, budgets, resumed, model.window(), framing);
  // Rows are the items (score 0..1 each): a bootstrap over rows per dataset, and one
  // resampling rows within each dataset for the average of the dataset scores.
  taskkit::UncertaintyBuilder u({0.95, 2000, context.seed});
  for (std::size_t i = 0; i < items.size(); ++i) {
    u.items().ids.push_back(samples[i].id);
    u.items().strata.push_back(config_.datasets[items[i].dataset]);
    u.items().columns["score"].push_back(result.samples[i].at("score").get<double>());
  }
  for (const auto& name : config_.datasets)
    u.add(name,
          {taskkit::Statistic::ratio, "score", "", name, 100.0, taskkit::PairedTest::bootstrap_difference, false});
  u.add("avg_en", {taskkit::Statistic::stratified_mean, "score", "", "", 100.0,
                   taskkit::PairedTest::bootstrap_difference, false});
  result.uncertainty = u.to_json();
  return result;
}

void LongBenchTask::summarize(CellResult& result, const std::vector<std::vector<Row>>& all_rows,
                              const std::vector<std::int64_t>& budgets, const std::vector<std::size_t>& resumed,
                              std::int64_t window, const taskkit::PromptFraming& framing) const {
  nlohmann::json per_dataset = nlohmann::json::object();
  double sum_scores = 0;
  std::size_t next = 0;  // records are in dataset order
  for (std::size_t d = 0; d < config_.datasets.size(); ++d) {
    const DatasetSpec& spec = dataset(config_.datasets[d]);
    std::vector<double> scores;
    std::vector<Prediction> predictions;
    std::size_t truncated = 0, capped = 0, window_cut = 0;
    for (const Row& row : all_rows[d]) {
      const nlohmann::json& record = result.samples[next++];
      truncated += record.value("truncated", false) ? 1 : 0;
      window_cut += record.value("window_cut", false) ? 1 : 0;
      capped += record.value("max_new_tokens", spec.max_new_tokens) < spec.max_new_tokens ? 1 : 0;
      scores.push_back(record["score"].get<double>());
      predictions.push_back({record["pred"].get<std::string>(), row.answers, row.all_classes, row.length, row.line});
    }
    const double dataset_result = dataset_score(scores);
    result.metrics[spec.name] = dataset_result;
    sum_scores += dataset_result;
    per_dataset[spec.name] = {{"n", scores.size()},
                              {"metric", metric_name(spec.metric)},
                              {"max_new_tokens", spec.max_new_tokens},
                              {"budget", budgets[d]},
                              {"truncated", truncated},
                              {"max_new_tokens_capped", capped},
                              {"window_cut", window_cut},
                              {"chat_template", framing.chat() && spec.chat_template},
                              {"resumed", resumed[d]}};
    if (!config_.out_dir.empty()) write_predictions(config_.out_dir / (spec.name + ".jsonl"), predictions);
  }
  // The paper's EN average: the plain mean of the dataset scores (not LongBench's category mean).
  result.metrics["avg_en"] = python_round(sum_scores / static_cast<double>(config_.datasets.size()), 2);
  result.details = {{"window", window},
                    {"budget_rule", budget_rule_name(config_.budget_rule)},
                    {"reserve", config_.reserve},
                    {"truncation", kTruncationRule},
                    {"prompt_framing", framing.record()},
                    {"decoding", framing.chat() ? "greedy; stop at EOS or the template's end of turn; special tokens "
                                                  "skipped when decoding"
                                                : "greedy; stop at EOS; special tokens skipped when decoding"},
                    {"average", "avg_en = plain mean of the dataset scores"},
                    {"datasets", per_dataset},
                    {"config", resolved_}};
}

nlohmann::json LongBenchTask::score_predictions(const nlohmann::json& request) {
  if (!request.is_object()) throw Error("longbench score: the request must be an object");
  auto name = request.find("dataset");
  if (name == request.end() || !name->is_string())
    throw Error("longbench score: name the dataset (--dataset NAME; one of the nine English sets)");
  auto file = request.find("file");
  if (file == request.end() || !file->is_string()) throw Error("longbench score: name the prediction file");
  bool per_sample = false;
  if (auto it = request.find("per_sample"); it != request.end()) {
    if (!it->is_boolean()) throw Error("longbench score: 'per_sample' must be true or false");
    per_sample = it->get<bool>();
  }
  FileScore scored = score_prediction_file(name->get<std::string>(), file->get<std::string>());
  nlohmann::json out = {
      {"dataset", scored.dataset}, {"metric", metric_name(scored.metric)}, {"n", scored.n}, {"score", scored.score}};
  if (per_sample) out["per_sample"] = scored.per_sample;
  return out;
}

}  // namespace e2llm::longbench
