#include "e2llm/taskkit/sample_loop.hpp"

#include <algorithm>

namespace e2llm::taskkit {

std::vector<nlohmann::json> run_samples(EvalContext& context, const std::vector<Sample>& samples,
                                        const std::string& unit, const ReuseSample& reuse,
                                        const ComputeSample& compute) {
  std::size_t total = 0, done = 0;
  for (const auto& s : samples) total += s.work;
  auto report = [&](std::size_t units, const Sample& s) {
    if (context.progress) context.progress->update(units, total, s.what.empty() ? unit : s.what);
  };
  std::vector<nlohmann::json> records;
  records.reserve(samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const Sample& sample = samples[i];
    std::optional<nlohmann::json> stored = context.samples ? context.samples->find(sample.id) : std::nullopt;
    std::optional<nlohmann::json> record = stored ? reuse(i, *stored) : std::nullopt;
    if (record) {
      if (context.samples && *record != *stored) context.samples->put(sample.id, *record);
    } else {
      std::size_t ticks = 0;
      record = compute(i, [&] {
        if (ticks < sample.work) report(done + ++ticks, sample);
      });
      if (context.samples) context.samples->put(sample.id, *record);
    }
    done += sample.work;
    report(done, sample);
    records.push_back(std::move(*record));
  }
  return records;
}

}  // namespace e2llm::taskkit
