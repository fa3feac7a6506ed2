// F16 / BF16 conversions used by the model loader and the writers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "e2llm/error.hpp"
#include "e2llm/formats/checkpoint.hpp"

using namespace e2llm::formats;

TEST(Dtype, F16KnownValues) {
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(f16_to_f32(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7e00)));
  EXPECT_TRUE(std::signbit(f16_to_f32(0x8000)));
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // rounds to infinity
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);                   // tie -> even (0)
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);                   // 1.5 ulp tie -> even (2)
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14) * (1.0f - 1e-4f)), 0x0400);  // rounds up into the normals
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);            // tie -> even
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(INFINITY), 0x7c00);
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(NAN))));
}

TEST(Dtype, F16RoundTripsEveryValue) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(f32_to_f16(f), h) << std::hex << h;
  }
}

TEST(Dtype, ToF32) {
  const std::vector<uint16_t> h = {0x3c00, 0xc000, 0x3555};
  std::vector<unsigned char> bytes(6);
  std::memcpy(bytes.data(), h.data(), 6);
  const auto f16 = to_f32(make_tensor(DType::F16, {3}, bytes));
  EXPECT_EQ(f16[0], 1.0f);
  EXPECT_EQ(f16[1], -2.0f);
  EXPECT_NEAR(f16[2], 1.0f / 3, 1e-3);
  // BF16 is the upper half of an f32: 0x3f80 = 1.0, 0x4049 ≈ 3.140625.
  const std::vector<uint16_t> b = {0x3f80, 0x4049, 0xbf00};
  std::memcpy(bytes.data(), b.data(), 6);
  const auto bf = to_f32(make_tensor(DType::BF16, {1, 3}, bytes));
  EXPECT_EQ(bf[0], 1.0f);
  EXPECT_EQ(bf[1], 3.140625f);
  EXPECT_EQ(bf[2], -0.5f);
  EXPECT_THROW(make_tensor(DType::F32, {2}, bytes), e2llm::Error);
  EXPECT_STREQ(dtype_name(DType::BF16), "BF16");
  EXPECT_EQ(dtype_bytes(DType::F16, {3}), 6u);
  // Quantized: rows are whole blocks (Q4_1: 32 elements in 20 bytes; Q6_K: 256 in 210).
  EXPECT_EQ(dtype_bytes(DType::Q4_1, {2, 64}), 80u);
  EXPECT_EQ(dtype_bytes(DType::Q6_K, {3, 512}), 1260u);
  EXPECT_THROW(dtype_bytes(DType::Q4_0, {2, 33}), e2llm::Error);
  EXPECT_EQ(dtype_from_ggml(3), DType::Q4_1);
  EXPECT_FALSE(dtype_from_ggml(16).has_value());  // IQ2_XXS: refused, not read
}
