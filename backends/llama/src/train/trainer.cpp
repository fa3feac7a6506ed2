#include "e2llm/llama/train/trainer.hpp"

#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "data_parallel.hpp"
#include "e2llm/error.hpp"
#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/llama/device_torch.hpp"
#include "e2llm/llama/model.hpp"
#include "e2llm/util/files.hpp"

namespace e2llm::llama::train {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

nlohmann::json ModelShape::to_json() const {
  return {{"dim", dim},     {"layers", layers}, {"heads", heads},         {"kv_heads", kv_heads},
          {"ffn", ffn},     {"vocab", vocab},   {"window", window},       {"rope_base", rope_base},
          {"tied_embeddings", tied_embeddings}};
}

nlohmann::json TrainResult::to_json() const {
  return {{"checkpoint_path", checkpoint_dir.string()},
          {"checkpoint_hash", checkpoint_hash},
          {"steps", steps},
          {"trained_tokens", tokens},
          {"train_wall_s", wall_s},
          {"final_loss", final_loss},
          {"val_loss", val_loss},
          {"device", device}};
}

double learning_rate(const TrainOptions& o, int64_t step) {
  if (o.warmup > 0 && step < o.warmup) return o.lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup);
  const int64_t decay_steps = std::max<int64_t>(1, o.steps - o.warmup);
  const double progress = std::min(1.0, static_cast<double>(step - o.warmup) / static_cast<double>(decay_steps));
  const double min_lr = o.lr * o.min_lr_ratio;
  return min_lr + 0.5 * (o.lr - min_lr) * (1.0 + std::cos(M_PI * progress));
}

void tune_cpu_allocator() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

RankInfo rank_info_from_env() {
  auto env_int = [](const char* name, int fallback) {
    const char* v = std::getenv(name);
    if (!v || !*v) return fallback;
    try {
      return std::stoi(v);
    } catch (...) {
      throw Error(std::string("environment variable ") + name + " = \"" + v + "\" is not an integer");
    }
  };
  RankInfo r;
  r.rank = env_int("RANK", env_int("SLURM_PROCID", 0));
  r.world = env_int("WORLD_SIZE", env_int("SLURM_NTASKS", 1));
  r.local_rank = env_int("LOCAL_RANK", env_int("SLURM_LOCALID", r.rank));
  r.local_world = env_int("LOCAL_WORLD_SIZE", env_int("SLURM_NTASKS_PER_NODE", r.world));
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) r.master_addr = a;
  r.master_port = env_int("MASTER_PORT", 29500);
  if (r.world < 1 || r.rank < 0 || r.rank >= r.world)
    throw Error("RANK=" + std::to_string(r.rank) + " / WORLD_SIZE=" + std::to_string(r.world) + " is not a valid rank layout");
  return r;
}

namespace {

// Same counter-based mixing as the position policy: the data order depends only on
// (seed, epoch), so resume and data-parallel runs read exactly the same sequences.
class DataOrder {
 public:
  DataOrder(uint64_t seed, int64_t n) : seed_(seed), n_(n) {}
  int64_t sequence(int64_t sample) {
    const int64_t epoch = sample / n_;
    if (epoch != epoch_) shuffle(epoch);
    return perm_[static_cast<size_t>(sample % n_)];
  }

