#!/usr/bin/env bash
# Configures and builds e2llm into build/ (Release, Ninja, 2 jobs: this project's machines have 2 cores).
# When clang++ is installed it also builds the libFuzzer targets into build/fuzz (tests/fuzz,
# docs/reliability.md); E2LLM_CMAKE_ARGS=-DE2LLM_FUZZ=OFF leaves them out.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${E2LLM_CMAKE_ARGS:-} >/dev/null
cmake --build build -j "${E2LLM_JOBS:-2}"
