// Safetensors (Hugging Face): 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}, then the
// data. Reading maps the file and checks every offset; writing is atomic.
#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "e2llm/error.hpp"
#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/util/atomic_file.hpp"
#include "mapped_file.hpp"

namespace e2llm::formats {
namespace {

constexpr uint64_t kMaxHeader = uint64_t{100} << 20;  // the reference implementation's limit

DType parse_dtype(const std::string& s, const std::string& file, const std::string& tensor) {
  if (s == "F32") return DType::F32;
  if (s == "F16") return DType::F16;
  if (s == "BF16") return DType::BF16;
  throw Error(fmt::format("{}: tensor '{}' has unsupported dtype {}; save the model in float32, float16 or bfloat16",
                          file, detail::printable(tensor), detail::printable(s)));
}

}  // namespace

std::map<std::string, TensorView> read_safetensors(const std::filesystem::path& path,
                                                   std::map<std::string, std::string>* metadata) {
  const std::string file = path.string();
  const detail::MappedFile m = detail::map_file(path);
  detail::Cursor c(m.data, m.size, file);
  const auto header_len = c.read<uint64_t>("header length");
  if (header_len > kMaxHeader || header_len > m.size - 8)
    throw Error(fmt::format("{}: corrupted safetensors file: header length {} exceeds the file ({} bytes)", file,
                            header_len, m.size));
  const auto text = c.bytes(static_cast<size_t>(header_len), "header");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: corrupted safetensors file: header is not JSON ({})", file, e.what()));
  }
  if (!header.is_object()) throw Error(fmt::format("{}: corrupted safetensors file: header is not an object", file));
  const unsigned char* data = m.data + 8 + header_len;
  const uint64_t data_size = m.size - 8 - header_len;

  std::map<std::string, TensorView> tensors;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw Error(fmt::format("{}: __metadata__ is not an object", file));
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) throw Error(fmt::format("{}: __metadata__.{} is not a string", file, detail::printable(k)));
        if (metadata) (*metadata)[k] = v.get<std::string>();
      }
      continue;
    }
    auto bad = [&, &tensor = name](const std::string& why) {  // C++17 lambdas cannot capture a binding itself
      throw Error(fmt::format("{}: corrupted safetensors file: tensor '{}' {}", file, detail::printable(tensor), why));
    };
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
      bad("needs dtype, shape and data_offsets");
    if (!entry["dtype"].is_string()) bad("dtype is not a string");
    TensorView t;
    t.dtype = parse_dtype(entry["dtype"].get<std::string>(), file, name);
    const auto& shape = entry["shape"];
    if (!shape.is_array() || shape.size() > 8) bad("shape is not an array of at most 8 sizes");
    uint64_t numel = 1;
    for (const auto& s : shape) {
      if (!s.is_number_unsigned()) bad("shape holds a value that is not a non-negative integer");
      const auto v = s.get<uint64_t>();
      if (v > (uint64_t{1} << 48) || detail::mul_overflow(numel, v, &numel) || numel > (uint64_t{1} << 48))
        bad("shape is too large");
      t.shape.push_back(static_cast<int64_t>(v));
    }
    const auto& off = entry["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      bad("data_offsets is not [begin, end]");
    const auto begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end || end > data_size)
      bad(fmt::format("data_offsets [{}, {}] fall outside the data section ({} bytes); the file may be truncated",
                      begin, end, data_size));
    const uint64_t need = numel * dtype_info(t.dtype).block_bytes;  // float types only: one element a block
    if (end - begin != need)
      bad(fmt::format("data_offsets span {} bytes but {} elements of {} need {}", end - begin, numel,
                      dtype_name(t.dtype), need));
    t.data = data + begin;
    t.nbytes = static_cast<size_t>(end - begin);
    t.owner = m.owner;
    ranges.emplace_back(begin, end);
    tensors.emplace(name, std::move(t));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second)
      throw Error(
          fmt::format("{}: corrupted safetensors file: tensor data ranges overlap at byte {}", file, ranges[i].first));
  return tensors;
}

void write_safetensors(const std::filesystem::path& path, const std::map<std::string, TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();  // std::map-backed: keys come out sorted
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {  // std::map: sorted names, data in the same order
    if (is_quantized(t.dtype))
      throw Error(fmt::format("cannot write {}: tensor '{}' is {}, which safetensors cannot hold; dequantize it first",
                              path.string(), name, dtype_name(t.dtype)));
    if (t.nbytes != dtype_bytes(t.dtype, t.shape))
      throw Error(
          fmt::format("cannot write {}: tensor '{}' has {} bytes for its shape", path.string(), name, t.nbytes));
    header[name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.nbytes}}};
    offset += t.nbytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned
  const uint64_t len = text.size();

  util::AtomicFileWriter out(path);
  out.write(&len, 8);
  out.write(text.data(), text.size());
  for (const auto& [name, t] : tensors) out.write(t.data, t.nbytes);
  out.commit();
}

}  // namespace e2llm::formats
