// Truncated and corrupted files are refused with one-line e2llm::Error messages naming the
// file — never a crash, a hang or a giant allocation. Mutated copies live in a temp dir.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>

#include "checkpoint_test_util.hpp"
#include "e2llm/error.hpp"
#include "e2llm/formats/checkpoint.hpp"

using namespace e2llm::formats;
namespace formats = e2llm::formats;
using namespace e2llm::formats::test;

namespace {

// Where the fields of interest sit in stories260K.gguf, found by an independent walk of
// the GGUF layout (so the test does not trust the reader under test).
struct GgufLayout {
  size_t first_key_len = 24;
  size_t tokens_array_type = 0, tokens_array_count = 0;
  std::map<std::string, size_t> kv_value;  // key -> offset of its value
  size_t tensor_infos = 0;
  struct Info {
    std::string name;
    size_t name_len, n_dims, dims, type, offset;
    uint64_t offset_value;
  };
  std::vector<Info> infos;
};

template <typename T>
T get(const std::string& b, size_t pos) {
  T v;
  std::memcpy(&v, b.data() + pos, sizeof(T));
  return v;
}
template <typename T>
void put(std::string& b, size_t pos, T v) {
  std::memcpy(b.data() + pos, &v, sizeof(T));
}

GgufLayout walk(const std::string& b) {
  GgufLayout l;
  size_t p = 8;
  const auto n_tensors = get<uint64_t>(b, p);
  const auto n_kv = get<uint64_t>(b, p + 8);
  p = 24;
  auto skip_string = [&]() { p += 8 + get<uint64_t>(b, p); };
  const std::map<uint32_t, size_t> sizes = {{0, 1}, {1, 1}, {2, 2},  {3, 2},  {4, 4}, {5, 4},
                                            {6, 4}, {7, 1}, {10, 8}, {11, 8}, {12, 8}};
  for (uint64_t i = 0; i < n_kv; ++i) {
    const size_t key_pos = p;
    const std::string key = b.substr(p + 8, get<uint64_t>(b, p));
    skip_string();
    const auto type = get<uint32_t>(b, p);
    p += 4;
    l.kv_value[key] = p;
    if (type == 8) {
      skip_string();
    } else if (type == 9) {
      const auto at = get<uint32_t>(b, p);
      const auto count = get<uint64_t>(b, p + 4);
      if (key == "tokenizer.ggml.tokens") {
        l.tokens_array_type = p;
        l.tokens_array_count = p + 4;
      }
      p += 12;
      for (uint64_t j = 0; j < count; ++j) {
        if (at == 8) {
          skip_string();
        } else {
          p += sizes.at(at);
        }
      }
    } else {
      p += sizes.at(type);
    }
    (void)key_pos;
  }
  l.tensor_infos = p;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufLayout::Info info;
    info.name_len = p;
    info.name = b.substr(p + 8, get<uint64_t>(b, p));
    skip_string();
    info.n_dims = p;
    const auto nd = get<uint32_t>(b, p);
    p += 4;
    info.dims = p;
    p += 8 * nd;
    info.type = p;
    p += 4;
    info.offset = p;
    info.offset_value = get<uint64_t>(b, p);
    p += 8;
    l.infos.push_back(info);
  }
  return l;
}

// Loads PATH expecting an e2llm::Error that names the file; anything else fails the test.
void expect_refused(const std::filesystem::path& path, const std::string& what, const std::string& needle = "") {
  try {
    load_gguf(path);
    ADD_FAILURE() << what << ": accepted";
  } catch (const e2llm::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(path.string()), std::string::npos) << what << ": " << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << what << ": " << m;
    if (!needle.empty()) {
      EXPECT_NE(m.find(needle), std::string::npos) << what << ": " << m;
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": threw a non-e2llm exception: " << e.what();
  }
}

class GgufCorruption : public ::testing::Test {
 protected:
  void SetUp() override {
    original_ = read_bytes(stories_gguf());
    ASSERT_EQ(original_.size(), 1185376u);
    layout_ = walk(original_);
    ASSERT_EQ(layout_.infos.size(), 48u);
  }
  // Applies `mutate` to a copy, writes it, expects it refused.
  template <typename F>
  void refuse(const std::string& what, F mutate, const std::string& needle = "") {
    std::string b = original_;
    mutate(b);
    const auto path = dir_ / "mutated.gguf";
    write_bytes(path, b);
    expect_refused(path, what, needle);
  }
  std::string original_;
  GgufLayout layout_;
  TempDir dir_;
};

}  // namespace

