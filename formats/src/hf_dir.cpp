// Hugging Face model directories (LlamaForCausalLM): config.json, model.safetensors or
// shards + model.safetensors.index.json, optional tokenizer.model. Always the "half"
// (rotate_half) RoPE layout.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <set>

#include "e2llm/error.hpp"
#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/util/files.hpp"
#include "mapped_file.hpp"

namespace e2llm::formats {
namespace {

namespace fs = std::filesystem;

int64_t int_field(const nlohmann::json& cfg, const char* key, const std::string& file) {
  if (!cfg.contains(key) || cfg[key].is_null()) throw Error(fmt::format("{}: field {} is missing", file, key));
  if (!cfg[key].is_number_integer()) throw Error(fmt::format("{}: field {} must be an integer", file, key));
  return cfg[key].get<int64_t>();
}

const char* torch_dtype_name(DType d) {
  switch (d) {
    case DType::F32:
      return "float32";
    case DType::F16:
      return "float16";
    case DType::BF16:
      return "bfloat16";
  }
  return "?";
}

// Shard file names must stay inside the directory.
void check_shard_name(const std::string& name, const std::string& file) {
  if (name.empty() || name.find('/') != std::string::npos || name.find('\\') != std::string::npos || name == "." ||
      name == ".." || std::any_of(name.begin(), name.end(), [](unsigned char ch) { return ch < 0x20 || ch == 0x7f; }))
    throw Error(fmt::format("{}: weight_map names an invalid shard file '{}'", file, detail::printable(name)));
}

bool is_weight_file(const std::string& name) {
  return (name.rfind("model", 0) == 0 && fs::path(name).extension() == ".safetensors") ||
         name == "model.safetensors.index.json";
}

// A GGUF's embedded vocabulary survives the trip through a Hugging Face directory in this
// file (transformers ignores it); without it the vocabulary would be lost when no
// tokenizer.model is at hand.
constexpr const char* kVocabFile = "e2llm_vocab.json";

void save_vocab(const Vocabulary& v, const fs::path& path) {
  const nlohmann::json j = {
      {"tokens", v.tokens}, {"scores", v.scores}, {"types", v.types}, {"bos", v.bos}, {"eos", v.eos}};
  std::string text;
  try {
    text = j.dump();
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("cannot write {}: the vocabulary holds a token that is not valid UTF-8 ({})", path.string(),
                            e.what()));
  }
  util::write_file_atomic(path, text + "\n");
}

Vocabulary load_vocab(const fs::path& path, int64_t vocab_size) {
  const std::string file = path.string();
  Vocabulary v;
  // get<int32_t>() and get<float>() would cast an out-of-range number such as 1e300
  // (undefined behavior): each number is checked first.
  auto bad_number = [&](const char* key, const nlohmann::json& x) {
    throw Error(fmt::format("{}: invalid vocabulary file ({} holds {}, out of range)", file, key, x.dump()));
  };
  auto int32_of = [&](const char* key, const nlohmann::json& x) {
    if (!x.is_number_integer() || x.get<int64_t>() < INT32_MIN || x.get<int64_t>() > INT32_MAX) bad_number(key, x);
    return static_cast<int32_t>(x.get<int64_t>());
  };
  auto float_of = [&](const char* key, const nlohmann::json& x) {
    if (!x.is_number() || !(std::abs(x.get<double>()) <= FLT_MAX)) bad_number(key, x);
    return static_cast<float>(x.get<double>());
  };
  try {
    const auto j = nlohmann::json::parse(util::read_file(path));
    v.tokens = j.at("tokens").get<std::vector<std::string>>();
    for (const auto& x : j.at("scores").get<std::vector<nlohmann::json>>()) v.scores.push_back(float_of("scores", x));
    for (const auto& x : j.at("types").get<std::vector<nlohmann::json>>()) v.types.push_back(int32_of("types", x));
    v.bos = int32_of("bos", j.at("bos"));
    v.eos = int32_of("eos", j.at("eos"));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: invalid vocabulary file ({})", file, e.what()));
  }
  const auto n = static_cast<int64_t>(v.tokens.size());
  if (n != vocab_size || (!v.scores.empty() && static_cast<int64_t>(v.scores.size()) != n) ||
      (!v.types.empty() && static_cast<int64_t>(v.types.size()) != n) || v.bos < 0 || v.bos >= n || v.eos < 0 ||
      v.eos >= n)
    throw Error(
        fmt::format("{}: vocabulary of {} tokens does not match vocab_size {} (or its scores, types, bos, "
                    "eos are inconsistent)",
                    file, n, vocab_size));
  return v;
}

// config.json of a Hugging Face directory, checked to be a llama model's.
nlohmann::json read_hf_config(const fs::path& dir) {
  const fs::path config_path = dir / "config.json";
  const std::string cfile = config_path.string();
  if (!fs::exists(config_path))
    throw Error(fmt::format("{}: no config.json; not a Hugging Face model directory", dir.string()));
  nlohmann::json hf;
  try {
    hf = nlohmann::json::parse(util::read_file(config_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: invalid JSON ({})", cfile, e.what()));
  }
  if (!hf.is_object()) throw Error(fmt::format("{}: not a JSON object", cfile));
  if (hf.contains("model_type") && hf["model_type"] != "llama")
    throw Error(
        fmt::format("{}: model_type {} is not supported (e2llm loads llama models)", cfile, hf["model_type"].dump()));
  return hf;
}

ModelConfig model_config_from_hf(const nlohmann::json& hf, const std::string& cfile) {
  ModelConfig c;
  c.dim = int_field(hf, "hidden_size", cfile);
  c.hidden_dim = int_field(hf, "intermediate_size", cfile);
  c.n_layers = int_field(hf, "num_hidden_layers", cfile);
  c.n_heads = int_field(hf, "num_attention_heads", cfile);
  c.n_kv_heads = hf.contains("num_key_value_heads") && !hf["num_key_value_heads"].is_null()
                     ? int_field(hf, "num_key_value_heads", cfile)
                     : c.n_heads;  // transformers' LlamaConfig default
  c.vocab_size = int_field(hf, "vocab_size", cfile);
  c.max_position = int_field(hf, "max_position_embeddings", cfile);
  try {
    c.norm_eps = hf.value("rms_norm_eps", 1e-6);  // transformers' LlamaConfig default
    c.tied_embeddings = hf.value("tie_word_embeddings", false);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: {}", cfile, e.what()));
  }
  if (hf.contains("head_dim") && !hf["head_dim"].is_null() && c.n_heads > 0 &&
      int_field(hf, "head_dim", cfile) != c.dim / c.n_heads)
    throw Error(fmt::format("{}: head_dim {} differs from hidden_size / num_attention_heads; not supported", cfile,
                            hf["head_dim"].dump()));
  try {
    c.rope = rope_config_from_hf(hf);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", cfile, e.what()));
  }
  c.rope_layout = "half";
  if (hf.contains("e2llm")) {
    if (!hf["e2llm"].is_object()) throw Error(fmt::format("{}: field e2llm must be an object", cfile));
    c.extra = hf["e2llm"];
  }
  return c;
}

// Every stored tensor: model.safetensors, or the shards model.safetensors.index.json names.
std::map<std::string, TensorView> read_hf_weights(const fs::path& dir) {
  const fs::path index_path = dir / "model.safetensors.index.json";
  if (!fs::exists(index_path)) {
    if (fs::exists(dir / "model.safetensors")) return read_safetensors(dir / "model.safetensors");
    throw Error(
        fmt::format("{}: no model.safetensors or model.safetensors.index.json (pytorch_model.bin is not "
                    "supported; re-save the model with safe_serialization=True)",
                    dir.string()));
  }
  const std::string ifile = index_path.string();
  nlohmann::json index;
  try {
    index = nlohmann::json::parse(util::read_file(index_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: invalid JSON ({})", ifile, e.what()));
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    throw Error(fmt::format("{}: no weight_map object", ifile));
  std::map<std::string, std::vector<std::string>> by_file;
  for (const auto& [name, f] : index["weight_map"].items()) {
    if (!f.is_string())
      throw Error(fmt::format("{}: weight_map.{} is not a file name", ifile, detail::printable(name)));
    check_shard_name(f.get<std::string>(), ifile);
    by_file[f.get<std::string>()].push_back(name);
  }
  std::map<std::string, TensorView> all;
  for (const auto& [f, names] : by_file) {
    auto shard = read_safetensors(dir / f);
    for (const auto& name : names) {
      auto it = shard.find(name);
      if (it == shard.end())
        throw Error(fmt::format("{}: weight_map puts '{}' in {} but that file does not hold it", ifile,
                                detail::printable(name), f));
      all.emplace(name, it->second);
    }
  }
  return all;
}

}  // namespace

Checkpoint load_hf_dir(const fs::path& dir) {
  const std::string cfile = (dir / "config.json").string();
  const nlohmann::json hf = read_hf_config(dir);
  Checkpoint ck;
  ck.format = "hf";
  ck.source = dir.string();
  ModelConfig& c = ck.config;
  c = model_config_from_hf(hf, cfile);
  for (auto& [name, t] : read_hf_weights(dir)) {
    // Older transformers saved the RoPE inv_freq buffer; it is derived from the config.
    if (name.size() > 19 && name.compare(name.size() - 19, 19, "rotary_emb.inv_freq") == 0) continue;
    // A tied checkpoint may still store lm_head (a copy of the embedding); the model ties it.
    if (name == "lm_head.weight" && c.tied_embeddings) continue;
    ck.tensors.emplace(name, std::move(t));
  }
  c.validate(cfile);
  validate_tensors(ck);
  if (fs::exists(dir / kVocabFile)) ck.vocab = load_vocab(dir / kVocabFile, c.vocab_size);
  ck.fingerprint = compute_fingerprint(ck.tensors);
  return ck;
}

void save_hf_dir(const Checkpoint& input, const fs::path& dir, int64_t max_shard_bytes,
                 const std::optional<fs::path>& tokenizer_model) {
  // safetensors holds no quantized types: a quantized GGUF is written dequantized to F32.
  const Checkpoint floats = dequantized(input);
  const Checkpoint ck = floats.config.rope_layout == "half" ? floats : with_rope_layout(floats, "half");
  ck.config.validate(ck.source);
  validate_tensors(ck);
  if (tokenizer_model && !fs::is_regular_file(*tokenizer_model))
    throw Error(fmt::format("{}: tokenizer model not found", tokenizer_model->string()));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(fmt::format("cannot create {}: {}", dir.string(), ec.message()));

  const ModelConfig& c = ck.config;
  const TensorView& embed = ck.tensor("model.embed_tokens.weight");
  nlohmann::json hf = {{"architectures", {"LlamaForCausalLM"}},
                       {"model_type", "llama"},
                       {"hidden_size", c.dim},
                       {"intermediate_size", c.hidden_dim},
                       {"num_hidden_layers", c.n_layers},
                       {"num_attention_heads", c.n_heads},
                       {"num_key_value_heads", c.n_kv_heads},
                       {"head_dim", c.head_dim()},
                       {"hidden_act", "silu"},
                       {"rms_norm_eps", c.norm_eps},
                       {"rope_theta", c.rope.base},
                       {"max_position_embeddings", c.max_position},
                       {"vocab_size", c.vocab_size},
                       {"tie_word_embeddings", c.tied_embeddings},
                       {"attention_bias", false},
                       {"mlp_bias", false},
                       {"bos_token_id", ck.vocab ? ck.vocab->bos : 1},
                       {"eos_token_id", ck.vocab ? ck.vocab->eos : 2},
                       {"torch_dtype", torch_dtype_name(embed.dtype)},
                       {"e2llm", c.extra}};
  hf["rope_scaling"] = rope_config_to_hf(c.rope);
  // transformers' dynamic NTK grows from max_position_embeddings: it holds L (docs/interop.md).
  if (c.rope.type == RopeType::DynamicNtk) hf["max_position_embeddings"] = c.rope.original_max_position;

  // Shards: tensors in name order, a new shard when the next tensor would overflow it.
  std::vector<std::map<std::string, TensorView>> shards(1);
  int64_t in_shard = 0, total = 0;
  for (const auto& [name, t] : ck.tensors) {
    const auto n = static_cast<int64_t>(t.nbytes);
    if (max_shard_bytes > 0 && in_shard > 0 && in_shard + n > max_shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().emplace(name, t);
    in_shard += n;
    total += n;
  }
  const std::map<std::string, std::string> meta = {{"format", "pt"}};
  std::set<std::string> written;
  if (shards.size() == 1) {
    write_safetensors(dir / "model.safetensors", shards[0], meta);
    written.insert("model.safetensors");
  } else {
    nlohmann::json weight_map = nlohmann::json::object();
    for (size_t i = 0; i < shards.size(); ++i) {
      const std::string f = fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1, shards.size());
      write_safetensors(dir / f, shards[i], meta);
      written.insert(f);
      for (const auto& [name, t] : shards[i]) weight_map[name] = f;
    }
    const nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    util::write_file_atomic(dir / "model.safetensors.index.json", index.dump(2) + "\n");
    written.insert("model.safetensors.index.json");
  }
  // Weights left by an earlier save with another sharding would confuse the loader.
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && is_weight_file(name) && !written.count(name)) fs::remove(entry.path());
  }
  if (ck.vocab) {
    save_vocab(*ck.vocab, dir / kVocabFile);
  } else if (fs::exists(dir / kVocabFile)) {
    fs::remove(dir / kVocabFile);  // stale: it belonged to an earlier save
  }
  if (tokenizer_model) util::write_file_atomic(dir / "tokenizer.model", util::read_file(*tokenizer_model));
  util::write_file_atomic(dir / "config.json", hf.dump(2) + "\n");  // last: a complete dir has a config
}

}  // namespace e2llm::formats
