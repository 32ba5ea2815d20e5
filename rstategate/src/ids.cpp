#include "ids.hpp"

#include <chrono>
#include <random>

namespace reflex::rstategate::detail {

std::string uuid_v4() {
  // One generator per thread, seeded from the system's entropy source.
  thread_local std::mt19937_64 random = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  std::uint64_t high = random();
  std::uint64_t low = random();
  high = (high & ~0xF000ULL) | 0x4000ULL;            // version 4
  low = (low & ~(0xC0ULL << 56)) | (0x80ULL << 56);  // variant 10xx
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  const auto put = [&](std::uint64_t word, int from_nibble, int count) {
    for (int i = from_nibble; i < from_nibble + count; ++i) {
      out.push_back(kHex[(word >> (60 - 4 * i)) & 0xF]);
    }
  };
  put(high, 0, 8);
  out.push_back('-');
  put(high, 8, 4);
  out.push_back('-');
  put(high, 12, 4);
  out.push_back('-');
  put(low, 0, 4);
  out.push_back('-');
  put(low, 4, 12);
  return out;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace reflex::rstategate::detail
