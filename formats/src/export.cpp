// Export for other runtimes (export.hpp): the RoPE mapping, a SentencePiece vocabulary read
// from its protobuf, and the order of checks and writes of `e2llm export`.
#include "e2llm/formats/export.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "e2llm/error.hpp"
#include "e2llm/util/files.hpp"

namespace e2llm::formats {
namespace {

namespace fs = std::filesystem;

// The smallest protobuf reader SentencePiece's ModelProto needs: varints, 32-bit floats and
// length-delimited fields, every read bounded by its message.
class ProtoReader {
 public:
  ProtoReader(const unsigned char* p, const unsigned char* end, const std::string& file)
      : p_(p), end_(end), file_(file) {}
  bool done() const { return p_ >= end_; }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) bad("a varint runs past its message");
      const unsigned char b = *p_++;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    bad("a varint is longer than 10 bytes");
  }
  float fixed32_float() {
    if (end_ - p_ < 4) bad("a float runs past its message");
    float f;
    std::memcpy(&f, p_, 4);  // little-endian, as protobuf stores it (x86 and ARM hosts)
    p_ += 4;
    return f;
  }
  ProtoReader sub() {
    const uint64_t n = varint();
    if (n > static_cast<uint64_t>(end_ - p_)) bad("a field's length runs past its message");
    ProtoReader r(p_, p_ + n, file_);
    p_ += n;
    return r;
  }
  std::string bytes() {
    ProtoReader r = sub();
    return std::string(reinterpret_cast<const char*>(r.p_), static_cast<size_t>(r.end_ - r.p_));
  }
  void skip(uint32_t wire) {
    switch (wire) {
      case 0:
        varint();
        return;
      case 1:
        advance(8);
        return;
      case 2:
        sub();
        return;
      case 5:
        advance(4);
        return;
      default:
        bad(fmt::format("wire type {} is not one a SentencePiece model uses", wire));
    }
  }
  [[noreturn]] void bad(const std::string& why) const {
    throw Error(fmt::format("{}: not a SentencePiece model ({}); give the tokenizer's .model file", file_, why));
  }

 private:
  void advance(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) bad("a fixed-size field runs past its message");
    p_ += n;
  }
  const unsigned char* p_;
  const unsigned char* end_;
  const std::string& file_;
};

}  // namespace

PortableRope portable_rope(const RopeConfig& served) {
  PortableRope out;
  out.hf = served;
  out.gguf_freq_base = served.base;
  out.gguf_original_context = served.original_max_position;
  switch (served.type) {
    case RopeType::Default:
      out.gguf_type = "none";
      break;
    case RopeType::Linear:
      out.gguf_type = "linear";
      out.gguf_factor = served.factor;
      break;
    case RopeType::Ntk:  // neither runtime names it; both run plain RoPE on another base
      out.hf.type = RopeType::Default;
      out.hf.base = ntk_base(served.base, served.factor, served.head_dim);
      out.hf.factor = 1.0;
      out.gguf_type = "none";
      out.gguf_freq_base = out.hf.base;
      break;
    case RopeType::DynamicNtk:
      out.gguf_refusal =
          "llama.cpp has no dynamic NTK scaling (its base depends on each call's length); export it for "
          "transformers only (no --gguf), or export --rope-type ntk, yarn or linear for llama.cpp";
      break;
    case RopeType::Llama3:  // llama.cpp's converter writes Llama 3.1's scaling as this tensor
      out.gguf_type = "none";
      out.gguf_rope_freqs = frequency_divisors(served);
      break;
    case RopeType::Longrope:
      out.gguf_type = "longrope";
      out.gguf_long_factors = served.long_factor;
      out.gguf_short_factors = served.short_factor;
      out.gguf_attn_factor = compute_rope(served).attention_factor;
      break;
    case RopeType::Yarn:
      out.gguf_type = "yarn";
      out.gguf_factor = served.factor;
      if (served.beta_fast != 32.0 || served.beta_slow != 1.0)
        out.gguf_refusal = fmt::format(
            "llama.cpp reads no YaRN beta_fast / beta_slow for llama models (it uses 32 / 1; these are {} / {})",
            served.beta_fast, served.beta_slow);
      else if (served.attention_factor)
        out.gguf_refusal = fmt::format(
            "llama.cpp derives YaRN's attention factor from the scale (0.1 ln s + 1); an explicit attention_factor "
            "({}) is not carried",
            *served.attention_factor);
      break;
  }
  return out;
}