TEST_F(GgufCorruption, TruncatedAnywhere) {
  std::vector<size_t> cuts;
  for (size_t n = 0; n < 65536; n += 997) cuts.push_back(n);
  for (size_t n = 65536; n < original_.size(); n += 65536) cuts.push_back(n);
  for (size_t k : {1, 2, 3, 4, 8, 31, 32, 33, 255, 256, 997, 4096, 44032}) cuts.push_back(original_.size() - k);
  cuts.push_back(layout_.tensor_infos);
  cuts.push_back(14176);  // exactly the start of the data section
  for (size_t n : cuts) {
    const auto path = dir_ / ("cut_" + std::to_string(n) + ".gguf");
    write_bytes(path, original_.substr(0, n));
    expect_refused(path, "cut at " + std::to_string(n));
    std::filesystem::remove(path);
  }
}

TEST_F(GgufCorruption, BadHeader) {
  refuse(
      "bad magic", [](std::string& b) { b[0] = 'X'; }, "not a GGUF file");
  refuse(
      "version 1", [](std::string& b) { put<uint32_t>(b, 4, 1); }, "version");
  refuse(
      "version 99", [](std::string& b) { put<uint32_t>(b, 4, 99); }, "version");
  for (uint64_t n : {UINT64_MAX, uint64_t{1} << 40, uint64_t{1} << 20, uint64_t{49}})
    refuse("tensor count " + std::to_string(n), [n](std::string& b) { put<uint64_t>(b, 8, n); });
  for (uint64_t n : {UINT64_MAX, uint64_t{1} << 40, uint64_t{1} << 20, uint64_t{20}, uint64_t{0}})
    refuse("kv count " + std::to_string(n), [n](std::string& b) { put<uint64_t>(b, 16, n); });
}

TEST_F(GgufCorruption, BadMetadata) {
  for (uint64_t n : {UINT64_MAX, uint64_t{1} << 40, uint64_t{1185376}, uint64_t{1185376 - 31}})
    refuse("key length " + std::to_string(n), [&, n](std::string& b) { put<uint64_t>(b, layout_.first_key_len, n); });
  for (uint64_t n : {UINT64_MAX, uint64_t{1} << 62, uint64_t{1} << 33, uint64_t{513}, uint64_t{511}})
    refuse("tokens count " + std::to_string(n),
           [&, n](std::string& b) { put<uint64_t>(b, layout_.tokens_array_count, n); });
  refuse("array element type", [&](std::string& b) { put<uint32_t>(b, layout_.tokens_array_type, 99); });
  refuse("array of arrays", [&](std::string& b) { put<uint32_t>(b, layout_.tokens_array_type, 9); });
  // A token string with a huge length (the first token "<unk>").
  refuse("token string length", [&](std::string& b) { put<uint64_t>(b, layout_.tokens_array_count + 8, UINT64_MAX); });
  refuse("value type", [&](std::string& b) { put<uint32_t>(b, layout_.kv_value.at("llama.block_count") - 4, 77); });
  refuse(
      "architecture", [&](std::string& b) { b[layout_.kv_value.at("general.architecture") + 8 + 4] = 'b'; },
      "architecture");
  auto set_u32 = [&](const std::string& key, uint32_t v) {
    return [&, key, v](std::string& b) { put<uint32_t>(b, layout_.kv_value.at(key), v); };
  };
  refuse("embedding_length 65", set_u32("llama.embedding_length", 65));
  refuse("embedding_length 0", set_u32("llama.embedding_length", 0));
  refuse("head_count 0", set_u32("llama.attention.head_count", 0), "n_heads");
  refuse("head_count 7", set_u32("llama.attention.head_count", 7));
  refuse("head_count_kv 3", set_u32("llama.attention.head_count_kv", 3));
  refuse("block_count huge", set_u32("llama.block_count", 0xffffffffu), "n_layers");
  refuse("block_count 6", set_u32("llama.block_count", 6), "model.layers.5");
  refuse("block_count 4", set_u32("llama.block_count", 4), "model.layers.4");
  refuse("feed_forward_length", set_u32("llama.feed_forward_length", 171));
  refuse("rope dims", set_u32("llama.rope.dimension_count", 4), "partial");
  refuse("bos out of range", set_u32("tokenizer.ggml.bos_token_id", 512), "bos");
}

