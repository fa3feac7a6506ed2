// The per-sample loop every task's evaluate() runs: look a sample up in the cell's store
// (so a killed cell resumes), compute it when it is not there, store it before the next
// one starts, and report progress.
#pragma once

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "e2llm/language_model.hpp"
#include "e2llm/task.hpp"

namespace e2llm::taskkit {

struct Sample {
  std::string id;        // unique within the cell: the store's key
  std::size_t work = 1;  // progress units it costs (e.g. the windows of a long document)
  std::string what{};    // what the progress line shows while it runs (default: the loop's unit)
};

// A stored record: the record to use (the same, or amended, e.g. rescored by the current
// metric; an amended one is stored again), or nothing to compute the sample again. Throw
// e2llm::Error to refuse a store that belongs to another configuration.
using ReuseSample = std::function<std::optional<nlohmann::json>(std::size_t index, const nlohmann::json& stored)>;

// Computes sample `index`. `tick()` may report one unit of progress inside the sample (at
// most its `work` units count).
using ComputeSample = std::function<nlohmann::json(std::size_t index, const std::function<void()>& tick)>;

// Runs the samples in order and returns their records (stored or computed), in order.
// Progress goes to context.progress as (units done, units in all samples, what).
std::vector<nlohmann::json> run_samples(EvalContext& context, const std::vector<Sample>& samples,
                                        const std::string& unit, const ReuseSample& reuse,
                                        const ComputeSample& compute);

// For tasks whose samples are generations: what sample `index` asks the model, and the record
// its generated tokens make.
using RequestSample = std::function<GenerationRequest(std::size_t index)>;
using FinishSample = std::function<nlohmann::json(std::size_t index, const std::vector<std::int32_t>& generated)>;

// run_samples for generations: every sample not in the store is asked of the model in one
// generate_batch() call (the model decodes batch_size() of them together), and each record is
// stored as soon as its generation ends, so a killed cell resumes from every finished one.
// Returns the records in sample order, whatever order the generations finish in.
std::vector<nlohmann::json> run_generation_samples(EvalContext& context, LanguageModel& model,
                                                   const std::vector<Sample>& samples, const std::string& unit,
                                                   const ReuseSample& reuse, const RequestSample& request,
                                                   const FinishSample& finish);

}  // namespace e2llm::taskkit
