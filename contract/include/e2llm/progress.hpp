#pragma once

#include <cstddef>
#include <string_view>

namespace e2llm {

// Where long operations report progress. Implementations must be cheap to call.
class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  virtual void update(std::size_t done, std::size_t total, std::string_view what) = 0;
};

}  // namespace e2llm
