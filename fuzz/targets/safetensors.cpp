// One safetensors file (a Hugging Face shard): the 8-byte length, the JSON header, the
// tensors' byte ranges.
#include "e2llm/formats/checkpoint.hpp"
#include "fuzz_support.hpp"

namespace e2llm::fuzz {

bool one_input(const uint8_t* data, size_t size) {
  const auto path = write_scratch("model.safetensors", {reinterpret_cast<const char*>(data), size});
  return expect_contract(
      [&] {
        std::map<std::string, std::string> metadata;
        for (const auto& [name, view] : formats::read_safetensors(path, &metadata)) (void)formats::to_f32(view);
      },
      {path.string()});
}

}  // namespace e2llm::fuzz