 private:
  void shuffle(int64_t epoch) {
    perm_.resize(static_cast<size_t>(n_));
    for (int64_t i = 0; i < n_; ++i) perm_[static_cast<size_t>(i)] = i;
    uint64_t state = mix64(mix64(seed_ ^ 0xda7a0de) + static_cast<uint64_t>(epoch));
    for (int64_t i = n_ - 1; i > 0; --i) {
      const uint64_t j = mix64(state++) % static_cast<uint64_t>(i + 1);  // bias negligible for n << 2^64
      std::swap(perm_[static_cast<size_t>(i)], perm_[static_cast<size_t>(j)]);
    }
    epoch_ = epoch;
  }
  uint64_t seed_;
  int64_t n_;
  int64_t epoch_ = -1;
  std::vector<int64_t> perm_;
};

formats::ModelConfig shape_to_config(const ModelShape& s, int64_t vocab) {
  formats::ModelConfig c;
  c.dim = s.dim;
  c.n_layers = s.layers;
  c.n_heads = s.heads;
  c.n_kv_heads = s.kv_heads > 0 ? s.kv_heads : s.heads;
  c.hidden_dim = s.ffn > 0 ? s.ffn : ((8 * s.dim / 3 + 31) / 32) * 32;
  c.vocab_size = s.vocab > 0 ? s.vocab : vocab;
  c.max_position = s.window;
  c.tied_embeddings = s.tied_embeddings;
  c.rope.type = formats::RopeType::Default;
  c.rope.base = s.rope_base;
  c.rope.head_dim = c.head_dim();
  c.rope.original_max_position = s.window;
  return c;
}

std::string step_name(int64_t step) {
  char b[32];
  std::snprintf(b, sizeof b, "step-%08lld", static_cast<long long>(step));
  return b;
}

std::vector<fs::path> list_checkpoints(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (e.is_directory() && name.rfind("step-", 0) == 0 && fs::exists(e.path() / "trainer_state.json"))
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string hex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (size_t i = 0; i < n; ++i) s[2 * i] = d[p[i] >> 4], s[2 * i + 1] = d[p[i] & 15];
  return s;
}
std::vector<uint8_t> unhex(const std::string& s) {
  std::vector<uint8_t> out(s.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(std::stoi(s.substr(2 * i, 2), nullptr, 16));
  return out;
}

// Renames a finished temp folder over `dst`; a crash before the rename leaves the previous
// `dst` intact (readers never see a half-written checkpoint).
void publish_dir(const fs::path& tmp, const fs::path& dst) {
  std::error_code ec;
  if (fs::exists(dst)) {
    const fs::path old = dst.string() + ".old-" + std::to_string(::getpid());
    fs::rename(dst, old, ec);
    if (ec) throw Error("cannot replace " + dst.string() + ": " + ec.message());
    fs::rename(tmp, dst, ec);
    fs::remove_all(old);
  } else {
    fs::rename(tmp, dst, ec);
  }
  if (ec) throw Error("cannot publish " + dst.string() + ": " + ec.message());
}

class Trainer {
 public:
  Trainer(const TrainOptions& o, const Tokenizer& tok, ProgressSink* progress) : o_(o), tok_(tok), progress_(progress) {}
  TrainResult run();

 private:
  void setup_ranks_and_device();
  std::optional<TrainResult> cached_result() const;
  void start(bool* resuming);
  void remove_partial_writes();
  void build_model(const fs::path* resume_dir);
  void build_optimizer();
  double train_step(int64_t step, double lr, double* grad_norm);
  void after_step(int64_t done, double loss, double lr, double grad_norm);
  TrainResult finish(Clock::time_point wall0);
  void save_checkpoint(int64_t step, double loss);
  void load_state(const fs::path& dir);
  void save_model_dir(const fs::path& dir, int64_t step);
  formats::RopeConfig served_rope(formats::RopeConfig rope) const;
  double eval_loss();
  void log(int64_t step, double loss, double lr, double ms, double grad_norm, double val = NAN);
  nlohmann::json device_record() const;

  const TrainOptions& o_;
  const Tokenizer& tok_;
  ProgressSink* progress_;
  RankInfo ranks_;
  torch::Device device_ = torch::kCPU;
  bool autocast_ = false;
  std::unique_ptr<DataParallel> dp_;
  TokenDataset data_;
  std::unique_ptr<PositionPolicy> policy_;
  std::unique_ptr<DataOrder> order_;
  std::shared_ptr<LlamaModel> model_;
  std::unique_ptr<torch::optim::AdamW> opt_;
  std::vector<torch::Tensor> params_;
  torch::Tensor inv_freq_, ids_, pos_;  // ids_ / pos_: the host staging buffers of one micro-batch
  int64_t start_step_ = 0, tokens_seen_ = 0, micro_ = 0, n_params_ = 0;
  double gflops_ = 0, last_loss_ = NAN;
  std::unique_ptr<util::JsonlAppender> journal_;
  bool tty_ = false;
  Clock::time_point t_log_;
  int64_t steps_since_log_ = 0;
};

// Rank layout, micro-batch, threads and the device this rank trains on.
void Trainer::setup_ranks_and_device() {
  ranks_ = rank_info_from_env();
  if (o_.data.seq_len != o_.policy.seq_len) throw Error("trainer: policy.seq_len differs from data.seq_len");
  if (o_.steps < 1) throw ConfigError("steps", "must be >= 1");
  if (o_.grad_accum < 1) throw ConfigError("grad_accum", "must be >= 1");
  if (o_.batch < ranks_.world * o_.grad_accum)
    throw ConfigError("batch", "the global batch " + std::to_string(o_.batch) + " is smaller than world size (" +
                                   std::to_string(ranks_.world) + ") × grad_accum (" + std::to_string(o_.grad_accum) +
                                   "): every rank needs a sequence in every micro-step");
  // The largest share any rank gets in a micro-step (shares differ by at most one).
  micro_ = (o_.batch / o_.grad_accum + (o_.batch % o_.grad_accum ? 1 : 0) + ranks_.world - 1) / ranks_.world;
  const int threads = o_.threads > 0 ? o_.threads
                                     : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / std::max(1, ranks_.local_world));
  set_threads(threads);
  tty_ = ::isatty(2) != 0;

  std::string device = resolve_device_name(o_.device);
  // One rank per GPU: with several local ranks, "auto"/"cuda" mean cuda:<LOCAL_RANK>.
  if (device != "cpu" && ranks_.local_world > 1) {
    if (o_.device != "auto" && o_.device != "cuda")
      throw ConfigError("device", "\"" + o_.device + "\" names one GPU for " + std::to_string(ranks_.local_world) +
                                      " local ranks (NCCL needs one GPU per rank); use device = \"cuda\"");
    device = resolve_device_name("cuda:" + std::to_string(ranks_.local_rank));
  }
  make_current_device(device);
  device_ = torch::Device(device);
  autocast_ = use_bf16_autocast(o_.precision, device_);
  reset_device_peak(device);
}

std::optional<TrainResult> Trainer::cached_result() const {
  const fs::path result_file = o_.out_dir / "result.json";
  if (!fs::exists(result_file)) return std::nullopt;
  const auto j = nlohmann::json::parse(util::read_file(result_file));
  TrainResult result;
  result.checkpoint_dir = j.at("checkpoint_path").get<std::string>();
  result.checkpoint_hash = j.at("checkpoint_hash");
  result.steps = j.at("steps");
  result.tokens = j.at("trained_tokens");
  result.wall_s = j.at("train_wall_s");
  result.final_loss = j.value("final_loss", 0.0);
  result.val_loss = j.value("val_loss", 0.0);
  result.device = j.value("device", nlohmann::json::object());
  result.cached = true;
  return result;
}

void Trainer::build_model(const fs::path* resume_dir) {
  ModelOptions mo;
  mo.device = device_;
  mo.attention.kernel = parse_attention_kernel(o_.attention, "attention");
  mo.attention.query_block = mo.attention.key_block = o_.block_size;
  if (resume_dir) {
    model_ = load_model(formats::load_checkpoint(*resume_dir / "model"), mo);
  } else if (!o_.base_checkpoint.empty()) {
    // Training always runs in the Hugging Face ("half") q/k layout, the layout checkpoints
    // are saved in: a GGUF base ("adjacent") is permuted once here, so a resumed run reloads
    // exactly the tensors it trained (and the optimizer state that goes with them).
    model_ = load_model(formats::with_rope_layout(formats::load_checkpoint(o_.base_checkpoint), "half"), mo);
  } else {
    if (o_.shape.window < 1) throw ConfigError("model.window", "pretraining needs the model window L (model.window)");
    torch::manual_seed(o_.seed);  // every rank draws the same initial weights
    model_ = std::make_shared<LlamaModel>(shape_to_config(o_.shape, tok_.vocab_size()), mo);
  }
  if (model_->config().vocab_size < tok_.vocab_size())
    throw Error("the model's vocabulary (" + std::to_string(model_->config().vocab_size) + ") is smaller than the tokenizer's (" +
                std::to_string(tok_.vocab_size()) + "): use the tokenizer the model was trained with");
  formats::RopeConfig rope = model_->config().rope;
  rope.type = formats::RopeType::Default;  // the policy's positions carry the scale (angle = (m+t)/g · θ_j)
  rope.factor = 1.0;
  rope.head_dim = model_->config().head_dim();
  const auto f = formats::compute_rope(rope);
  inv_freq_ = torch::tensor(f.inv_freq, torch::kFloat64);
  params_ = model_->parameters();
  n_params_ = 0;
  for (const auto& p : params_) n_params_ += p.numel();
}

void Trainer::build_optimizer() {
  // Decay matrices only; norm gains keep their scale (standard AdamW practice).
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : model_->parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
  auto base = torch::optim::AdamWOptions(o_.lr).betas({0.9, 0.95}).eps(1e-8);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(
                                 torch::optim::AdamWOptions(base).weight_decay(o_.weight_decay)));
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(base).weight_decay(0.0)));
  opt_ = std::make_unique<torch::optim::AdamW>(std::move(groups), base);
}

