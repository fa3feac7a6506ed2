// Causal attention: LibTorch's fused scaled_dot_product_attention where its top-left causal
// mask is right, and a kernel blocked over queries and keys with an online softmax (Milakov &
// Gimelshein 2018; Dao et al. 2022, FlashAttention, Alg. 1 forward / Alg. 2 backward)
// elsewhere and as the reference.
// Grouped-query heads are handled by viewing q as [B, Hkv, G, T, d] and broadcasting k, v
// over G, so KV heads are never repeated in memory. Self-Extend's grouped attention (Jin et
// al. 2024) runs on the blocked kernel's online softmax with two kinds of score.
#include <ATen/SDPBackend.h>

#include <cmath>
#include <limits>

#include "e2llm/error.hpp"
#include "e2llm/llama/model.hpp"

namespace e2llm::llama {
namespace {

using torch::Tensor;
using torch::indexing::Slice;

struct Shapes {
  int64_t B, H, Hkv, G, T, S, d;
};

Shapes check_shapes(const Tensor& q, const Tensor& k, const Tensor& v) {
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4)
    throw Error("attention: q, k, v must be [B, heads, T, d]");
  Shapes s{q.size(0), q.size(1), k.size(1), 0, q.size(2), k.size(2), q.size(3)};
  if (k.sizes() != v.sizes() || k.size(0) != s.B || k.size(3) != s.d || s.H % s.Hkv != 0 || s.S < s.T)
    throw Error("attention: shapes do not match (q " + std::to_string(s.H) + " heads, k/v " +
                std::to_string(s.Hkv) + " heads, T " + std::to_string(s.T) + ", S " + std::to_string(s.S) + ")");
  s.G = s.H / s.Hkv;
  return s;
}

// -inf where key index > query index, for the query rows [q_begin, q_end) (absolute) and
// key columns [k_begin, k_end). Returns an undefined tensor when the block is fully visible.
Tensor causal_mask(int64_t q_begin, int64_t q_end, int64_t k_begin, int64_t k_end, const torch::Device& device) {
  if (k_end - 1 <= q_begin) return {};
  auto opts = torch::TensorOptions().dtype(torch::kLong).device(device);
  auto qpos = torch::arange(q_begin, q_end, opts).view({-1, 1});
  auto kpos = torch::arange(k_begin, k_end, opts).view({1, -1});
  return kpos > qpos;  // [tq, tk] bool, true = hidden
}

// The online softmax over key blocks for one block of tq queries: the running row maximum m,
// the running sum l of exp(s - m) and the running weighted sum of values, rescaled whenever a
// block raises the maximum. Key 0 is visible to every query and sits in the first block, so m is
// finite from then on and fully hidden rows of later blocks contribute exp(-inf) = 0.
class OnlineSoftmax {
 public:
  explicit OnlineSoftmax(const Tensor& q_block)  // [B, Hkv, G, tq, d]
      : m_(torch::full({q_block.size(0), q_block.size(1), q_block.size(2), q_block.size(3), 1},
                       -std::numeric_limits<double>::infinity(), q_block.options())),
        l_(torch::zeros_like(m_)),
        acc_(torch::zeros(q_block.sizes(), q_block.options())) {}

  // One key block: its scores s [B, Hkv, G, tq, tk] (masked; overwritten) and values vb [B, Hkv, 1, tk, d].
  // In place where possible: these element-wise passes dominate for small head dims.
  void add(Tensor& s, const Tensor& vb) {
    auto m_new = torch::maximum(m_, s.amax(-1, true));
    auto p = s.sub_(m_new).exp_();
    auto correction = m_.sub_(m_new).exp_();
    l_.mul_(correction).add_(p.sum(-1, true));
    acc_.mul_(correction).add_(torch::matmul(p, vb));
    m_ = m_new;
  }

  Tensor out() const { return acc_ / l_; }
  Tensor lse() const { return m_ + torch::log(l_); }

