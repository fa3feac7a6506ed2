// The translation unit of e2llm_torch_pch, the target that owns the one precompiled
// <torch/torch.h> (backends/llama/torch.cmake); CMake includes the header, nothing else is here.
