// The GGUF format reader (gguf_reader.hpp). Layout, all little-endian:
//   "GGUF", u32 version, u64 tensor count, u64 metadata count,
//   metadata: string key, u32 value type, value   (string = u64 length + bytes;
//             array = u32 element type, u64 count, elements),
//   tensor infos: string name, u32 n_dims, u64 dims[n_dims] (innermost first), u32 ggml type,
//             u64 offset into the data section,
//   padding to general.alignment (default 32), the data section.
#include "e2llm/formats/gguf_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "e2llm/error.hpp"
#include "mapped_file.hpp"

namespace e2llm::formats::gguf {
namespace {

using detail::Cursor;
using detail::printable;

constexpr uint64_t kDefaultAlignment = 32;
constexpr int kMaxArrayNesting = 8;

// Size in the file of a scalar of type t; 0 for strings, arrays and unknown types.
size_t scalar_size(Type t) {
  switch (t) {
    case Type::U8:
    case Type::I8:
    case Type::Bool:
      return 1;
    case Type::U16:
    case Type::I16:
      return 2;
    case Type::U32:
    case Type::I32:
    case Type::F32:
      return 4;
    case Type::U64:
    case Type::I64:
    case Type::F64:
      return 8;
    default:
      return 0;
  }
}

// The fewest bytes one array element of type t takes: a string's length field, an inner
// array's element type and count. 0 for an unknown type.
size_t min_element_size(Type t) {
  if (t == Type::String) return 8;
  if (t == Type::Array) return 12;
  return scalar_size(t);
}

// Names of the ggml tensor types e2llm does not read, for the message that refuses them
// (the readable ones are in dtype_table()).
std::string ggml_type_name(uint32_t t) {
  static const std::map<uint32_t, const char*> names = {
      {9, "Q8_1"},   {15, "Q8_K"},  {16, "IQ2_XXS"}, {17, "IQ2_XS"}, {18, "IQ3_XXS"}, {19, "IQ1_S"}, {20, "IQ4_NL"},
      {21, "IQ3_S"}, {22, "IQ2_S"}, {23, "IQ4_XS"},  {24, "I8"},     {25, "I16"},     {26, "I32"},   {27, "I64"},
      {28, "F64"},   {29, "IQ1_M"}, {34, "TQ1_0"},   {35, "TQ2_0"},  {39, "MXFP4"}};
  auto it = names.find(t);
  return it != names.end() ? it->second : fmt::format("ggml type {}", t);
}

std::string read_string(Cursor& c, const char* what) {
  const auto len = c.read<uint64_t>(what);
  return std::string(c.bytes(static_cast<size_t>(std::min<uint64_t>(len, SIZE_MAX)), what));
}

Scalar read_scalar(Cursor& c, Type t) {
  switch (t) {
    case Type::U8:
      return uint64_t{c.read<uint8_t>("metadata value")};
    case Type::I8:
      return int64_t{c.read<int8_t>("metadata value")};
    case Type::U16:
      return uint64_t{c.read<uint16_t>("metadata value")};
    case Type::I16:
      return int64_t{c.read<int16_t>("metadata value")};
    case Type::U32:
      return uint64_t{c.read<uint32_t>("metadata value")};
    case Type::I32:
      return int64_t{c.read<int32_t>("metadata value")};
    case Type::F32: {
      // Keep the decimal the writer meant (1e-5, not 9.99999974e-06): shortest float repr.
      const float f = c.read<float>("metadata value");
      return std::isfinite(f) ? std::stod(fmt::format("{}", f)) : static_cast<double>(f);
    }
    case Type::Bool: {
      const auto b = c.read<uint8_t>("metadata value");
      if (b > 1) c.corrupt(fmt::format("bool metadata value {}", b));
      return b == 1;
    }
    case Type::String:
      return read_string(c, "metadata string");
    case Type::U64:
      return c.read<uint64_t>("metadata value");
    case Type::I64:
      return c.read<int64_t>("metadata value");
    case Type::F64:
      return c.read<double>("metadata value");
    default:
      c.corrupt(fmt::format("unknown metadata value type {}", static_cast<uint32_t>(t)));
  }
}

// Reads an array's element type and count, refusing counts the rest of the file cannot
// hold before anything is allocated.
std::pair<Type, uint64_t> read_array_header(Cursor& c) {
  const auto type = static_cast<Type>(c.read<uint32_t>("array element type"));
  const auto count = c.read<uint64_t>("array length");
  const size_t min_elem = min_element_size(type);
  if (min_elem == 0) c.corrupt(fmt::format("unknown array element type {}", static_cast<uint32_t>(type)));
  if (count > (c.size() - c.pos()) / min_elem)
    c.corrupt(fmt::format("array of {} elements does not fit in the file", count));
  return {type, count};
}

// Walks an array without keeping it (llama metadata needs no nested arrays).
void skip_array(Cursor& c, int depth) {
  if (depth > kMaxArrayNesting) c.corrupt(fmt::format("arrays nested more than {} deep", kMaxArrayNesting));
  const auto [type, count] = read_array_header(c);
  for (uint64_t i = 0; i < count; ++i) {
    if (type == Type::Array)
      skip_array(c, depth + 1);
    else if (type == Type::String)
      read_string(c, "metadata string");
    else
      c.skip(scalar_size(type), "array element");
  }
}

Value read_value(Cursor& c, Type type) {
  Value v;
  v.type = type;
  if (type != Type::Array) {
    v.scalar = read_scalar(c, type);
    return v;
  }
  const auto [element_type, count] = read_array_header(c);
  v.element_type = element_type;
  if (element_type == Type::Array) {
    for (uint64_t i = 0; i < count; ++i) skip_array(c, 1);
    return v;
  }
  v.elements.reserve(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) v.elements.push_back(read_scalar(c, element_type));
  return v;
}

struct Header {
  uint32_t version = 0;
  uint64_t n_tensors = 0, n_kv = 0;
};

Header read_header(Cursor& c) {
  const auto magic = c.bytes(4, "magic");
  if (magic != "GGUF")
    throw Error(fmt::format("{}: not a GGUF file (magic '{}', expected 'GGUF')", c.file(), printable(magic)));
  Header h;
  h.version = c.read<uint32_t>("version");
  if (h.version != 2 && h.version != 3)  // v2 and v3 share this layout (v1 used 32-bit counts)
    throw Error(fmt::format("{}: unsupported GGUF version {} (supported: 2, 3); re-convert with a recent llama.cpp",
                            c.file(), h.version));
  h.n_tensors = c.read<uint64_t>("tensor count");
  h.n_kv = c.read<uint64_t>("metadata count");
  // A key-value takes >= 12 bytes (key length + type), a tensor info >= 24: refuse counts the
  // file cannot hold before looping over them.
  if (h.n_kv > (c.size() - c.pos()) / 12) c.corrupt(fmt::format("metadata count {} does not fit in the file", h.n_kv));
  if (h.n_tensors > (c.size() - c.pos()) / 24)
    c.corrupt(fmt::format("tensor count {} does not fit in the file", h.n_tensors));
  return h;
}

std::map<std::string, Value> read_metadata(Cursor& c, uint64_t n_kv) {
  std::map<std::string, Value> kv;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = read_string(c, "metadata key");
    const auto type = static_cast<Type>(c.read<uint32_t>("metadata value type"));
    Value v = read_value(c, type);
    if (!kv.emplace(key, std::move(v)).second) c.corrupt(fmt::format("duplicate metadata key '{}'", printable(key)));
  }
  return kv;
}

DType tensor_dtype(Cursor& c, uint32_t ggml_type, const std::string& tensor) {
  if (const auto d = dtype_from_ggml(ggml_type)) return *d;
  std::string readable;
  for (const auto& i : dtype_table()) readable += (readable.empty() ? "" : ", ") + std::string(i.name);
  throw Error(
      fmt::format("{}: tensor '{}' has type {}, which e2llm cannot read (it reads {}); use a GGUF "
                  "quantized to one of those (e.g. Q4_K_M, Q8_0) or convert the model to F16",
                  c.file(), printable(tensor), ggml_type_name(ggml_type), readable));
}

TensorInfo read_tensor_info(Cursor& c) {
  TensorInfo info;
  info.name = read_string(c, "tensor name");
  const auto n_dims = c.read<uint32_t>("tensor dimension count");
  if (n_dims == 0 || n_dims > 4)
    c.corrupt(fmt::format("tensor '{}' has {} dimensions (1..4 allowed)", printable(info.name), n_dims));
  uint64_t numel = 1;
  for (uint32_t d = 0; d < n_dims; ++d) {
    const auto n = c.read<uint64_t>("tensor dimension");
    if (n == 0 || n > (uint64_t{1} << 40) || detail::mul_overflow(numel, n, &numel) || numel > (uint64_t{1} << 48))
      c.corrupt(fmt::format("tensor '{}' has an invalid dimension {}", printable(info.name), n));
    info.shape.insert(info.shape.begin(), static_cast<int64_t>(n));  // the file lists the innermost first
  }
  info.dtype = tensor_dtype(c, c.read<uint32_t>("tensor type"), info.name);
  const DTypeInfo& type = dtype_info(info.dtype);
  if (info.shape.back() % type.block != 0)
    c.corrupt(fmt::format("tensor '{}' is {} but its rows of {} elements are not whole blocks of {}",
                          printable(info.name), type.name, info.shape.back(), type.block));
  info.nbytes = numel / static_cast<uint64_t>(type.block) * type.block_bytes;
  info.offset = c.read<uint64_t>("tensor offset");
  return info;
}

std::vector<TensorInfo> read_tensor_infos(Cursor& c, uint64_t n_tensors) {
  std::vector<TensorInfo> infos;
  infos.reserve(static_cast<size_t>(n_tensors));
  std::set<std::string> seen;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo info = read_tensor_info(c);
    if (!seen.insert(info.name).second) c.corrupt(fmt::format("duplicate tensor '{}'", printable(info.name)));
    infos.push_back(std::move(info));
  }
  return infos;
}

