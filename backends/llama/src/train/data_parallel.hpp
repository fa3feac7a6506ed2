// Data parallel over c10d without DistributedDataParallel (the C++ frontend has none,
// docs/pitfalls.md §Data parallel without DDP): TCPStore rendezvous, ProcessGroupGloo for CPU tensors and ProcessGroupNCCL
// for CUDA tensors (one rank per GPU), gradients all-reduced in flat buckets.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <vector>

#include "e2llm/llama/train/trainer.hpp"

namespace e2llm::llama::train {

class DataParallel {
 public:
  // Rank 0 hosts the TCPStore at master_addr:master_port; every collective fails (throws
  // e2llm::Error) after `timeout` instead of hanging on a dead rank. A CUDA `device` (this
  // rank's GPU, already current) selects NCCL, the CPU selects Gloo.
  DataParallel(const RankInfo& ranks, std::chrono::milliseconds timeout, const torch::Device& device);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int rank() const { return ranks_.rank; }
  int world() const { return ranks_.world; }

  // Every tensor becomes the sum over ranks (the trainer normalizes by the global token
  // count before, so the sum is the mean). Tensors are packed into flat buckets of about
  // `bucket_bytes` (one all-reduce per bucket: fewer, larger messages).
  void allreduce_sum(const std::vector<torch::Tensor>& tensors, size_t bucket_bytes = 25u << 20);
  void barrier();

 private:
  struct Impl;
  RankInfo ranks_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace e2llm::llama::train