TEST_F(GgufCorruption, BadTensorInfos) {
  const auto& first = layout_.infos[0];  // token_embd.weight, 2 dims
  const auto& last = layout_.infos.back();
  refuse("name length", [&](std::string& b) { put<uint64_t>(b, first.name_len, UINT64_MAX); });
  refuse("name length 2^40", [&](std::string& b) { put<uint64_t>(b, first.name_len, uint64_t{1} << 40); });
  refuse(
      "n_dims 5", [&](std::string& b) { put<uint32_t>(b, first.n_dims, 5); }, "dimensions");
  refuse("n_dims 0", [&](std::string& b) { put<uint32_t>(b, first.n_dims, 0); });
  refuse("n_dims huge", [&](std::string& b) { put<uint32_t>(b, first.n_dims, 0xffffffffu); });
  for (uint64_t d : {uint64_t{0}, UINT64_MAX, uint64_t{1} << 40, uint64_t{1} << 39, uint64_t{65}})
    refuse("dim " + std::to_string(d), [&, d](std::string& b) { put<uint64_t>(b, first.dims, d); });
  // Two dims whose product overflows 64 bits.
  refuse("dims overflow", [&](std::string& b) {
    put<uint64_t>(b, first.dims, uint64_t{1} << 39);
    put<uint64_t>(b, first.dims + 8, uint64_t{1} << 39);
  });
  refuse(
      "type Q4_0", [&](std::string& b) { put<uint32_t>(b, first.type, 2); }, "Q4_0");
  refuse(
      "type unknown", [&](std::string& b) { put<uint32_t>(b, first.type, 1234); }, "F16");
  for (uint64_t off : {UINT64_MAX, UINT64_MAX - 31, uint64_t{1185376}, uint64_t{1}, uint64_t{16}})
    refuse("offset " + std::to_string(off), [&, off](std::string& b) { put<uint64_t>(b, first.offset, off); });
  refuse(
      "overlapping offsets", [&](std::string& b) { put<uint64_t>(b, layout_.infos[1].offset, 0); }, "overlap");
  refuse(
      "last tensor past the end", [&](std::string& b) { put<uint64_t>(b, last.offset, last.offset_value + 32); },
      "truncated");
  refuse(
      "unknown tensor name", [&](std::string& b) { b[first.name_len + 8] = 'x'; }, "unsupported tensor");
  refuse(
      "newline in a name", [&](std::string& b) { b[first.name_len + 8] = '\n'; }, "'\\x0aoken_embd.weight'");
  refuse("duplicate tensor name", [&](std::string& b) {
    // Rename blk.0.attn_k -> blk.0.attn_q (same length).
    for (const auto& info : layout_.infos)
      if (info.name == "blk.0.attn_k.weight") b[info.name_len + 8 + 11] = 'q';
  });
  refuse("alignment", [&](std::string& b) {
    // No general.alignment in the file: pretend general.name is it by renaming the key
    // would shift bytes; instead point a tensor at a non-32-aligned but in-range offset.
    put<uint64_t>(b, last.offset, last.offset_value - 4);
  });
}

TEST_F(GgufCorruption, RandomByteFlipsNeverCrash) {
  // Flip random bytes in the header and metadata (the data section is opaque floats):
  // each file must load or be refused with e2llm::Error.
  std::mt19937_64 rng(20240113);
  std::uniform_int_distribution<size_t> pos(0, 14175);
  std::uniform_int_distribution<int> byte(0, 255), count(1, 4);
  int refused = 0;
  const auto path = dir_ / "flipped.gguf";
  // E2LLM_FUZZ_ITERS raises the count for a longer local run (e.g. under ASan).
  const char* env = std::getenv("E2LLM_FUZZ_ITERS");
  const int iters = env ? std::atoi(env) : 150;
  for (int iter = 0; iter < iters; ++iter) {
    std::string b = original_;
    for (int k = count(rng); k > 0; --k) b[pos(rng)] = static_cast<char>(byte(rng));
    write_bytes(path, b);
    try {
      load_gguf(path);
    } catch (const e2llm::Error& e) {
      ++refused;
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "iteration " << iter << ": non-e2llm exception: " << e.what();
    }
  }
  EXPECT_GT(refused, 0);
}

// ---- safetensors ----

namespace {

std::string st_file(const std::string& header, const std::string& data) {
  std::string b(8, '\0');
  put<uint64_t>(b, 0, header.size());
  return b + header + data;
}

void expect_st_refused(const std::filesystem::path& path, const std::string& what, const std::string& needle = "") {
  try {
    read_safetensors(path);
    ADD_FAILURE() << what << ": accepted";
  } catch (const e2llm::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(path.string()), std::string::npos) << what << ": " << m;
    if (!needle.empty()) {
      EXPECT_NE(m.find(needle), std::string::npos) << what << ": " << m;
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": non-e2llm exception: " << e.what();
  }
}

}  // namespace

TEST(SafetensorsCorruption, ValidFileReads) {
  TempDir dir;
  const std::string data(24, '\x01');
  write_bytes(dir / "ok.safetensors",
              st_file(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
                      R"("b":{"dtype":"BF16","shape":[4],"data_offsets":[16,24]},"__metadata__":{"k":"v"}})",
                      data));
  std::map<std::string, std::string> meta;
  const auto t = read_safetensors(dir / "ok.safetensors", &meta);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t.at("a").shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(t.at("b").dtype, DType::BF16);
  EXPECT_EQ(meta.at("k"), "v");
}

