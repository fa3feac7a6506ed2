#include "e2llm/taskkit/sample_loop.hpp"

#include <algorithm>

#include "e2llm/error.hpp"

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

std::vector<nlohmann::json> run_generation_samples(EvalContext& context, LanguageModel& model,
                                                   const std::vector<Sample>& samples, const std::string& unit,
                                                   const ReuseSample& reuse, const RequestSample& request,
                                                   const FinishSample& finish) {
  std::size_t total = 0, done = 0;
  for (const auto& s : samples) total += s.work;
  auto report = [&](const Sample& s) {
    if (context.progress) context.progress->update(done, total, s.what.empty() ? unit : s.what);
  };
  std::vector<nlohmann::json> records(samples.size());
  std::vector<std::size_t> pending;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    std::optional<nlohmann::json> stored = context.samples ? context.samples->find(samples[i].id) : std::nullopt;
    std::optional<nlohmann::json> record = stored ? reuse(i, *stored) : std::nullopt;
    if (!record) {
      pending.push_back(i);
      continue;
    }
    if (context.samples && *record != *stored) context.samples->put(samples[i].id, *record);
    records[i] = std::move(*record);
    done += samples[i].work;
    report(samples[i]);
  }
  std::vector<GenerationRequest> requests;
  requests.reserve(pending.size());
  for (std::size_t i : pending) requests.push_back(request(i));
  model.generate_batch(requests, [&](std::size_t j, const std::vector<std::int32_t>& generated) {
    const std::size_t i = pending.at(j);
    nlohmann::json record = finish(i, generated);
    if (context.samples) context.samples->put(samples[i].id, record);
    records[i] = std::move(record);
    done += samples[i].work;
    report(samples[i]);
  });
  for (std::size_t i : pending)
    if (records[i].is_null())
      throw Error("the model's generate_batch() returned without handing over sample " + samples[i].id);
  return records;
}

}  // namespace e2llm::taskkit
