#include "passkey_task.hpp"

#include <fmt/format.h>

#include "e2llm/config_reader.hpp"
#include "e2llm/error.hpp"
#include "e2llm/taskkit/sample_loop.hpp"
#include "e2llm/util/sha256.hpp"
#include "passkey_prompt.hpp"

namespace e2llm::passkey {

namespace {
constexpr const char* kVersion = "1.1.0";  // 1.1: intervals (uncertainty)
}  // namespace

// Accuracy per backend and window (with the largest window that passes the threshold),
// then depth x window per backend.
TaskInfo PasskeyTask::info() const {
  return taskkit::retrieval_task_info(
      "passkey", kVersion, "Passkey retrieval (Landmark-attention template): find a 1-50000 key hidden in filler text",
      {"Passkey retrieval", "Accuracy (higher is better), rows = backends, columns = window W.", "Accuracy by depth",
       "", std::string()});
}

void PasskeyTask::configure(const nlohmann::json& config) {
  ConfigReader cfg(config);
  PasskeyConfig c;
  taskkit::read_retrieval_config(cfg, c);
  cfg.finish();
  taskkit::check_retrieval_config(c);
  set_config(c);
}

std::int64_t PasskeyTask::shortest_prompt(const taskkit::PromptFraming& framing) const {
  return shortest_prompt_tokens(framing);
}

std::string PasskeyTask::fingerprint() const {
  nlohmann::json resolved = taskkit::retrieval_fingerprint_fields(configured("fingerprint"));
  resolved.update(nlohmann::json{
      {"task", "passkey"},
      {"version", kVersion},
      {"template", std::string(kTaskDescription) + "|" + kFiller + "|" + key_line(0) + "|" + kQuestion}});
  return util::sha256_hex(resolved.dump());
}

namespace {

// One trial's record: its prompt (the key at `t.depth`), the greedy generation, the score.
nlohmann::json trial_record(const Tokenizer& tokenizer, const taskkit::RetrievalTrial& t, std::int64_t key,
                            std::int64_t window, const PasskeyPrompt& prompt,
                            const std::vector<std::int32_t>& generated) {
  std::string output = tokenizer.decode(generated);
  auto answer = first_integer(output);
  return nlohmann::json{{"id", t.id},
                        {"window", window},
                        {"depth", t.depth},
                        {"trial", t.trial},
                        {"key", key},
                        {"prompt_tokens", prompt.ids.size()},
                        {"key_token", prompt.key_token},
                        {"filler_chars", {prompt.prefix_chars, prompt.suffix_chars}},
                        {"generated_tokens", generated.size()},
                        {"output", output},
                        {"answer", answer ? nlohmann::json(*answer) : nlohmann::json(nullptr)},
                        {"correct", is_correct(output, key)}};
}

}  // namespace

CellResult PasskeyTask::evaluate(LanguageModel& model, EvalContext& context) {
  const PasskeyConfig& config = configured("evaluate");
  const std::int64_t window = context.window > 0 ? context.window : model.window();
  const std::int64_t target = target_tokens_for(window);  // throws when the prompt cannot fit
  const taskkit::PromptFraming framing(model.tokenizer(), config.framing, taskkit::kTaskTemplateHint);
  const GenerationOptions options = taskkit::retrieval_generation(config, framing);

  const std::vector<taskkit::RetrievalTrial> trials = taskkit::plan_retrieval_trials(config, window);
  std::vector<std::int64_t> keys;  // each trial's passkey
  std::vector<taskkit::Sample> samples;
  for (const auto& t : trials) {
    keys.push_back(draw_key(context.seed, window, t.depth, t.trial));
    samples.push_back({t.id});
  }
  auto reuse = [&](std::size_t i, const nlohmann::json& stored) -> std::optional<nlohmann::json> {
    if (stored.value("key", std::int64_t(-1)) != keys[i])
      throw Error(
          fmt::format("passkey: the stored record {} has key {}, this run draws {}: the sample store belongs "
                      "to another seed or version (delete the cell to redo it)",
                      trials[i].id, stored.value("key", std::int64_t(-1)), keys[i]));
    return stored;
  };
  // The trials not stored yet are generated together (the model batches them).
  std::vector<PasskeyPrompt> prompts(trials.size());
  auto request = [&](std::size_t i) {
    prompts[i] = build_prompt(framing, keys[i], trials[i].depth, target);
    return GenerationRequest{prompts[i].ids, options};
  };
  auto finish = [&](std::size_t i, const std::vector<std::int32_t>& generated) {
    return trial_record(model.tokenizer(), trials[i], keys[i], window, prompts[i], generated);
  };
  CellResult result;
  result.samples = taskkit::run_generation_samples(context, model, samples, "trials", reuse, request, finish);
  taskkit::score_retrieval_cell(result, config, framing, trials, {window, target, context.seed});
  result.details.update(nlohmann::json{
      {"template",
       "landmark-attention passkey (docs/protocols.md §Passkey): lines joined with \\n; prefix and suffix cut from the "
       "start of the filler repeated with spaces; prefix:suffix = depth:(1 - depth) in characters"},
      {"scoring", "the first run of ASCII digits in the decoded output equals the key"},
      {"key_rule",
       "uniform in [1, 50000] by SplitMix64 seeded with derive_seed(seed, "
       "\"passkey/window=W/depth=D/trial=T\")"}});
  return result;
}

}  // namespace e2llm::passkey
