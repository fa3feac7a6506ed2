// The [report] table of a sweep config (docs/results-schema.md, "The sweep config (the parts the harness reads)"): read
// by the sweep, which checks it before anything runs, and by the report from sweep.json.
#include <cstdint>

#include "e2llm/harness/report.hpp"

namespace e2llm::harness {
using nlohmann::json;

ReportSettings report_settings_from_json(const json& section,
                                         const std::function<void(const std::string&, const std::string&)>& fail) {
  ReportSettings s;
  if (section.is_null()) return s;
  if (!section.is_object()) fail("", "expected a table");
  auto text = [&](const char* key) -> std::string {
    auto it = section.find(key);
    if (it == section.end()) return "";
    if (!it->is_string() || it->get<std::string>().empty()) fail(key, "expected a backend label (a string)");
    return it->get<std::string>();
  };
  s.base = text("base");
  s.reference = text("reference");
  if (auto it = section.find("level"); it != section.end()) {
    if (!it->is_number() || !(it->get<double>() > 0.5 && it->get<double>() < 1))
      fail("level", "expected a confidence level between 0.5 and 1, e.g. 0.95");
    s.level = it->get<double>();
  }
  if (auto it = section.find("resamples"); it != section.end()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 100 || it->get<std::int64_t>() > 1000000)
      fail("resamples", "expected an integer between 100 and 1000000, e.g. 2000");
    s.resamples = it->get<std::int64_t>();
  }
  if (auto it = section.find("groups"); it != section.end()) {
    if (!it->is_array()) fail("groups", "expected an array of tables {title, backends} ([[report.groups]])");
    for (std::size_t g = 0; g < it->size(); ++g) {
      const json& item = (*it)[g];
      const std::string at = "groups[" + std::to_string(g) + "]";
      if (!item.is_object()) fail(at, "expected a table {title, backends}");
      for (const auto& [key, value] : item.items())
        if (key != "title" && key != "backends") fail(at + "." + key, "unknown key (a group has title and backends)");
      ReportGroup group;
      if (!item.contains("title") || !item["title"].is_string()) fail(at + ".title", "expected a string");
      group.title = item["title"];
      if (!item.contains("backends") || !item["backends"].is_array() || item["backends"].size() < 2)
        fail(at + ".backends",
             "expected an array of at least two backend labels (the first is compared with the others)");
      for (const auto& b : item["backends"]) {
        if (!b.is_string()) fail(at + ".backends", "expected backend labels (strings)");
        group.backends.push_back(b);
      }
      s.groups.push_back(std::move(group));
    }
  }
  return s;
}

}  // namespace e2llm::harness
