// The LibTorch trainer behind every training backend (pretraining, PI fine-tuning,
// E²-LLM fine-tuning): next-token loss, AdamW (β 0.9/0.95), linear warmup + cosine decay,
// gradient clipping and accumulation, CPU or CUDA (bf16 autocast with float32 master
// weights), data parallel over c10d (Gloo on CPU, NCCL on CUDA; RANK / WORLD_SIZE /
// LOCAL_RANK / MASTER_ADDR / MASTER_PORT), atomic checkpoints that resume bit-exactly. The
// header is free of LibTorch so plugins that call it compile fast.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "e2llm/llama/train/position_policy.hpp"
#include "e2llm/llama/train/token_data.hpp"
#include "e2llm/progress.hpp"
#include "e2llm/tokenizer.hpp"

namespace e2llm::llama::train {

// A model built from scratch (pretraining): the vocabulary comes from the tokenizer when 0.
struct ModelShape {
  int64_t dim = 64, layers = 2, heads = 4, kv_heads = 0 /* = heads */, ffn = 0 /* = 8/3·dim rounded to 32 */;
  int64_t vocab = 0;
  int64_t window = 0;  // L, the window the model is pretrained at
  double rope_base = 10000.0;
  bool tied_embeddings = false;
  nlohmann::json to_json() const;
};

struct TrainOptions {
  // Start: a checkpoint (GGUF or HF dir) or, when empty, random init of `shape`.
  std::string base_checkpoint;
  ModelShape shape;
  DataOptions data;      // data.seq_len is R
  PolicyOptions policy;  // policy.seq_len must equal data.seq_len

  int64_t steps = 100;
  int64_t batch = 8;       // GLOBAL sequences per optimizer step (= world × micro × accum)
  int64_t grad_accum = 1;  // micro-steps per optimizer step on each rank
  double lr = 1e-4;        // peak
  double min_lr_ratio = 0.1;  // cosine decays to lr · min_lr_ratio
  int64_t warmup = 0;      // linear warmup steps
  double weight_decay = 0.1;  // on matrices only (norm gains are not decayed)
  double grad_clip = 1.0;     // global L2 norm; 0 = off
  uint64_t seed = 0;
  int threads = 0;  // per rank; 0 = cores / local ranks
  int64_t block_size = 256;  // blocked-attention block
  std::string attention = "fused";  // "fused" | "blocked" (the reference kernel)
  // "auto" | "cpu" | "cuda" | "cuda:N". With several local ranks on CUDA, "auto"/"cuda" give
  // rank r the GPU cuda:<LOCAL_RANK> (one rank per GPU).
  std::string device = "auto";
  // "auto" (bf16 autocast on CUDA, float32 on CPU) | "float32" | "bf16-autocast". Autocast
  // keeps float32 master weights and optimizer state; float32 on CPU is the bit-exact reference.
  std::string precision = "auto";

  std::filesystem::path out_dir;  // checkpoints/, model/, train_log.jsonl, result.json
  int64_t checkpoint_every = 0;   // steps; 0 = only the final model
  int64_t keep_last = 2;          // checkpoints kept
  bool resume = false;            // continue from the newest checkpoint in out_dir
  int64_t log_every = 10;
  int64_t eval_every = 0;         // validation loss every N steps (0 = only at the end)
  int64_t eval_batches = 4;
  double dist_timeout_s = 60;     // a dead rank makes the others fail after this
  int64_t debug_kill_at_step = -1;  // test hook: raise(SIGKILL) after this step (resume test)
  int debug_kill_rank = -1;         // which rank the hook kills (-1: every rank)
  // Writes positions-rank<r>.jsonl into out_dir: for every sample a rank trains on, its step,
  // global sample index, dataset sequence, token ids and position draw (g, t). What the
  // training-step oracle (tests/train/test_train_oracle.cpp) rebuilds the step from.
  bool record_positions = false;
  double matmul_gflops = 0;       // 0 = measure at start (for MFU), on the training device and dtype

  nlohmann::json method = nlohmann::json::object();  // recorded in config.json under "e2llm"
};

struct TrainResult {
  std::filesystem::path checkpoint_dir;  // out_dir/model (HF dir)
  std::string checkpoint_hash;           // the weights' fingerprint
  int64_t steps = 0;
  int64_t tokens = 0;       // trained tokens (global)
  double wall_s = 0;        // this run's wall time (excludes a resumed run's earlier part)
  double final_loss = 0, val_loss = 0;
  bool cached = false;      // out_dir held a finished run
  nlohmann::json device = nlohmann::json::object();  // describe_device() + precision + peak memory
  nlohmann::json to_json() const;
};

// Trains (or returns the cached result when out_dir/result.json exists). All ranks call it.
TrainResult run_training(const TrainOptions& options, const Tokenizer& tokenizer, ProgressSink* progress = nullptr);

// lr at `step` (0-based): linear warmup to `lr` over `warmup` steps, then cosine to lr·min_lr_ratio.
double learning_rate(const TrainOptions& options, int64_t step);

// Keeps glibc from serving (and returning) every large tensor with mmap/munmap: by default
// each step's multi-megabyte activations and optimizer temporaries are fresh mappings whose
// pages fault in and are zeroed again every step, which cost the AdamW step ~7x and the
// backward ~2x here. Raises M_MMAP_THRESHOLD / M_TRIM_THRESHOLD to 1 GiB (no-op off glibc).
// run_training calls it; benchmarks call it to measure the same step.
void tune_cpu_allocator();

// The rank layout from the environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT; torchrun and Slurm style). Defaults: rank 0 of 1.
struct RankInfo {
  int rank = 0, world = 1, local_rank = 0, local_world = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};
RankInfo rank_info_from_env();

}  // namespace e2llm::llama::train
