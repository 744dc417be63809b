// Messages taken from the prefetch buffer still take memory until their work is done (Redis
// acknowledged, handlers finished, dead letter delivered): they count against the same limit as
// the buffer. A ticket travels with such a message and gives its bytes back exactly once, when
// released or destroyed. Owned by the consumer's thread, like the counter it points to.
#pragma once

#include <cstdint>
#include <utility>

namespace cdc {
namespace kafka {

class InFlightTicket {
 public:
  InFlightTicket() = default;
  InFlightTicket(int64_t* counter, int64_t bytes) : counter_(counter), bytes_(bytes) { *counter_ += bytes_; }
  InFlightTicket(InFlightTicket&& other) noexcept
      : counter_(std::exchange(other.counter_, nullptr)), bytes_(other.bytes_) {}
  InFlightTicket& operator=(InFlightTicket&& other) noexcept {
    if (this != &other) {
      release();
      counter_ = std::exchange(other.counter_, nullptr);
      bytes_ = other.bytes_;
    }
    return *this;
  }
  InFlightTicket(const InFlightTicket&) = delete;
  InFlightTicket& operator=(const InFlightTicket&) = delete;
  ~InFlightTicket() { release(); }

  void release() {
    if (counter_) *std::exchange(counter_, nullptr) -= bytes_;
  }

 private:
  int64_t* counter_ = nullptr;
  int64_t bytes_ = 0;
};

}  // namespace kafka
}  // namespace cdc
