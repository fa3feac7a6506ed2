// A task's report views (e2llm/report_view.hpp) as the cell files store them
// ("task.views"; docs/results-schema.md), and back.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "e2llm/report_view.hpp"

namespace e2llm::harness {

nlohmann::json views_to_json(const std::vector<ReportView>& views);

// Throws e2llm::Error "<where>.views[i].<field>: ..." for a malformed entry.
std::vector<ReportView> views_from_json(const nlohmann::json& views, const std::string& where);

}  // namespace e2llm::harness