 private:
  Tensor m_, l_, acc_;
};

// Forward: returns (out [B, Hkv, G, T, d] float32, lse [B, Hkv, G, T, 1] float32).
std::pair<Tensor, Tensor> blocked_forward(const Tensor& qg, const Tensor& k, const Tensor& v, int64_t offset,
                                          const AttentionOptions& o) {
  const int64_t T = qg.size(3), d = qg.size(4);
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  const double inf = std::numeric_limits<double>::infinity();
  auto out = torch::empty(qg.sizes(), qg.options());
  auto lse = torch::empty({qg.size(0), qg.size(1), qg.size(2), T, 1}, qg.options());
  for (int64_t q0 = 0; q0 < T; q0 += o.query_block) {
    const int64_t q1 = std::min(T, q0 + o.query_block), tq = q1 - q0;
    auto qb = qg.narrow(3, q0, tq) * scale;
    const int64_t k_end = offset + q1;  // keys beyond the last query of the block are all hidden
    OnlineSoftmax softmax(qb);
    for (int64_t k0 = 0; k0 < k_end; k0 += o.key_block) {
      const int64_t k1 = std::min(k_end, k0 + o.key_block), tk = k1 - k0;
      auto kb = k.narrow(2, k0, tk).unsqueeze(2);  // [B, Hkv, 1, tk, d]
      auto vb = v.narrow(2, k0, tk).unsqueeze(2);
      auto s = torch::matmul(qb, kb.transpose(-1, -2));  // [B, Hkv, G, tq, tk]
      auto mask = causal_mask(offset + q0, offset + q1, k0, k1, qg.device());
      if (mask.defined()) s.masked_fill_(mask, -inf);
      softmax.add(s, vb);
    }
    out.narrow(3, q0, tq).copy_(softmax.out());
    lse.narrow(3, q0, tq).copy_(softmax.lse());
  }
  return {out, lse};
}

// Self-Extend's forward (self_extend_attention): the online softmax of blocked_forward over
// two kinds of score. Query i sits at absolute index offset + i; a key j with (offset + i) − j
// < window scores qn·kn, any other visible key qg·kg. Returns out [B, Hkv, G, T, d] float32.
Tensor self_extend_forward(const Tensor& qn, const Tensor& qg, const Tensor& kn, const Tensor& kg, const Tensor& v,
                           int64_t offset, int64_t window, const AttentionOptions& o) {
  const int64_t T = qn.size(3), d = qn.size(4);
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  const double inf = std::numeric_limits<double>::infinity();
  auto out = torch::empty(qn.sizes(), qn.options());
  auto lopts = torch::TensorOptions().dtype(torch::kLong).device(qn.device());
  for (int64_t q0 = 0; q0 < T; q0 += o.query_block) {
    const int64_t q1 = std::min(T, q0 + o.query_block), tq = q1 - q0;
    auto qnb = qn.narrow(3, q0, tq) * scale;
    auto qgb = qg.narrow(3, q0, tq) * scale;
    const int64_t p_first = offset + q0, p_last = offset + q1 - 1;  // absolute query indices
    const int64_t k_end = p_last + 1;
    OnlineSoftmax softmax(qnb);
    for (int64_t k0 = 0; k0 < k_end; k0 += o.key_block) {
      const int64_t k1 = std::min(k_end, k0 + o.key_block), tk = k1 - k0;
      const int64_t d_min = p_first - (k1 - 1), d_max = p_last - k0;  // distances in this block
      auto vb = v.narrow(2, k0, tk).unsqueeze(2);
      auto scores = [&](const Tensor& qb, const Tensor& k) {
        return torch::matmul(qb, k.narrow(2, k0, tk).unsqueeze(2).transpose(-1, -2));  // [B, Hkv, G, tq, tk]
      };
      Tensor s;
      if (d_max < window) {
        s = scores(qnb, kn);  // wholly inside the neighbour window
      } else if (d_min >= window) {
        s = scores(qgb, kg);  // wholly beyond it
      } else {
        auto dist =
            torch::arange(p_first, p_last + 1, lopts).view({-1, 1}) - torch::arange(k0, k1, lopts).view({1, -1});
        s = torch::where(dist < window, scores(qnb, kn), scores(qgb, kg));
      }
      auto mask = causal_mask(p_first, p_last + 1, k0, k1, qn.device());
      if (mask.defined()) s.masked_fill_(mask, -inf);
      softmax.add(s, vb);
    }
    out.narrow(3, q0, tq).copy_(softmax.out());
  }
  return out;
}

// Backward by recomputation: P = exp(S - lse) per block; D = rowsum(dO * O);
// dV += Pᵀ dO, dS = P (dO Vᵀ - D), dQ += dS K / √d, dK += dSᵀ Q / √d.
std::vector<Tensor> blocked_backward(const Tensor& qg, const Tensor& k, const Tensor& v, const Tensor& out,
                                     const Tensor& lse, const Tensor& dout, int64_t offset,
                                     const AttentionOptions& o) {
  const int64_t T = qg.size(3), d = qg.size(4);
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  const double inf = std::numeric_limits<double>::infinity();
  auto dq = torch::zeros_like(qg);
  auto dk = torch::zeros_like(k);
  auto dv = torch::zeros_like(v);
  auto D = (dout * out).sum(-1, true);  // [B, Hkv, G, T, 1]
  for (int64_t q0 = 0; q0 < T; q0 += o.query_block) {
    const int64_t q1 = std::min(T, q0 + o.query_block), tq = q1 - q0;
    auto qb = qg.narrow(3, q0, tq);
    auto dob = dout.narrow(3, q0, tq);
    auto lb = lse.narrow(3, q0, tq);
    auto Db = D.narrow(3, q0, tq);
    auto dqb = dq.narrow(3, q0, tq);
    const int64_t k_end = offset + q1;
    for (int64_t k0 = 0; k0 < k_end; k0 += o.key_block) {
      const int64_t k1 = std::min(k_end, k0 + o.key_block), tk = k1 - k0;
      auto kb = k.narrow(2, k0, tk).unsqueeze(2);
      auto vb = v.narrow(2, k0, tk).unsqueeze(2);
      auto s = torch::matmul(qb, kb.transpose(-1, -2)) * scale;
      auto mask = causal_mask(offset + q0, offset + q1, k0, k1, qg.device());
      if (mask.defined()) s.masked_fill_(mask, -inf);
      auto p = torch::exp(s - lb);                                               // [B, Hkv, G, tq, tk]
      dv.narrow(2, k0, tk).add_(torch::matmul(p.transpose(-1, -2), dob).sum(2));  // sum over the group
      auto ds = p * (torch::matmul(dob, vb.transpose(-1, -2)) - Db);
      dqb.add_(torch::matmul(ds, kb), scale);
      dk.narrow(2, k0, tk).add_(torch::matmul(ds.transpose(-1, -2), qb).sum(2), scale);
    }
  }
  return {dq, dk, dv};
}

struct BlockedAttentionFunction : public torch::autograd::Function<BlockedAttentionFunction> {
  static Tensor forward(torch::autograd::AutogradContext* ctx, const Tensor& qg, const Tensor& k, const Tensor& v,
                        int64_t offset, int64_t query_block, int64_t key_block) {
    AttentionOptions o;
    o.query_block = query_block;
    o.key_block = key_block;
    auto [out, lse] = blocked_forward(qg, k, v, offset, o);
    ctx->save_for_backward({qg, k, v, out, lse});
    ctx->saved_data["offset"] = offset;
    ctx->saved_data["query_block"] = query_block;
    ctx->saved_data["key_block"] = key_block;
    return out;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    AttentionOptions o;
    o.query_block = ctx->saved_data["query_block"].toInt();
    o.key_block = ctx->saved_data["key_block"].toInt();
    auto g = blocked_backward(saved[0], saved[1], saved[2], saved[3], saved[4], grads[0].contiguous(),
                              ctx->saved_data["offset"].toInt(), o);
    return {g[0], g[1], g[2], Tensor(), Tensor(), Tensor()};
  }
};

}  // namespace

