// LongBench v1 rows (`[tasks.longbench] data`): one JSON object per line.
#include "e2llm/longbench/loader.hpp"
#include "fuzz_support.hpp"

namespace e2llm::fuzz {

bool one_input(const uint8_t* data, size_t size) {
  const auto path = write_scratch("rows.jsonl", {reinterpret_cast<const char*>(data), size});
  return expect_contract([&] { (void)longbench::load_rows(path); }, {path.string()});
}

}  // namespace e2llm::fuzz
