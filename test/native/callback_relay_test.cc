// Late librdkafka callbacks of a leaked handle are no-ops by construction (issue 10, item 10).
#include "kafka/callback_relay.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace cdc::kafka {
namespace {

using namespace std::chrono_literals;

TEST(CallbackRelay, NothingReachesTheTargetAfterDetach) {
  CallbackRelay relay({});
  int calls = 0;
  relay.forward([&] { ++calls; });
  relay.detach();
  relay.forward([&] { ++calls; });
  EXPECT_EQ(calls, 1);
}

// A callback running on another thread (a librdkafka log line) finishes before detach returns:
// the engine may be freed right after.
TEST(CallbackRelay, DetachWaitsForACallbackInProgress) {
  CallbackRelay relay({});
  std::atomic<bool> inside{false}, finished{false};
  std::thread librdkafka_thread([&] {
    relay.forward([&] {
      inside = true;
      std::this_thread::sleep_for(200ms);
      finished = true;
    });
  });
  while (!inside) std::this_thread::yield();
  relay.detach();
  EXPECT_TRUE(finished);
  librdkafka_thread.join();
}

}  // namespace
}  // namespace cdc::kafka
