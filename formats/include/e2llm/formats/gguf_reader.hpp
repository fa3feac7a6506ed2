// The GGUF container (ggml's model file, versions 2 and 3) read as a format only: header,
// metadata key-values, tensor infos and the aligned data section. What the keys and the
// tensors mean for a llama model is the loader's business (gguf.cpp, load_gguf), the way
// llama.cpp keeps ggml's gguf.cpp apart from its model loader.
//
// Every length, count and offset is checked against the bytes before it is used: a
// truncated or corrupted file is a one-line e2llm::Error naming the file, never a crash or
// a giant allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "e2llm/formats/checkpoint.hpp"

namespace e2llm::formats::gguf {

// Metadata value types, as numbered in the file.
enum class Type : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};

// A decoded scalar: unsigned and signed integers widened to 64 bits, floats to double.
using Scalar = std::variant<uint64_t, int64_t, double, bool, std::string>;

struct Value {
  Type type = Type::U8;
  Scalar scalar;                 // when type != Array
  Type element_type = Type::U8;  // when type == Array
  std::vector<Scalar> elements;  // when type == Array; arrays of arrays are checked, not kept
  bool is_array() const { return type == Type::Array; }
};

struct TensorInfo {
  std::string name;            // as stored, e.g. "blk.0.attn_q.weight"
  std::vector<int64_t> shape;  // outermost first (PyTorch order); the file lists innermost first
  DType dtype = DType::F32;    // the types of dtype_table(); other ggml types are refused
  uint64_t offset = 0;         // from the start of the data section, a multiple of the alignment
  uint64_t nbytes = 0;
};

struct File {
  std::string name;  // the path, for messages
  uint32_t version = 0;
  std::map<std::string, Value> metadata;
  std::vector<TensorInfo> tensors;      // in file order; names unique; data ranges checked
  uint64_t alignment = 32;              // general.alignment, or the format's default
  const unsigned char* data = nullptr;  // the data section
  uint64_t data_size = 0;
  std::shared_ptr<const void> owner;  // keeps the bytes alive

  const Value* find(const std::string& key) const;
};

// Parses `size` bytes at `bytes` (kept alive by `owner`); `name` is shown in errors.
File read(const unsigned char* bytes, size_t size, const std::string& name, std::shared_ptr<const void> owner);
// Maps the file read-only and parses it.
File read_file(const std::filesystem::path& path);

}  // namespace e2llm::formats::gguf

namespace e2llm::formats {
// The llama interpretation of a parsed GGUF (gguf.cpp): config, vocabulary, tensors under
// Hugging Face names. load_gguf(path) is read_file + this.
Checkpoint checkpoint_from_gguf(const gguf::File& file);
}  // namespace e2llm::formats
