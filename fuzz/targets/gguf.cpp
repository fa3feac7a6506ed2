// GGUF model files (`e2llm convert`, `[base] source = "gguf"`): the format reader, then the
// llama interpretation, then what the model loader does next with an accepted file.
#include "e2llm/formats/gguf_reader.hpp"
#include "fuzz_support.hpp"

namespace e2llm::fuzz {

bool one_input(const uint8_t* data, size_t size) {
  const std::string name = "fuzz-input.gguf";
  return expect_contract(
      [&] {
        const formats::Checkpoint ck = formats::checkpoint_from_gguf(formats::gguf::read(data, size, name, nullptr));
        const formats::Checkpoint half = formats::with_rope_layout(ck, "half");
        for (const auto& [tensor, view] : half.tensors) (void)formats::to_f32(view);
      },
      {name});
}

}  // namespace e2llm::fuzz
