#include "kv_task.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <climits>

#include "e2llm/config_reader.hpp"
#include "e2llm/error.hpp"
#include "e2llm/taskkit/sample_loop.hpp"
#include "e2llm/util/sha256.hpp"

namespace e2llm::kv_retrieval {

namespace {

// The sample record of one generated trial.
nlohmann::json trial_record(const taskkit::RetrievalTrial& t, std::uint64_t seed, std::int64_t window,
                            const KvPrompt& prompt, const std::string& output, std::size_t generated_tokens) {
  const Pair& asked = prompt.pairs[prompt.asked];
  auto answer = first_run(output);
  return nlohmann::json{{"id", t.id},
                        {"window", window},
                        {"depth", t.depth},
                        {"trial", t.trial},
                        {"trial_seed", seed},
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

// What the cell ran and by which rules: the kit's details with the pairs' and the task's own.
void add_details(nlohmann::json& details, const KvConfig& config, const std::vector<nlohmann::json>& records) {
  std::int64_t pairs_min = INT64_MAX, pairs_max = 0;
  for (const auto& r : records) {
    const auto pairs = r.at("pairs").get<std::int64_t>();
    pairs_min = std::min(pairs_min, pairs);
    pairs_max = std::max(pairs_max, pairs);
  }
  details.update(nlohmann::json{
      {"template",
       "instruction, a JSON object of n random lowercase hex pairs on one line, then Key: \"k\" and Value: "
       "(docs/protocols.md §Key-value retrieval)"},
      {"pairs_min", pairs_min},
      {"pairs_max", pairs_max},
      {"key_chars", config.shape.key_chars},
      {"value_chars", config.shape.value_chars},
      {"scoring", "the first run of ASCII letters and digits in the decoded output, lowercased, equals the value"},
      {"depth_rule", "asked pair = round(depth * (n - 1)) of the n pairs"},
      {"seed_rule",
       "pairs drawn by SplitMix64 seeded with derive_seed(seed, \"kv-retrieval/window=W/depth=D/trial=T\")"}});
}

}  // namespace

// Accuracy per backend and window, then depth x window per backend.
TaskInfo KvRetrievalTask::info() const {
  return taskkit::retrieval_task_info(
      kName, kVersion, "Key-value retrieval: the value of one key in a JSON object that fills the window",
      {"Key-value retrieval",
       "Exact-match accuracy (higher is better) of the value asked for in a JSON object of random hex keys and "
       "values that fills the window; rows = backends, columns = window W.",
       "Key-value accuracy by depth", "Depth of the asked pair in the object (0 = first pair, 1 = last) x window W.",
       std::nullopt});
}

void KvRetrievalTask::configure(const nlohmann::json& config) {
  ConfigReader cfg(config);
  KvConfig c;
  taskkit::read_retrieval_config(cfg, c);
  c.shape.key_chars = cfg.get<int>("key_chars", c.shape.key_chars);
  c.shape.value_chars = cfg.get<int>("value_chars", c.shape.value_chars);
  cfg.finish();
  taskkit::check_retrieval_config(c);
  for (auto [field, chars] : {std::pair{"key_chars", c.shape.key_chars}, {"value_chars", c.shape.value_chars}})
    if (chars < kMinChars || chars > kMaxChars)
      throw ConfigError(field, fmt::format("must be in [{}, {}]", kMinChars, kMaxChars));
  set_config(c);
}

std::int64_t KvRetrievalTask::shortest_prompt(const taskkit::PromptFraming& framing) const {
  return shortest_prompt_tokens(framing, config().shape);
}

std::string KvRetrievalTask::fingerprint() const {
  const KvConfig& config = configured("fingerprint");
  const std::vector<Pair> example{{"k", "v"}};
  nlohmann::json resolved = taskkit::retrieval_fingerprint_fields(config);
  resolved.update(nlohmann::json{{"task", kName},
                                 {"version", kVersion},
                                 {"template", prompt_text(example, 1, 0)},
                                 {"key_chars", config.shape.key_chars},
                                 {"value_chars", config.shape.value_chars}});
  return util::sha256_hex(resolved.dump());
}

CellResult KvRetrievalTask::evaluate(LanguageModel& model, EvalContext& context) {
  const KvConfig& config = configured("evaluate");
  const std::int64_t window = context.window > 0 ? context.window : model.window();
  const std::int64_t target = target_tokens_for(window);  // throws when the prompt cannot fit
  const taskkit::PromptFraming framing(model.tokenizer(), config.framing, taskkit::kTaskTemplateHint);
  const GenerationOptions options = taskkit::retrieval_generation(config, framing);

  const std::vector<taskkit::RetrievalTrial> trials = taskkit::plan_retrieval_trials(config, window);
  std::vector<std::uint64_t> seeds;  // each trial's own stream of pairs
  std::vector<taskkit::Sample> samples;
  for (const auto& t : trials) {
    seeds.push_back(trial_seed(context.seed, window, t.depth, t.trial));
    samples.push_back({t.id});
  }
  const Tokenizer& tokenizer = model.tokenizer();
  auto reuse = [&](std::size_t i, const nlohmann::json& stored) -> std::optional<nlohmann::json> {
    const auto stream_seed = stored.value("trial_seed", std::uint64_t(0));
    if (stream_seed != seeds[i])
      throw Error(
          fmt::format("kv-retrieval: the stored record {} was drawn from trial seed {}, this run draws {}: the "
                      "sample store belongs to another seed or version (delete the cell to redo it)",
                      trials[i].id, stream_seed, seeds[i]));
    nlohmann::json record = stored;  // scored again by the current rule
    record["correct"] = is_correct(stored.at("output").get<std::string>(), stored.at("value").get<std::string>());
    return record;
  };
  // The trials not stored yet are generated together (the model batches them).
  std::vector<KvPrompt> prompts(trials.size());
  auto request = [&](std::size_t i) {
    prompts[i] = build_prompt(framing, seeds[i], trials[i].depth, target, config.shape);
    return GenerationRequest{prompts[i].ids, options};
  };
  auto finish = [&](std::size_t i, const std::vector<std::int32_t>& generated) {
    return trial_record(trials[i], seeds[i], window, prompts[i], tokenizer.decode(generated), generated.size());
  };
  CellResult result;
  result.samples = taskkit::run_generation_samples(context, model, samples, "trials", reuse, request, finish);

  taskkit::score_retrieval_cell(result, config, framing, trials, {window, target, context.seed});
  add_details(result.details, config, result.samples);
  return result;
}

}  // namespace e2llm::kv_retrieval
