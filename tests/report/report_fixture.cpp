#include "report_fixture.hpp"

#include <nlohmann/json.hpp>

#include "e2llm/harness/cell_store.hpp"
#include "e2llm/util/files.hpp"
#include "e2llm/util/sha256.hpp"

namespace report_fixture {
using nlohmann::json;
namespace fs = std::filesystem;

static std::string write_cell(const fs::path& dir, const std::string& backend, const std::string& task_plugin,
                              std::int64_t window, const json& metrics, const json& metrics_info) {
  std::string key = e2llm::util::sha256_hex(backend + "/" + task_plugin + "/" + std::to_string(window));
  json cell = {{"schema", e2llm::harness::kCellSchema},
               {"schema_version", e2llm::harness::kCellSchemaVersion},
               {"key", key},
               {"backend", {{"label", backend}, {"plugin", "pi"}, {"version", "1.0.0"}}},
               {"task", {{"label", task_plugin}, {"plugin", task_plugin}, {"version", "1.0.0"}, {"metrics_info", metrics_info}}},
               {"window", window},
               {"original_window", 512},
               {"g", double(window) / 512},
               {"metrics", metrics},
               {"tokens_per_s", 1000.0},
               {"peak_rss_bytes", 100 << 20},
               {"timing", {{"wall_s", 3.0}}},
               {"git_revision", "abc123"}};
  std::string name = key.substr(0, 16) + ".json";
  e2llm::util::write_file_atomic(dir / "cells" / name, cell.dump(2));
  return name;
}

std::string write_run(const fs::path& dir) {
  const std::string evil = "<script>alert(1)</script>";
  const std::vector<std::string> backends = {"none", "e2llm", evil};
  e2llm::util::write_file_atomic(
      dir / "sweep.json",
      json({{"name", "fixture"}, {"original_window", 512},
            {"backends", {{{"label", "none"}}, {{"label", "e2llm"}}, {{"label", evil}}}}})
          .dump());
  json ppl_info = json::array({{{"name", "ppl"}, {"higher_is_better", false}}});
  json pk_info = json::array({{{"name", "accuracy"}, {"higher_is_better", true}}});
  json lb_info = json::array({{{"name", "avg_en"}, {"higher_is_better", true}}});
  std::string target;
  for (std::size_t b = 0; b < backends.size(); ++b) {
    for (std::int64_t w : {512, 1024, 2048}) {
      double ppl = b == 0 ? 6.0 * double(w) / 512 * double(w) / 512 : 6.5 + 0.75 * double(w) / 1024 + double(b);
      if (b == 1 && w == 1024) ppl = 7.25;
      std::string name = write_cell(dir, backends[b], "proofpile", w, {{"ppl", ppl}}, ppl_info);
      if (b == 1 && w == 1024) target = name;
      double acc = b == 0 && w > 512 ? 0.2 : 1.0;
      write_cell(dir, backends[b], "passkey", w,
                 {{"accuracy", acc}, {"accuracy_by_depth", {{"0.0", acc}, {"0.5", acc}, {"1.0", 1.0}}}}, pk_info);
    }
    write_cell(dir, backends[b], "longbench", 2048, {{"qasper", 12.5 + double(b)}, {"hotpotqa", 4.0}, {"avg_en", 8.25}},
               lb_info);
    e2llm::util::write_file_atomic(dir / "backends" / ("b" + std::to_string(b) + ".json"),
                                   json({{"label", backends[b]},
                                         {"plugin", "pi"},
                                         {"trains", b == 1},
                                         {"record", {{"checkpoint_hash", "h"}, {"trained_tokens", b == 1 ? 2500000 : 0},
                                                     {"train_wall_s", b == 1 ? 125.0 : 0.0}}},
                                         {"prepare_wall_s", 1.5}})
                                       .dump());
  }
  return target;
}

}  // namespace report_fixture