nlohmann::json Trainer::device_record() const {
  auto j = describe_device(device_.str());
  j["precision"] = autocast_ ? "bf16-autocast" : "float32";
  j["attention"] = o_.attention;
  if (const long long peak = device_peak_bytes(device_.str()); peak >= 0) j["peak_device_bytes"] = peak;
  return j;
}

// The RoPE config.json carries, so that transformers serves the model as the harness does
// (docs/interop.md): PI fine-tuning trained one scale g, so `linear` g over L; pretraining
// and E²-LLM leave plain RoPE (an E²-LLM model serves each window W with its own g = W/L,
// chosen when the harness opens it). Training itself always rotates with plain RoPE angles.
formats::RopeConfig Trainer::served_rope(formats::RopeConfig rope) const {
  rope.type = formats::RopeType::Default;
  rope.factor = 1.0;
  rope.attention_factor.reset();
  if (o_.policy.original_window > 0) rope.original_max_position = o_.policy.original_window;
  // PI and PoSE serve their one trained scale (PoSE: L_t / L for every window, as its code does).
  const double g = PositionPolicy(o_.policy).serving_scale();
  if ((o_.policy.kind == PolicyKind::Pi || o_.policy.kind == PolicyKind::Pose) && g > 1.0) {
    rope.type = formats::RopeType::Linear;
    rope.factor = g;
  }
  return rope;
}

