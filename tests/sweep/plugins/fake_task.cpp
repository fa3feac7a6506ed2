// Test-only task: `samples` samples, each optionally slow, each logged to
// <out_dir>/computed.txt when computed (not when resumed), so tests can count work. Its
// cells carry intervals of `ppl` from the task kit, as a real task's do.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "e2llm/config_reader.hpp"
#include "e2llm/plugin.hpp"
#include "e2llm/task.hpp"
#include "e2llm/taskkit/uncertainty.hpp"

namespace {

class FakeTask : public e2llm::Task {
 public:
  e2llm::TaskInfo info() const override {
    e2llm::TaskInfo info{"faketask", "0.0.1", "test task", {{"ppl", false}, {"accuracy", true}}};
    info.path_keys = {"out_dir"};
    return info;
  }
  std::optional<std::int64_t> planned_items(std::int64_t) const override { return samples_; }
  void configure(const nlohmann::json& section) override {
    e2llm::ConfigReader cfg(section);
    samples_ = cfg.get<int>("samples", 4);
    if (samples_ < 1) throw e2llm::ConfigError("samples", "must be at least 1");
    sleep_ms_ = cfg.get<int>("sleep_ms", 0);
    out_dir_ = cfg.require<std::string>("out_dir");
    cfg.finish();
  }
  std::string fingerprint() const override { return "fake-" + std::to_string(samples_); }
  e2llm::CellResult evaluate(e2llm::LanguageModel& model, e2llm::EvalContext& ctx) override {
    e2llm::CellResult result;
    const std::string tag = model.describe().value("tag", "?");
    double sum = 0;
    for (int i = 0; i < samples_; ++i) {
      std::string id = "s" + std::to_string(i);
      nlohmann::json record;
      if (auto found = ctx.samples ? ctx.samples->find(id) : std::nullopt) {
        record = *found;
      } else {
        log_computed(tag + " " + std::to_string(ctx.window) + " " + std::to_string(i));
        std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
        auto lp = model.token_logprobs({1, 2, 3}, 1);
        record = {{"tag", tag}, {"window", ctx.window}, {"i", i}, {"nll", -lp[0] + 0.01 * i}};
        if (ctx.samples) ctx.samples->put(id, record);
      }
      sum += record["nll"].get<double>();
      result.samples.push_back(record);
      result.tokens_processed += static_cast<std::uint64_t>(ctx.window);
      if (ctx.progress) ctx.progress->update(std::size_t(i + 1), std::size_t(samples_), "samples");
    }
    result.metrics = {{"ppl", std::exp(sum / samples_)}, {"accuracy", 1.0}};
    result.details = {{"samples", samples_}};
    e2llm::taskkit::UncertaintyBuilder u({0.95, 200, ctx.seed});
    for (int i = 0; i < samples_; ++i) {
      u.items().ids.push_back("s" + std::to_string(i));
      u.items().columns["nll"].push_back(result.samples[std::size_t(i)]["nll"].get<double>());
    }
    u.add("ppl", {e2llm::taskkit::Statistic::exp_ratio, "nll", "", "", 1.0, e2llm::taskkit::PairedTest::bootstrap_ratio,
                  false});
    result.uncertainty = u.to_json();
    return result;
  }

 private:
  void log_computed(const std::string& line) {
    std::filesystem::create_directories(out_dir_);
    int fd = ::open((out_dir_ + "/computed.txt").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    std::string text = line + "\n";
    if (fd >= 0) {
      if (::write(fd, text.data(), text.size()) < 0) {
      }
      ::fsync(fd);
      ::close(fd);
    }
  }
  int samples_ = 4, sleep_ms_ = 0;
  std::string out_dir_;
};

}  // namespace

E2LLM_PLUGIN("task", "faketask", "0.0.1", FakeTask)