// general.alignment is the one key the format itself defines.
uint64_t alignment_of(const std::map<std::string, Value>& kv, const Cursor& c) {
  auto it = kv.find("general.alignment");
  if (it == kv.end()) return kDefaultAlignment;
  const Value& v = it->second;
  uint64_t a = 0;
  if (const auto* u = std::get_if<uint64_t>(&v.scalar)) a = *u;
  if (const auto* i = std::get_if<int64_t>(&v.scalar)) a = *i > 0 ? static_cast<uint64_t>(*i) : 0;
  if (v.is_array() || a == 0 || (a & (a - 1)) != 0 || a > (uint64_t{1} << 24))
    c.corrupt("general.alignment is not a power of two (up to 2^24)");
  return a;
}

// Tensors must lie inside the data section, be aligned, and not overlap.
void check_tensor_ranges(const File& f, const Cursor& c) {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& info : f.tensors) {
    uint64_t end = 0;
    if (info.offset % f.alignment != 0)
      c.corrupt(fmt::format("tensor '{}' offset {} is not a multiple of the alignment {}", printable(info.name),
                            info.offset, f.alignment));
    if (detail::add_overflow(info.offset, info.nbytes, &end) || end > f.data_size)
      throw Error(
          fmt::format("{}: truncated or corrupted file: tensor '{}' needs bytes {}..{} of the data section "
                      "but it has {}; re-download or re-convert it",
                      f.name, printable(info.name), info.offset, info.offset + info.nbytes, f.data_size));
    ranges.emplace_back(info.offset, end);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second) c.corrupt("tensor data ranges overlap");
}

}  // namespace

const Value* File::find(const std::string& key) const {
  auto it = metadata.find(key);
  return it == metadata.end() ? nullptr : &it->second;
}

File read(const unsigned char* bytes, size_t size, const std::string& name, std::shared_ptr<const void> owner) {
  Cursor c(bytes, size, name);
  const Header h = read_header(c);
  File f;
  f.name = name;
  f.version = h.version;
  f.owner = std::move(owner);
  f.metadata = read_metadata(c, h.n_kv);
  f.tensors = read_tensor_infos(c, h.n_tensors);
  f.alignment = alignment_of(f.metadata, c);
  const uint64_t data_start = (static_cast<uint64_t>(c.pos()) + f.alignment - 1) / f.alignment * f.alignment;
  if (data_start > size)
    c.corrupt(fmt::format("data section starts at byte {} past the end of the file ({} bytes)", data_start, size));
  f.data = bytes + data_start;
  f.data_size = size - data_start;
  check_tensor_ranges(f, c);
  return f;
}

File read_file(const std::filesystem::path& path) {
  const detail::MappedFile m = detail::map_file(path);
  return read(m.data, m.size, path.string(), m.owner);
}

}  // namespace e2llm::formats::gguf
