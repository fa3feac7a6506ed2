// LongBench rows per minute: the longbench task plugin (its templates, middle truncation and
// greedy decoding, docs/protocols.md §LongBench) evaluated on a model at one window with one
// batch size, in a fresh process; prints one JSON line. With --prompts-out it also writes, per
// row, the exact prompt the task handed the model (ids and their decoded text), its
// max_new_tokens, stop tokens and e2llm's generation, so that another engine can be given the
// same prompts (bench/run_longbench.sh runs llama.cpp's llama-completion on them).
//   longbench_bench MODEL TOKENIZER DATA_DIR --window W [--datasets a,b] [--limit N]
//                   [--batch B] [--threads N] [--weights float|int8] [--prompts-out F]
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/harness/registry.hpp"
#include "e2llm/harness/tokenizer_choice.hpp"
#include "e2llm/llama/model.hpp"
#include "e2llm/llama/torch_language_model.hpp"

using namespace e2llm;
namespace formats = e2llm::formats;

namespace {

// Hands every call to the model it wraps and keeps what generate_batch() was asked and gave.
class RecordingModel final : public LanguageModel {
 public:
  explicit RecordingModel(llama::TorchLanguageModel& inner) : inner_(inner) {}
  std::int64_t window() const override { return inner_.window(); }
  const Tokenizer& tokenizer() const override { return inner_.tokenizer(); }
  std::vector<float> token_logprobs(const std::vector<std::int32_t>& ids, std::size_t from) override {
    return inner_.token_logprobs(ids, from);
  }
  std::vector<std::int32_t> generate(const std::vector<std::int32_t>& prompt, const GenerationOptions& o) override {
    return inner_.generate(prompt, o);
  }
  std::vector<std::vector<std::int32_t>> generate_batch(const std::vector<GenerationRequest>& requests,
                                                        const GenerationDone& done) override {
    requests_.insert(requests_.end(), requests.begin(), requests.end());
    auto out = inner_.generate_batch(requests, done);
    outputs_.insert(outputs_.end(), out.begin(), out.end());
    return out;
  }
  std::int64_t batch_size() const override { return inner_.batch_size(); }
  nlohmann::json describe() const override { return inner_.describe(); }

  std::vector<GenerationRequest> requests_;
  std::vector<std::vector<std::int32_t>> outputs_;

 private:
  llama::TorchLanguageModel& inner_;
};

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: longbench_bench MODEL TOKENIZER DATA_DIR --window W [--datasets a,b] [--limit N] [--batch B] "
                 "[--threads N] [--weights float|int8] [--prompts-out FILE]\n";
    return 2;
  }
  const std::string model_path = argv[1], tokenizer_path = argv[2], data_dir = argv[3];
  int64_t window = 2048, limit = 2, batch = 1;
  int threads = 0;
  std::string datasets, prompts_out, weights = "float";
  for (int i = 4; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--window")
      window = std::stoll(value);
    else if (flag == "--datasets")
      datasets = value;
    else if (flag == "--limit")
      limit = std::stoll(value);
    else if (flag == "--batch")
      batch = std::stoll(value);
    else if (flag == "--threads")
      threads = std::stoi(value);
    else if (flag == "--prompts-out")
      prompts_out = value;
    else if (flag == "--weights")
      weights = value;
    else {
      std::cerr << "longbench_bench: unknown flag " << flag << "\n";
      return 2;
    }
  }
  try {
    const int used_threads = llama::set_threads(threads);
    harness::PluginRegistry registry(harness::PluginRegistry::default_folders());
    std::shared_ptr<Tokenizer> tokenizer = registry.make_tokenizer(harness::tokenizer_plugin_for(tokenizer_path, ""));
    tokenizer->load(tokenizer_path);
    auto task = registry.make_task("longbench");
    nlohmann::json config = {{"data_dir", data_dir}, {"limit", limit}};
    if (!datasets.empty()) config["datasets"] = split_commas(datasets);
    task->configure(config);

    llama::ModelOptions options;
    options.weights = llama::parse_weight_storage(weights);
    auto model = llama::load_model(formats::load_checkpoint(model_path), options);
    llama::TorchLanguageModel lm(model, model->config().rope, window, tokenizer);
    lm.set_batch_size(batch);
    RecordingModel recording(lm);
    EvalContext context;
    context.window = window;
    auto t0 = std::chrono::steady_clock::now();
    const CellResult result = task->evaluate(recording, context);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    std::size_t prompt_tokens = 0, generated = 0;
    for (std::size_t i = 0; i < recording.requests_.size(); ++i) {
      prompt_tokens += recording.requests_[i].prompt.size();
      generated += recording.outputs_[i].size();
    }
    const double rows = static_cast<double>(result.samples.size());
    nlohmann::json out = {{"impl", "e2llm"},
                          {"window", window},
                          {"batch", batch},
                          {"weights", weights},
                          {"threads", used_threads},
                          {"rows", result.samples.size()},
                          {"seconds", seconds},
                          {"rows_per_min", rows / seconds * 60.0},
                          {"prompt_tokens", prompt_tokens},
                          {"generated_tokens", generated},
                          {"avg_en", result.metrics.value("avg_en", 0.0)}};
    std::printf("%s\n", out.dump().c_str());
    if (!prompts_out.empty()) {
      std::ofstream f(prompts_out);
      for (std::size_t i = 0; i < recording.requests_.size(); ++i) {
        const auto& r = recording.requests_[i];
        f << nlohmann::json{{"row", i},
                            {"ids", r.prompt},
                            {"text", tokenizer->decode(r.prompt)},
                            {"max_new_tokens", r.options.max_new_tokens},
                            {"stop_tokens", r.options.stop_tokens},
                            {"generated_ids", recording.outputs_[i]},
                            {"generated_text", tokenizer->decode(recording.outputs_[i])}}
                 .dump()
          << "\n";
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "longbench_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
