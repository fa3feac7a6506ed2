// Dequantization of ggml's block-quantized types (docs/formats.md §Quantized tensors).
//
// Exactness: every scale is an f16 (11 significant bits) times a small integer, and every
// product below has at most 24 significant bits, so it is exact in float32; the only rounding
// is the final add or subtract of a minimum. The result is therefore the same whether or not
// a compiler fuses `a * b + c` (this file is still compiled with -ffp-contract=off): it equals
// the gguf package's numpy code bit for bit (tests/formats checks that), and by the same
// argument ggml's C reference.
#include "ggml_quants.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <system_error>
#include <thread>
#include <vector>

#include "e2llm/error.hpp"

namespace e2llm::formats {
namespace {

float half_at(const unsigned char* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

uint32_t u32_at(const unsigned char* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// ---- 32-element blocks ---------------------------------------------------------------------
// Byte j of the 16 packed bytes holds element j in its low nibble and element j + 16 in its
// high nibble; Q5's 32-bit word holds bit 4 of element j in bit j.

// Q4_0: d | 16 bytes.  x = d * (q - 8)
void q4_0(const unsigned char* b, float* y) {
  const float d = half_at(b);
  const unsigned char* q = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>((q[j] & 0x0F) - 8);
    y[j + 16] = d * static_cast<float>((q[j] >> 4) - 8);
  }
}

// Q4_1: d | m | 16 bytes.  x = d * q + m
void q4_1(const unsigned char* b, float* y) {
  const float d = half_at(b), m = half_at(b + 2);
  const unsigned char* q = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(q[j] & 0x0F) + m;
    y[j + 16] = d * static_cast<float>(q[j] >> 4) + m;
  }
}

// Five-bit values of a Q5 block: the low nibbles, plus bit 4 from the 32-bit word `high`.
void five_bit(const unsigned char* low, uint32_t high, int* q) {
  for (int j = 0; j < 16; ++j) {
    q[j] = (low[j] & 0x0F) | static_cast<int>((high >> j) & 1u) << 4;
    q[j + 16] = (low[j] >> 4) | static_cast<int>((high >> (j + 16)) & 1u) << 4;
  }
}

// Q5_0: d | high bits (u32) | 16 bytes.  x = d * (q - 16)
void q5_0(const unsigned char* b, float* y) {
  const float d = half_at(b);
  int q[32];
  five_bit(b + 6, u32_at(b + 2), q);
  for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(q[j] - 16);
}

// Q5_1: d | m | high bits (u32) | 16 bytes.  x = d * q + m
void q5_1(const unsigned char* b, float* y) {
  const float d = half_at(b), m = half_at(b + 2);
  int q[32];
  five_bit(b + 8, u32_at(b + 4), q);
  for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(q[j]) + m;
}

// Q8_0: d | 32 int8.  x = d * q
void q8_0(const unsigned char* b, float* y) {
  const float d = half_at(b);
  for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(static_cast<int8_t>(b[2 + j]));
}

// ---- 256-element super-blocks ----------------------------------------------------------------
// The 2-bit planes of Q2_K and Q3_K: each half of the super-block (128 elements) reads 32
// bytes; element 32 * s + l of the half is bits 2s..2s+1 of byte l.
int two_bits(const unsigned char* half_bytes, int i) {
  return (half_bytes[i % 32] >> (2 * (i / 32))) & 3;
}

// Q2_K: 16 scale bytes (low nibble: scale, high nibble: min, per 16 elements) | 64 bytes of
// 2-bit q | d | dmin.   x = (d * scale) * q - dmin * min
void q2_k(const unsigned char* b, float* y) {
  const unsigned char* scales = b;
  const unsigned char* qs = b + 16;
  const float d = half_at(b + 80), dmin = half_at(b + 82);
  for (int sub = 0; sub < 16; ++sub) {
    const float dl = d * static_cast<float>(scales[sub] & 0x0F);
    const float ml = dmin * static_cast<float>(scales[sub] >> 4);
    const unsigned char* half_bytes = qs + 32 * (sub / 8);
    for (int k = 0; k < 16; ++k) {
      const int i = 16 * (sub % 8) + k;  // position in the 128-element half
      y[16 * sub + k] = dl * static_cast<float>(two_bits(half_bytes, i)) - ml;
    }
  }
}

// Q3_K's sixteen 6-bit scales in 12 bytes: the low 4 bits of scale i are the low (i < 8) or
// high (i >= 8) nibble of byte i % 8; its top 2 bits are bits 2 * (i / 4) of byte 8 + i % 4.
// Stored with a bias of 32.
int q3_k_scale(const unsigned char* s, int i) {
  const int low = i < 8 ? (s[i] & 0x0F) : (s[i - 8] >> 4);
  const int high = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
  return (low | high << 4) - 32;
}

// Q3_K: 32 bytes of high bits | 64 bytes of 2-bit q | 12 scale bytes | d.
// x = (d * scale) * (q - 4 * (1 - h)), h bit (e / 32) of byte e % 32 of the high-bit mask.
void q3_k(const unsigned char* b, float* y) {
  const unsigned char* hmask = b;
  const unsigned char* qs = b + 32;
  const unsigned char* scales = b + 96;
  const float d = half_at(b + 108);
  for (int sub = 0; sub < 16; ++sub) {
    const float dl = d * static_cast<float>(q3_k_scale(scales, sub));
    const unsigned char* half_bytes = qs + 32 * (sub / 8);
    for (int k = 0; k < 16; ++k) {
      const int e = 16 * sub + k;
      const int h = (hmask[e % 32] >> (e / 32)) & 1;
      y[e] = dl * static_cast<float>(two_bits(half_bytes, e % 128) - (h ? 0 : 4));
    }
  }
}

// Q4_K and Q5_K's eight 6-bit scales and mins in 12 bytes: for j < 4, scale j is the low 6
// bits of byte j and min j those of byte j + 4; for j >= 4, scale j is the low nibble of byte
// j + 4 with the top 2 bits of byte j - 4 above it, min j the high nibble of byte j + 4 with
// the top 2 bits of byte j.
void k_scale_min(const unsigned char* s, int j, int* scale, int* min) {
  if (j < 4) {
    *scale = s[j] & 0x3F;
    *min = s[j + 4] & 0x3F;
  } else {
    *scale = (s[j + 4] & 0x0F) | (s[j - 4] >> 6) << 4;
    *min = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
  }
}

// Q4_K / Q5_K: d | dmin | 12 scale bytes | [Q5_K: 32 bytes of high bits] | 128 bytes of
// nibbles. Sub-block j (32 elements) reads the low (j even) or high (j odd) nibbles of bytes
// 32 * (j / 2) .. + 31, and in Q5_K bit j of the high-bit bytes.
// x = (d * scale) * q - dmin * min
void k_quant_4_5(const unsigned char* b, float* y, bool five) {
  const float d = half_at(b), dmin = half_at(b + 2);
  const unsigned char* scales = b + 4;
  const unsigned char* qh = b + 16;
  const unsigned char* qs = b + (five ? 48 : 16);
  for (int sub = 0; sub < 8; ++sub) {
    int sc, mn;
    k_scale_min(scales, sub, &sc, &mn);
    const float dl = d * static_cast<float>(sc);
    const float ml = dmin * static_cast<float>(mn);
    const unsigned char* nibbles = qs + 32 * (sub / 2);
    const int shift = 4 * (sub % 2);
    for (int l = 0; l < 32; ++l) {
      int q = (nibbles[l] >> shift) & 0x0F;
      if (five) q |= ((qh[l] >> sub) & 1) << 4;
      y[32 * sub + l] = dl * static_cast<float>(q) - ml;
    }
  }
}
void q4_k(const unsigned char* b, float* y) {
  k_quant_4_5(b, y, false);
}
void q5_k(const unsigned char* b, float* y) {
  k_quant_4_5(b, y, true);
}

// Q6_K: 128 bytes of low nibbles | 64 bytes of 2-bit high parts | 16 int8 scales | d.
// Each half (128 elements) reads 64 low bytes and 32 high bytes; its element 32 * t + l
// (t = 0..3) takes the low (t < 2) or high nibble of low byte 32 * (t % 2) + l and bits
// 2t..2t+1 of high byte l.   x = (d * scale) * (q - 32), one scale per 16 elements.
void q6_k(const unsigned char* b, float* y) {
  const unsigned char* ql = b;
  const unsigned char* qh = b + 128;
  const auto* scales = reinterpret_cast<const int8_t*>(b + 192);
  const float d = half_at(b + 208);
  for (int half = 0; half < 2; ++half) {
    const unsigned char* low = ql + 64 * half;
    const unsigned char* high = qh + 32 * half;
    for (int t = 0; t < 4; ++t) {
      for (int l = 0; l < 32; ++l) {
        const int e = 128 * half + 32 * t + l;
        const int q = ((low[32 * (t % 2) + l] >> (4 * (t / 2))) & 0x0F) | ((high[l] >> (2 * t)) & 3) << 4;
        const float dl = d * static_cast<float>(scales[e / 16]);
        y[e] = dl * static_cast<float>(q - 32);
      }
    }
  }
}

using BlockFn = void (*)(const unsigned char*, float*);

BlockFn block_function(DType dtype) {
  switch (dtype) {
    case DType::Q4_0:
      return q4_0;
    case DType::Q4_1:
      return q4_1;
    case DType::Q5_0:
      return q5_0;
    case DType::Q5_1:
      return q5_1;
    case DType::Q8_0:
      return q8_0;
    case DType::Q2_K:
      return q2_k;
    case DType::Q3_K:
      return q3_k;
    case DType::Q4_K:
      return q4_k;
    case DType::Q5_K:
      return q5_k;
    case DType::Q6_K:
      return q6_k;
    default:
      throw Error(fmt::format("dequantize: {} is not a quantized type", dtype_name(dtype)));
  }
}

}  // namespace

void dequantize(DType dtype, const unsigned char* src, float* dst, int64_t numel) {
  const DTypeInfo& info = dtype_info(dtype);
  const BlockFn fn = block_function(dtype);
  if (numel < 0 || numel % info.block != 0)
    throw Error(fmt::format("dequantize: {} elements are not whole {} blocks of {}", numel, info.name, info.block));
  const int64_t blocks = numel / info.block;
  auto run = [&](int64_t first, int64_t last) {
    for (int64_t i = first; i < last; ++i) fn(src + static_cast<size_t>(i) * info.block_bytes, dst + i * info.block);
  };
  // Big tensors (embeddings, projections) are split over threads; each block is independent.
  constexpr int64_t kElementsPerThread = int64_t{1} << 18;
  const int64_t threads =
      std::clamp<int64_t>(numel / kElementsPerThread, 1, std::max(1u, std::thread::hardware_concurrency()));
  if (threads == 1) {
    run(0, blocks);
    return;
  }
  // A thread that cannot be started leaves its share to this one.
  const int64_t per = (blocks + threads - 1) / threads;
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) {
    const int64_t first = std::min(blocks, t * per), last = std::min(blocks, (t + 1) * per);
    try {
      pool.emplace_back(run, first, last);
    } catch (const std::system_error&) {
      run(first, last);
    }
  }
  run(0, std::min(blocks, per));
  for (auto& th : pool) th.join();
}

}  // namespace e2llm::formats