void Trainer::save_model_dir(const fs::path& dir, int64_t step) {
  formats::Checkpoint ck = to_checkpoint(*model_);
  nlohmann::json extra = o_.method;
  extra["trainer"] = {{"step", step},
                      {"steps", o_.steps},
                      {"tokens_seen", tokens_seen_},
                      {"seq_len", o_.data.seq_len},
                      {"batch", o_.batch},
                      {"lr", o_.lr},
                      {"warmup", o_.warmup},
                      {"schedule", "linear warmup + cosine"},
                      {"min_lr_ratio", o_.min_lr_ratio},
                      {"weight_decay", o_.weight_decay},
                      {"grad_clip", o_.grad_clip},
                      {"betas", {0.9, 0.95}},
                      {"precision", autocast_ ? "bf16-autocast" : "float32"},
                      {"device", device_.str()},
                      {"seed", o_.seed},
                      {"data", data_.hash}};
  extra["policy"] = o_.policy.to_json();
  ck.config.extra = extra;
  ck.config.rope = served_rope(ck.config.rope);
  // max_position_embeddings: L for plain RoPE (read back as the original window), W = R for PI,
  // the target window L_t for PoSE.
  ck.config.max_position = o_.policy.kind == PolicyKind::Pose                 ? o_.policy.target_window
                           : ck.config.rope.type == formats::RopeType::Linear ? o_.data.seq_len
                                                                              : ck.config.rope.original_max_position;
  formats::save_hf_dir(ck, dir);
}

