#include "data_parallel.hpp"

// ProcessGroupGloo.hpp compiles only with USE_C10D_GLOO (and needs libgloo-dev's headers).
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(USE_C10D_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>

#include "e2llm/error.hpp"

namespace e2llm::llama::train {

struct DataParallel::Impl {
  c10::intrusive_ptr<c10d::Store> store;
#if defined(USE_C10D_NCCL)
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
  std::chrono::milliseconds timeout{0};

  void wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what, int rank) {
    try {
      work->wait(timeout);
    } catch (const std::exception& e) {
      throw Error(std::string("rank ") + std::to_string(rank) + ": " + what +
                  " failed (another rank died or timed out?): " + std::string(e.what()).substr(0, 300));
    }
  }
};

DataParallel::DataParallel(const RankInfo& ranks, std::chrono::milliseconds timeout, const torch::Device& device)
    : ranks_(ranks), impl_(std::make_unique<Impl>()) {
  impl_->timeout = timeout;
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(ranks.master_port);
    so.isServer = ranks.rank == 0;
    so.numWorkers = static_cast<std::size_t>(ranks.world);
    so.waitWorkers = true;
    so.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(ranks.master_addr, so);
    if (device.is_cuda()) {
#if defined(USE_C10D_NCCL)
      // A failed or timed-out collective aborts the communicator and this process instead of
      // leaving the other ranks blocked inside NCCL (the watchdog acts after `timeout`).
      ::setenv("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1", /*overwrite=*/0);
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = timeout;
      impl_->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, ranks.rank, ranks.world, opts);
      return;
#else
      throw Error("data parallel on CUDA needs a LibTorch built with NCCL (USE_C10D_NCCL)");
#endif
    }
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    // Loopback when every rank is local; otherwise the interface the hostname resolves to.
    const bool local = ranks.master_addr == "127.0.0.1" || ranks.master_addr == "localhost";
    opts->devices.push_back(local ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                  : c10d::ProcessGroupGloo::createDefaultDevice());
    opts->threads = 1;  // one core per rank on small machines (docs/pitfalls.md, "Data parallel without DDP")
    impl_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, ranks.rank, ranks.world, opts);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(ranks.rank) + ": cannot join the process group at " + ranks.master_addr + ":" +
                std::to_string(ranks.master_port) + " (check MASTER_ADDR/MASTER_PORT and that all " +
                std::to_string(ranks.world) + " ranks started): " + std::string(e.what()).substr(0, 300));
  }
}

DataParallel::~DataParallel() = default;

void DataParallel::allreduce_sum(const std::vector<torch::Tensor>& tensors, size_t bucket_bytes) {
  if (ranks_.world == 1) return;
  size_t i = 0;
  while (i < tensors.size()) {
    // A bucket: consecutive tensors of one dtype/device up to bucket_bytes.
    std::vector<torch::Tensor> bucket;
    size_t bytes = 0;
    while (i < tensors.size() && (bucket.empty() || (bytes + tensors[i].nbytes() <= bucket_bytes &&
                                                     tensors[i].scalar_type() == bucket[0].scalar_type()))) {
      bytes += tensors[i].nbytes();
      bucket.push_back(tensors[i++]);
    }
    std::vector<torch::Tensor> flat_parts;
    for (const auto& t : bucket) flat_parts.push_back(t.reshape({-1}));
    std::vector<torch::Tensor> flat{torch::cat(flat_parts)};
    c10::intrusive_ptr<c10d::Work> work;
#if defined(USE_C10D_NCCL)
    if (impl_->nccl) work = impl_->nccl->allreduce(flat);
#endif
    if (!work) work = impl_->gloo->allreduce(flat);
    impl_->wait(work, "gradient all-reduce", ranks_.rank);
    int64_t offset = 0;
    for (const auto& t : bucket) {
      t.copy_(flat[0].narrow(0, offset, t.numel()).view_as(t));
      offset += t.numel();
    }
  }
}

void DataParallel::barrier() {
  if (ranks_.world == 1) return;
  c10::intrusive_ptr<c10d::Work> work;
#if defined(USE_C10D_NCCL)
  if (impl_->nccl) work = impl_->nccl->barrier();
#endif
  if (!work) work = impl_->gloo->barrier();
  impl_->wait(work, "barrier", ranks_.rank);
}

}  // namespace e2llm::llama::train