AttentionKernel parse_attention_kernel(const std::string& name, const std::string& field) {
  if (name == "fused") return AttentionKernel::Fused;
  if (name == "blocked") return AttentionKernel::Blocked;
  throw ConfigError(field, "must be \"fused\" (LibTorch's kernels where they serve) or \"blocked\" (the reference), not \"" +
                               name + "\"");
}

const char* attention_kernel_config_name(AttentionKernel kernel) {
  return kernel == AttentionKernel::Blocked ? "blocked" : "fused";
}

Tensor blocked_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options) {
  const auto s = check_shapes(q, k, v);
  if (options.query_block < 1 || options.key_block < 1) throw Error("attention: block sizes must be >= 1");
  // float32 math (bf16 models keep their activations, not their softmax, low-precision).
  auto qg = q.to(torch::kFloat32).reshape({s.B, s.Hkv, s.G, s.T, s.d});
  auto kf = k.to(torch::kFloat32).contiguous();
  auto vf = v.to(torch::kFloat32).contiguous();
  Tensor out;
  const bool training = torch::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad());
  if (training) {
    out = BlockedAttentionFunction::apply(qg, kf, vf, s.S - s.T, options.query_block, options.key_block);
  } else {
    out = blocked_forward(qg, kf, vf, s.S - s.T, options).first;
  }
  return out.reshape({s.B, s.H, s.T, s.d}).to(q.scalar_type());
}