void Trainer::save_checkpoint(int64_t step, double loss) {
  const fs::path root = o_.out_dir / "checkpoints";
  const fs::path tmp = root / (".tmp-" + step_name(step) + "-" + std::to_string(::getpid()));
  try {
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    save_model_dir(tmp / "model", step);
    {
      torch::serialize::OutputArchive ar;
      opt_->save(ar);
      std::ostringstream s;
      ar.save_to(s);
      util::write_file_atomic(tmp / "optimizer.pt", s.str());
    }
    auto rng = at::detail::getDefaultCPUGenerator().get_state();
    nlohmann::json state = {{"format", "e2llm-trainer-state-v1"},
                            {"step", step},  // optimizer steps done
                            {"data_cursor", step * o_.batch},  // global samples consumed
                            {"tokens_seen", tokens_seen_},
                            {"loss", loss},
                            {"seed", o_.seed},
                            {"policy_seed", o_.policy.seed},
                            {"world_size", ranks_.world},
                            {"precision", autocast_ ? "bf16-autocast" : "float32"},
                            {"torch_cpu_rng", hex(rng.data_ptr<uint8_t>(), static_cast<size_t>(rng.numel()))}};
    util::write_file_atomic(tmp / "trainer_state.json", state.dump(2) + "\n");
    publish_dir(tmp, root / step_name(step));
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw Error("step " + std::to_string(step) + ": cannot write a checkpoint under " + root.string() + " (" + e.what() +
                "); earlier checkpoints are intact. Free disk space, raise the file-size limit or fix the folder's "
                "permissions, then run again: it resumes from the newest complete checkpoint");
  }
  auto all = list_checkpoints(root);
  for (size_t i = 0; o_.keep_last > 0 && i + static_cast<size_t>(o_.keep_last) < all.size(); ++i) fs::remove_all(all[i]);
}

void Trainer::load_state(const fs::path& dir) {
  const auto state = nlohmann::json::parse(util::read_file(dir / "trainer_state.json"));
  const std::string precision = autocast_ ? "bf16-autocast" : "float32";
  if (state.value("precision", std::string("float32")) != precision)
    throw Error(dir.string() + " was trained in " + state.value("precision", std::string("float32")) +
                ", this run is " + precision + "; resume with the same device and precision");
  torch::serialize::InputArchive ar;
  ar.load_from((dir / "optimizer.pt").string(), device_);  // the state lands where the parameters are
  opt_->load(ar);
  start_step_ = state.at("step");
  tokens_seen_ = state.at("tokens_seen");
  const auto bytes = unhex(state.at("torch_cpu_rng").get<std::string>());
  auto t = torch::from_blob(const_cast<uint8_t*>(bytes.data()), {static_cast<int64_t>(bytes.size())}, torch::kUInt8).clone();
  at::Generator gen = at::detail::getDefaultCPUGenerator();  // a handle to the global generator
  gen.set_state(t);
}

double Trainer::eval_loss() {
  if (data_.val.size() == 0) return NAN;
  torch::NoGradGuard ng;
  const int64_t R = o_.data.seq_len, B = std::max<int64_t>(1, micro_);
  const int64_t n = std::min(data_.val.size(), B * o_.eval_batches);
  // Validation at the policy's serving setting: PI at its fixed g, PoSE at L_t / L, otherwise
  // plain positions.
  const double g = policy_->serving_scale();
  double total = 0;
  int64_t count = 0;
  for (int64_t first = 0; first < n; first += B) {
    const int64_t b = std::min(B, n - first);
    auto ids = torch::empty({b, R + 1}, torch::kLong);
    for (int64_t i = 0; i < b; ++i) data_.val.read(first + i, ids[i].data_ptr<int64_t>());
    ids = ids.to(device_);
    auto pos = (torch::arange(R, torch::kFloat64) / g).unsqueeze(0).expand({b, R}).contiguous();
    torch::Tensor logits;
    {
      AutocastGuard autocast(device_, autocast_);
      logits = model_->forward(ids.narrow(1, 0, R), RopeInputs{pos, inv_freq_, 1.0});
    }
    total += torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}).to(torch::kFloat32),
                                                  ids.narrow(1, 1, R).reshape({-1}),
                                                  torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                 .item<double>();
    count += b * R;
  }
  return total / static_cast<double>(count);
}

