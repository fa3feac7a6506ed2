// Run configs (`e2llm sweep|train|config show CONFIG --set ...`): TOML through the config
// layer (locations, overrides, `config show`'s TOML) and the sweep spec parser. The input
// is the TOML text, then up to three --set items, separated by NUL bytes.
#include "e2llm/harness/config.hpp"
#include "e2llm/harness/sweep.hpp"
#include "fuzz_support.hpp"

namespace e2llm::fuzz {

bool one_input(const uint8_t* data, size_t size) {
  const auto parts = split_parts(data, size, 4);
  std::vector<std::string> overrides;
  for (size_t i = 1; i < parts.size(); ++i)
    if (!parts[i].empty()) overrides.emplace_back(parts[i]);
  const std::string name = "fuzz-config.toml";
  return expect_contract(
      [&] {
        const auto config = harness::Config::from_string(std::string(parts[0]), name, overrides);
        (void)config.to_toml();
        (void)harness::parse_sweep_spec(config);
      },
      {name, "--set"});
}

}  // namespace e2llm::fuzz