Tensor self_extend_attention(const Tensor& qn, const Tensor& qg, const Tensor& kn, const Tensor& kg, const Tensor& v,
                             int64_t window, const AttentionOptions& options) {
  const auto s = check_shapes(qn, kn, v);
  if (qg.sizes() != qn.sizes() || kg.sizes() != kn.sizes())
    throw Error("self-extend attention: the grouped q / k must have the shapes of q / k");
  if (options.query_block < 1 || options.key_block < 1) throw Error("attention: block sizes must be >= 1");
  if (torch::GradMode::is_enabled() && (qn.requires_grad() || kn.requires_grad() || v.requires_grad()))
    throw Error("self-extend attention has no backward: it serves trained models (torch::NoGradGuard)");
  auto f32 = [&](const Tensor& x, int64_t heads, int64_t n) {
    return x.to(torch::kFloat32).reshape({s.B, heads, n, s.d}).contiguous();
  };
  auto qn5 = qn.to(torch::kFloat32).reshape({s.B, s.Hkv, s.G, s.T, s.d});
  auto qg5 = qg.to(torch::kFloat32).reshape({s.B, s.Hkv, s.G, s.T, s.d});
  auto out = self_extend_forward(qn5, qg5, f32(kn, s.Hkv, s.S), f32(kg, s.Hkv, s.S), f32(v, s.Hkv, s.S), s.S - s.T,
                                 window, options);
  return out.reshape({s.B, s.H, s.T, s.d}).to(qn.scalar_type());
}

namespace {

// The fused kernel's causal mask is top-left aligned: right when T == S; T == 1 needs none.
bool fused_serves(const Shapes& s, const AttentionOptions& options) {
  return options.kernel != AttentionKernel::Blocked && (s.T == s.S || s.T == 1);
}

}  // namespace

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options) {
  const auto s = check_shapes(q, k, v);
  if (!fused_serves(s, options)) return blocked_attention(q, k, v, options);
  const bool causal = s.T > 1;
  return at::scaled_dot_product_attention(q, k.to(q.scalar_type()), v.to(q.scalar_type()), /*attn_mask=*/{},
                                          /*dropout_p=*/0.0, causal, /*scale=*/std::nullopt,
                                          /*enable_gqa=*/s.G > 1);
}

std::string attention_kernel_name(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options) {
  const auto s = check_shapes(q, k, v);
  if (!fused_serves(s, options)) return "blocked";
  switch (static_cast<at::SDPBackend>(at::_fused_sdp_choice(q, k, v, {}, 0.0, s.T > 1, std::nullopt, s.G > 1))) {
    case at::SDPBackend::flash_attention:
      return "flash";
    case at::SDPBackend::efficient_attention:
      return "efficient";
    case at::SDPBackend::cudnn_attention:
      return "cudnn";
    case at::SDPBackend::math:
      return "math";
    default:
      return "other";
  }
}

Tensor naive_attention(const Tensor& q, const Tensor& k, const Tensor& v) {
  const auto s = check_shapes(q, k, v);
  auto qg = q.to(torch::kFloat32).reshape({s.B, s.Hkv, s.G, s.T, s.d});
  auto scores = torch::matmul(qg, k.to(torch::kFloat32).unsqueeze(2).transpose(-1, -2)) /
                std::sqrt(static_cast<double>(s.d));
  auto mask = causal_mask(s.S - s.T, s.S, 0, s.S, q.device());
  if (mask.defined()) scores.masked_fill_(mask, -std::numeric_limits<double>::infinity());
  auto out = torch::matmul(torch::softmax(scores, -1), v.to(torch::kFloat32).unsqueeze(2));
  return out.reshape({s.B, s.H, s.T, s.d}).to(q.scalar_type());
}

}  // namespace e2llm::llama