void Trainer::log(int64_t step, double loss, double lr, double ms, double grad_norm, double val) {
  if (ranks_.rank != 0) return;
  const double tokens_per_s = static_cast<double>(o_.batch * o_.data.seq_len) / (ms / 1000.0);
  // MFU: 6·N FLOPs per trained token (forward + backward; attention scores left out, as in
  // llm.c) against the measured matmul rate of all ranks together.
  const double mfu = gflops_ > 0 ? 6.0 * static_cast<double>(n_params_) * tokens_per_s / (gflops_ * 1e9 * ranks_.world) : NAN;
  nlohmann::json row = {{"step", step},         {"loss", loss},           {"lr", lr},
                        {"ms_per_step", ms},    {"tokens_per_s", tokens_per_s}, {"mfu", mfu},
                        {"grad_norm", grad_norm}, {"tokens_seen", tokens_seen_}, {"world_size", ranks_.world}};
  if (!std::isnan(val)) row["val_loss"] = val;
  if (const long long peak = device_peak_bytes(device_.str()); peak >= 0) row["peak_device_bytes"] = peak;
  if (journal_) journal_->append(row);
  char line[256];
  std::snprintf(line, sizeof line, "step %6lld/%lld | loss %.4f | lr %.3e | %.1f ms/step | %.0f tok/s | MFU %.1f%%%s",
                static_cast<long long>(step), static_cast<long long>(o_.steps), loss, lr, ms, tokens_per_s, 100.0 * mfu,
                std::isnan(val) ? "" : (" | val " + std::to_string(val)).c_str());
  if (tty_) {
    const int width = 20, filled = static_cast<int>(width * step / std::max<int64_t>(1, o_.steps));
    std::fprintf(stderr, "\r[%s%s] %s\x1b[K", std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(), line);
    if (step == o_.steps) std::fputc('\n', stderr);
  } else {
    std::fprintf(stderr, "%s\n", line);
  }
  std::fflush(stderr);
  if (progress_) progress_->update(static_cast<size_t>(step), static_cast<size_t>(o_.steps), "train");
}

// A run killed while writing leaves temp folders (.tmp-*) and, when killed between the two
// renames of publish_dir, a moved-aside old copy (*.old-<pid>) whose destination was already
// replaced or never written. Readers ignore both (list_checkpoints wants step-N/trainer_state.json);
// they are removed before the run goes on. An .old copy whose destination is missing is the
// last complete version and is put back.
void Trainer::remove_partial_writes() {
  for (const fs::path& dir : {o_.out_dir, o_.out_dir / "checkpoints"}) {
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string name = e.path().filename().string();
      const auto old = name.find(".old-");
      std::error_code ec;
      if (name.rfind(".tmp-", 0) == 0) {
        fs::remove_all(e.path(), ec);
      } else if (old != std::string::npos) {
        const fs::path dst = dir / name.substr(0, old);
        if (!fs::exists(dst)) fs::rename(e.path(), dst, ec);
        else fs::remove_all(e.path(), ec);
      }
    }
  }
}

// Data, policy, model, optimizer, resume state and the journal; the banner on rank 0.
void Trainer::start(bool* resuming) {
  if (ranks_.world > 1)
    dp_ = std::make_unique<DataParallel>(ranks_, std::chrono::milliseconds(static_cast<int64_t>(o_.dist_timeout_s * 1000)),
                                         device_);
  data_ = load_or_build_dataset(o_.data, tok_);
  policy_ = std::make_unique<PositionPolicy>(o_.policy);
  order_ = std::make_unique<DataOrder>(o_.seed, data_.train.size());

  if (ranks_.rank == 0) remove_partial_writes();
  if (dp_) dp_->barrier();
  const auto checkpoints = list_checkpoints(o_.out_dir / "checkpoints");
  *resuming = o_.resume && !checkpoints.empty();
  if (!o_.resume && ranks_.rank == 0 && fs::exists(o_.out_dir / "checkpoints")) fs::remove_all(o_.out_dir / "checkpoints");
  build_model(*resuming ? &checkpoints.back() : nullptr);
  build_optimizer();
  if (*resuming) load_state(checkpoints.back());
  const int64_t R = o_.data.seq_len;
  ids_ = torch::empty({micro_, R + 1}, torch::kLong);
  pos_ = torch::empty({micro_, R}, torch::kFloat64);
  if (ranks_.rank != 0) return;
  fs::create_directories(o_.out_dir);
  if (!*resuming) fs::remove(o_.out_dir / "train_log.jsonl");
  journal_ = std::make_unique<util::JsonlAppender>(o_.out_dir / "train_log.jsonl");
  gflops_ = o_.matmul_gflops > 0 ? o_.matmul_gflops
                                 : measure_matmul_gflops(device_.is_cuda() ? 8192 : 512, 3, device_,
                                                         autocast_ ? torch::kBFloat16 : torch::kFloat32);
  std::fprintf(stderr,
               "train: %s | %lld params | R %lld | global batch %lld (%d rank%s × <=%lld × accum %lld) | %lld train seqs | "
               "%s %s | %d thread%s/rank | matmul %.1f GFLOP/s%s\n",
               policy_name(o_.policy.kind), static_cast<long long>(n_params_), static_cast<long long>(R),
               static_cast<long long>(o_.batch), ranks_.world, ranks_.world > 1 ? "s" : "",
               static_cast<long long>(micro_), static_cast<long long>(o_.grad_accum),
               static_cast<long long>(data_.train.size()), device_.str().c_str(), autocast_ ? "bf16-autocast" : "float32",
               torch::get_num_threads(), torch::get_num_threads() > 1 ? "s" : "", gflops_,
               *resuming ? (" | resumed at step " + std::to_string(start_step_)).c_str() : "");
}

