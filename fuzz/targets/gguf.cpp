// GGUF model files (`e2llm convert`, `[base] source = "gguf"`): the format reader, the
// conversion to float32 of every tensor it accepts (which dequantizes ggml's block types;
// fuzz/corpus/gguf has seeds of all ten), then the llama interpretation and what the model
// loader does next with an accepted file: the RoPE-layout permutation and the conversion.
#include "e2llm/formats/gguf_reader.hpp"
#include "fuzz_support.hpp"

namespace e2llm::fuzz {

namespace {

// The reader bounds a tensor by the input's size (a Q2_K byte holds ~3 elements); this also
// caps each float32 buffer at 16 MiB whatever the input size.
constexpr int64_t kMaxConvertedElements = int64_t{1} << 22;

void convert(const formats::TensorView& view) {
  if (view.numel() <= kMaxConvertedElements) (void)formats::to_f32(view);
}

formats::TensorView view_of(const formats::gguf::File& file, const formats::gguf::TensorInfo& info) {
  formats::TensorView v;
  v.dtype = info.dtype;
  v.shape = info.shape;
  v.data = file.data + info.offset;
  v.nbytes = static_cast<size_t>(info.nbytes);
  return v;
}

}  // namespace

bool one_input(const uint8_t* data, size_t size) {
  const std::string name = "fuzz-input.gguf";
  return expect_contract(
      [&] {
        const formats::gguf::File file = formats::gguf::read(data, size, name, nullptr);
        for (const auto& info : file.tensors) convert(view_of(file, info));
        const formats::Checkpoint ck = formats::checkpoint_from_gguf(file);
        const formats::Checkpoint half = formats::with_rope_layout(ck, "half");
        for (const auto& [tensor, view] : half.tensors) convert(view);
      },
      {name});
}

}  // namespace e2llm::fuzz
