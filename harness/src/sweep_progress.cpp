#include "sweep_progress.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace e2llm::harness {
using Clock = std::chrono::steady_clock;

std::string human_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  auto t = static_cast<long long>(std::llround(s));
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, (t % 3600) / 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  if (s < 10) return fmt::format("{:.1f}s", s);
  return fmt::format("{}s", t);
}

SweepProgress::SweepProgress(std::size_t cells, bool numbered, std::FILE* out)
    : out_(out), tty_(::isatty(::fileno(out)) == 1), total_cells_(cells), numbered_(numbered), start_(Clock::now()) {
  cell_start_ = last_draw_ = last_line_ = start_;
}

SweepProgress::~SweepProgress() { clear_bar(); }

std::string SweepProgress::counter(std::size_t index) const {
  return numbered_ ? fmt::format("[{}/{}] ", index, total_cells_) : "";
}

double SweepProgress::elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

void SweepProgress::clear_bar() {
  if (tty_ && bar_shown_) fmt::print(out_, "\r\033[K");
  bar_shown_ = false;
  std::fflush(out_);
}

void SweepProgress::message(const std::string& line) {
  clear_bar();
  fmt::print(out_, "{}\n", line);
  std::fflush(out_);
  if (tty_) draw();
}

void SweepProgress::begin_cell(const std::string& label, std::size_t samples_in_journal,
                               std::optional<std::int64_t> planned_items) {
  label_ = label;
  inner_ = 0;
  done_ = 0;
  total_ = planned_items && *planned_items > 0 ? std::size_t(*planned_items) : 0;
  what_ = total_ ? "items" : "";
  cell_start_ = Clock::now();
  std::string resumed = samples_in_journal ? fmt::format(" (resuming: {} samples already done)", samples_in_journal) : "";
  std::string items = planned_items ? fmt::format(" ({} items)", *planned_items) : "";
  if (tty_) {
    if (samples_in_journal) message(counter(finished_ + 1) + label_ + resumed);
    draw();
  } else {
    fmt::print(out_, "{}{}{} ...{}\n", counter(finished_ + 1), label_, items, resumed);
    std::fflush(out_);
  }
}

void SweepProgress::end_cell(double wall_s, const std::string& note) {
  ++finished_;
  inner_ = 0;
  clear_bar();
  double left = finished_ < total_cells_ ? elapsed() / finished_ * (total_cells_ - finished_) : 0;
  fmt::print(out_, "{}{} done in {}{}{}\n", counter(finished_), label_, human_duration(wall_s),
             note.empty() ? "" : " (" + note + ")",
             finished_ < total_cells_ ? ", ETA " + human_duration(left) : "");
  std::fflush(out_);
}

void SweepProgress::update(std::size_t done, std::size_t total, std::string_view what) {
  done_ = done, total_ = total;
  what_ = std::string(what);
  inner_ = total ? std::min(1.0, double(done) / double(total)) : 0;
  auto now = Clock::now();
  if (tty_) {
    if (now - last_draw_ < std::chrono::milliseconds(100) && done != total) return;
    draw();
  } else if (now - last_line_ >= std::chrono::seconds(30)) {  // a log file gets a line now and then
    last_line_ = now;
    fmt::print(out_, "    {} {}/{} {}\n", label_, done, total, what_);
    std::fflush(out_);
  }
}

void SweepProgress::draw() {
  if (!tty_) return;
  last_draw_ = Clock::now();
  double fraction = total_cells_ ? (finished_ + inner_) / double(total_cells_) : 1;
  double t = elapsed();
  std::string eta = fraction > 0.001 && t > 1 ? human_duration(t * (1 - fraction) / fraction) : "?";
  constexpr int kWidth = 24;
  int filled = static_cast<int>(std::lround(fraction * kWidth));
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::string inner = total_ ? fmt::format(" {}/{} {}", done_, total_, what_) : "";
  fmt::print(out_, "\r\033[K[{}] {:3.0f}% {}{}{} | {} elapsed, ETA {}", bar, fraction * 100,
             numbered_ ? fmt::format("cell {}/{} ", std::min(finished_ + 1, total_cells_), total_cells_) : "", label_,
             inner, human_duration(t), eta);
  std::fflush(out_);
  bar_shown_ = true;
}

}  // namespace e2llm::harness