namespace {

// Part `i` of `n` near-equal contiguous parts of [0, total): the first total % n parts get one more.
std::pair<int64_t, int64_t> even_part(int64_t total, int64_t n, int64_t i) {
  const int64_t base = total / n, extra = total % n;
  const int64_t begin = i * base + std::min(i, extra);
  return {begin, begin + base + (i < extra ? 1 : 0)};
}

}  // namespace

// One optimizer step: the global batch is cut into grad_accum near-equal micro-batches, each
// shared near-equally among the ranks (any batch >= world × accum works). Every rank's loss is
// its summed token loss over the step's token count, so gradients and losses summed over
// micro-steps and ranks are exactly the global mean. Then clipping and AdamW. Returns the
// step's mean loss over the global batch.
double Trainer::train_step(int64_t step, double lr, double* grad_norm) {
  const int64_t R = o_.data.seq_len;
  const double step_tokens = static_cast<double>(o_.batch * R);
  for (auto& g : opt_->param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
  opt_->zero_grad();
  double loss_sum = 0;
  for (int64_t a = 0; a < o_.grad_accum; ++a) {
    const auto [c0, c1] = even_part(o_.batch, o_.grad_accum, a);
    const auto [r0, r1] = even_part(c1 - c0, ranks_.world, ranks_.rank);
    const int64_t n = r1 - r0, first = step * o_.batch + c0 + r0;  // global sample index = step·batch + slot
    for (int64_t i = 0; i < n; ++i) data_.train.read(order_->sequence(first + i), ids_[i].data_ptr<int64_t>());
    policy_->fill(step, first, n, pos_.data_ptr<double>());
    auto ids = ids_.narrow(0, 0, n).to(device_);
    torch::Tensor logits;
    {
      AutocastGuard autocast(device_, autocast_);
      logits = model_->forward(ids.narrow(1, 0, R), RopeInputs{pos_.narrow(0, 0, n), inv_freq_, 1.0});
    }
    auto loss = torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}).to(torch::kFloat32),
                                                     ids.narrow(1, 1, R).reshape({-1}),
                                                     torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)) /
                step_tokens;
    loss.backward();
    loss_sum += loss.item<double>();
  }
  if (dp_) {
    std::vector<torch::Tensor> grads;
    for (auto& p : params_) {
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);  // same tensor list on every rank
      grads.push_back(p.grad());
    }
    auto l = torch::full({1}, loss_sum, torch::TensorOptions().dtype(torch::kFloat32).device(device_));
    grads.push_back(l);  // the loss rides in the last bucket: one fewer message
    dp_->allreduce_sum(grads);
    loss_sum = l.item<double>();
  }
  if (!std::isfinite(loss_sum))
    throw Error("step " + std::to_string(step + 1) + ": loss is " + std::to_string(loss_sum) +
                " (training diverged); lower lr (now " + std::to_string(lr) + "), lengthen warmup or set grad_clip");
  *grad_norm = o_.grad_clip > 0 ? torch::nn::utils::clip_grad_norm_(params_, o_.grad_clip) : NAN;
  opt_->step();
  tokens_seen_ += o_.batch * R;
  return loss_sum;
}