Vocabulary read_sentencepiece_vocabulary(const fs::path& model_file) {
  const std::string file = model_file.string();
  const std::string bytes = util::read_file(model_file);
  const auto* begin = reinterpret_cast<const unsigned char*>(bytes.data());
  ProtoReader model(begin, begin + bytes.size(), file);
  Vocabulary v;
  int64_t bos = 1, eos = 2;  // TrainerSpec's defaults
  while (!model.done()) {
    const uint64_t key = model.varint();
    const auto field = key >> 3;
    const auto wire = static_cast<uint32_t>(key & 7);
    if (field == 1 && wire == 2) {  // SentencePiece
      ProtoReader piece = model.sub();
      std::string text;
      float score = 0.0f;
      int32_t type = 1;  // NORMAL
      while (!piece.done()) {
        const uint64_t k = piece.varint();
        if ((k >> 3) == 1 && (k & 7) == 2) {
          text = piece.bytes();
        } else if ((k >> 3) == 2 && (k & 7) == 5) {
          score = piece.fixed32_float();
        } else if ((k >> 3) == 3 && (k & 7) == 0) {
          type = static_cast<int32_t>(piece.varint());
        } else {
          piece.skip(static_cast<uint32_t>(k & 7));
        }
      }
      v.tokens.push_back(std::move(text));
      v.scores.push_back(score);
      v.types.push_back(type);
    } else if (field == 2 && wire == 2) {  // TrainerSpec
      ProtoReader spec = model.sub();
      while (!spec.done()) {
        const uint64_t k = spec.varint();
        if ((k >> 3) == 41 && (k & 7) == 0) {
          bos = static_cast<int32_t>(spec.varint());  // int32: negative values are 10-byte varints
        } else if ((k >> 3) == 42 && (k & 7) == 0) {
          eos = static_cast<int32_t>(spec.varint());
        } else {
          spec.skip(static_cast<uint32_t>(k & 7));
        }
      }
    } else {
      model.skip(wire);
    }
  }
  const auto n = static_cast<int64_t>(v.tokens.size());
  if (n == 0) model.bad("no pieces");
  if (bos < 0 || bos >= n || eos < 0 || eos >= n)
    model.bad(fmt::format("bos_id {} / eos_id {} outside its {} pieces", bos, eos, n));
  v.bos = static_cast<int32_t>(bos);
  v.eos = static_cast<int32_t>(eos);
  return v;
}

nlohmann::json export_model(const ExportRequest& r) {
  if (!r.hf_dir && !r.gguf) throw Error("export: nothing to write (give an output directory or a GGUF path)");
  if (r.window < r.original_window)
    throw Error(
        fmt::format("export: window {} is below the model's original window L = {}; export for W >= L (at W = L the "
                    "model's own RoPE is written)",
                    r.window, r.original_window));
  if (r.tokenizer && r.tokenizer->extension() != ".model")
    throw Error(
        fmt::format("export: {}: only a SentencePiece .model can be copied into the export", r.tokenizer->string()));
  const PortableRope rope = portable_rope(r.served);
  if (r.gguf && !rope.gguf_refusal.empty())
    throw Error(fmt::format("export: cannot write {} for RoPE {}: {}", r.gguf->string(), r.served.to_string(),
                            rope.gguf_refusal));

  Checkpoint ck = load_checkpoint(r.model);
  ck.config.rope = rope.hf;
  ck.config.max_position = r.window;
  std::optional<Vocabulary> gguf_vocab = ck.vocab;
  if (r.gguf && !gguf_vocab) {
    if (!r.tokenizer)
      throw Error(fmt::format(
          "export: {} carries no vocabulary and a GGUF needs one; give --tokenizer the model's SentencePiece .model",
          r.model.string()));
    gguf_vocab = read_sentencepiece_vocabulary(*r.tokenizer);
  }
  if (gguf_vocab && static_cast<int64_t>(gguf_vocab->tokens.size()) != ck.config.vocab_size)
    throw Error(fmt::format("export: the vocabulary has {} tokens but {} has {} embedding rows",
                            gguf_vocab->tokens.size(), r.model.string(), ck.config.vocab_size));

  nlohmann::json out = nlohmann::json::object();
  if (r.hf_dir) {
    save_hf_dir(ck, *r.hf_dir, 0, r.tokenizer);
    const auto cfg = nlohmann::json::parse(util::read_file(*r.hf_dir / "config.json"));
    out["hf"] = {{"path", r.hf_dir->string()},
                 {"rope_scaling", cfg.at("rope_scaling")},
                 {"rope_theta", cfg.at("rope_theta")},
                 {"max_position_embeddings", cfg.at("max_position_embeddings")}};
  }
  if (r.gguf) {
    save_gguf(ck, rope, r.window, *gguf_vocab, *r.gguf);
    nlohmann::json g = {{"path", r.gguf->string()},
                        {"llama.context_length", r.window},
                        {"llama.rope.freq_base", rope.gguf_freq_base},
                        {"llama.rope.scaling.type", rope.gguf_type}};
    if (rope.gguf_type == "longrope") {
      g["llama.rope.scaling.attn_factor"] = rope.gguf_attn_factor;
      g["llama.rope.scaling.original_context_length"] = rope.gguf_original_context;
      g["rope_factors_long.weight"] = rope.gguf_long_factors;
      g["rope_factors_short.weight"] = rope.gguf_short_factors;
    } else if (rope.gguf_type != "none") {
      g["llama.rope.scaling.factor"] = rope.gguf_factor;
      g["llama.rope.scaling.original_context_length"] = rope.gguf_original_context;
    }
    if (!rope.gguf_rope_freqs.empty()) g["rope_freqs.weight"] = rope.gguf_rope_freqs;
    out["gguf"] = g;
  }
  return out;
}

}  // namespace e2llm::formats