TEST(SafetensorsCorruption, Refused) {
  TempDir dir;
  const std::string data(24, '\x01');
  const auto path = dir / "bad.safetensors";
  auto check = [&](const std::string& what, const std::string& bytes, const std::string& needle = "") {
    write_bytes(path, bytes);
    expect_st_refused(path, what, needle);
  };
  const std::string good = R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
  std::string b = st_file(good, data);
  put<uint64_t>(b, 0, UINT64_MAX);
  check("header length max", b, "header length");
  put<uint64_t>(b, 0, b.size());
  check("header length = file size", b, "header length");
  put<uint64_t>(b, 0, 0);
  check("header length 0", b);
  check("empty file", "");
  check("7 bytes", "\x10\0\0\0\0\0\0");
  check("header not JSON", st_file("{not json}", data), "JSON");
  check("header not object", st_file("[1,2]", data));
  check("overlap",
        st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                data),
        "overlap");
  check("past the end", st_file(R"({"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})", data), "outside");
  check("begin > end", st_file(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[16,8]}})", data));
  check("size mismatch", st_file(R"({"a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,16]}})", data), "need");
  check("unsupported dtype", st_file(R"({"a":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})", data), "I64");
  check("negative shape", st_file(R"({"a":{"dtype":"F32","shape":[-1,2],"data_offsets":[0,16]}})", data));
  check("huge shape", st_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}})", data));
  check("offsets not pair", st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", data));
  check("missing dtype", st_file(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", data));
  check("metadata not strings", st_file(R"({"__metadata__":{"k":1}})", data));
  const std::string full = st_file(good, data.substr(0, 16));
  for (size_t n = 0; n < full.size(); ++n) check("cut at " + std::to_string(n), full.substr(0, n));
}

// ---- F16 / BF16 GGUF: rebuild stories260K with half-precision tensors ----

namespace {

// Same metadata bytes, tensor infos re-typed, data re-encoded and re-aligned (to `align`).
std::string rebuild_gguf(const std::string& src, const GgufLayout& l, uint32_t ggml_type) {
  std::string infos, data;
  size_t p_end = 0;
  for (const auto& info : l.infos) p_end = std::max(p_end, info.offset + 8);
  const size_t src_data_start = (p_end + 31) / 32 * 32;
  for (const auto& info : l.infos) {
    const auto nd = get<uint32_t>(src, info.n_dims);
    uint64_t numel = 1;
    for (uint32_t d = 0; d < nd; ++d) numel *= get<uint64_t>(src, info.dims + 8 * d);
    infos += src.substr(info.name_len, info.type - info.name_len);  // name, n_dims, dims
    std::string t(4, '\0');
    put<uint32_t>(t, 0, ggml_type);
    infos += t;
    std::string off(8, '\0');
    put<uint64_t>(off, 0, data.size());
    infos += off;
    for (uint64_t i = 0; i < numel; ++i) {
      const float f = get<float>(src, src_data_start + info.offset_value + 4 * i);
      uint16_t h;
      if (ggml_type == 1) {
        h = f32_to_f16(f);
      } else {
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        h = static_cast<uint16_t>(bits >> 16);  // truncation is fine for a test
      }
      data.append(reinterpret_cast<const char*>(&h), 2);
    }
    data.append((32 - data.size() % 32) % 32, '\0');
  }
  std::string out = src.substr(0, l.tensor_infos) + infos;
  out.append((32 - out.size() % 32) % 32, '\0');
  return out + data;
}

}  // namespace

TEST_F(GgufCorruption, HalfPrecisionGgufLoads) {
  for (uint32_t type : {1u, 30u}) {
    const auto path = dir_ / ("half_" + std::to_string(type) + ".gguf");
    write_bytes(path, rebuild_gguf(original_, layout_, type));
    const Checkpoint half = load_gguf(path);
    const Checkpoint f32 = load_gguf(stories_gguf());
    const DType want = type == 1 ? DType::F16 : DType::BF16;
    ASSERT_EQ(half.tensors.size(), f32.tensors.size());
    for (const auto& [name, t] : f32.tensors) {
      const TensorView& h = half.tensor(name);
      EXPECT_EQ(h.dtype, want) << name;
      EXPECT_EQ(h.shape, t.shape) << name;
      const auto a = to_f32(t), b = to_f32(h);
      const float tol = type == 1 ? 1e-3f : 1e-2f;
      for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], std::abs(a[i]) * tol + 1e-6f) << name << " " << i;
    }
    // And it survives the HF round trip byte-for-byte.
    save_hf_dir(half, dir_ / "hf");
    const Checkpoint back = with_rope_layout(load_hf_dir(dir_ / "hf"), "adjacent");
    EXPECT_EQ(back.fingerprint, half.fingerprint);
  }
}