// Validation, the log line, the checkpoint and the kill hook after optimizer step `done`.
void Trainer::after_step(int64_t done, double loss, double lr, double grad_norm) {
  last_loss_ = loss;
  ++steps_since_log_;
  double val = NAN;
  if (o_.eval_every > 0 && done % o_.eval_every == 0 && ranks_.rank == 0) val = eval_loss();
  if ((o_.log_every > 0 && done % o_.log_every == 0) || done == o_.steps || !std::isnan(val)) {
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t_log_).count() /
                      static_cast<double>(std::max<int64_t>(1, steps_since_log_));
    log(done, loss, lr, ms, grad_norm, val);
    t_log_ = Clock::now();
    steps_since_log_ = 0;
  }
  if (o_.checkpoint_every > 0 && done % o_.checkpoint_every == 0 && done < o_.steps) {
    if (ranks_.rank == 0) save_checkpoint(done, loss);
    if (dp_) dp_->barrier();
  }
  if (o_.debug_kill_at_step == done && (o_.debug_kill_rank < 0 || o_.debug_kill_rank == ranks_.rank))
    std::raise(SIGKILL);  // test hook: die like a killed job
}

// The final model (atomically), result.json, and the same result on every rank.
TrainResult Trainer::finish(Clock::time_point wall0) {
  TrainResult result;
  result.checkpoint_dir = o_.out_dir / "model";
  result.steps = o_.steps;
  result.tokens = tokens_seen_;
  result.final_loss = last_loss_;
  const fs::path result_file = o_.out_dir / "result.json";
  if (ranks_.rank == 0) {
    result.val_loss = eval_loss();
    const fs::path tmp = o_.out_dir / (".tmp-model-" + std::to_string(::getpid()));
    try {
      fs::remove_all(tmp);
      save_model_dir(tmp, o_.steps);
      publish_dir(tmp, result.checkpoint_dir);
    } catch (const std::exception& e) {
      throw Error(std::string("cannot write the trained model to ") + result.checkpoint_dir.string() + ": " + e.what());
    }
    result.checkpoint_hash = to_checkpoint(*model_).fingerprint;
    result.wall_s = std::chrono::duration<double>(Clock::now() - wall0).count();
    result.device = device_record();
    auto j = result.to_json();
    j["data"] = data_.meta;
    j["data"].erase("val_documents");
    j["data"]["val_documents_count"] = data_.meta.at("val_documents").size();
    j["method"] = o_.method;
    j["policy"] = o_.policy.to_json();
    j["world_size"] = ranks_.world;
    j["params"] = n_params_;
    util::write_file_atomic(result_file, j.dump(2) + "\n");
  }
  if (dp_) dp_->barrier();
  if (ranks_.rank != 0) {
    const auto j = nlohmann::json::parse(util::read_file(result_file));
    result.checkpoint_hash = j.at("checkpoint_hash");
    result.wall_s = j.at("train_wall_s");
    result.val_loss = j.value("val_loss", 0.0);
    result.device = device_record();
  }
  return result;
}

TrainResult Trainer::run() {
  const auto wall0 = Clock::now();
  setup_ranks_and_device();
  if (auto cached = cached_result()) return *cached;  // a finished run with this content hash
  bool resuming = false;
  start(&resuming);
  t_log_ = Clock::now();
  for (int64_t step = start_step_; step < o_.steps; ++step) {
    const double lr = learning_rate(o_, step);
    double grad_norm = NAN;
    const double loss = train_step(step, lr, &grad_norm);
    after_step(step + 1, loss, lr, grad_norm);
  }
  return finish(wall0);
}

}  // namespace

TrainResult run_training(const TrainOptions& options, const Tokenizer& tokenizer, ProgressSink* progress) {
  if (options.out_dir.empty()) throw Error("trainer: no output folder");
  tune_cpu_allocator();
  try {
    std::error_code ec;
    fs::create_directories(options.out_dir, ec);
    if (ec) throw Error("cannot create the output folder " + options.out_dir.string() + ": " + ec.message());
    Trainer t(options, tokenizer, progress);
    return t.run();
  } catch (const c10::Error& e) {
    throw Error(std::string("trainer: LibTorch error: ") + e.what_without_backtrace());
  }
}

}  // namespace e2llm::llama::train
