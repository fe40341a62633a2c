//===- Random.h - The runtime's seeded generator -----------------*- C++ -*-===//
//
// xoshiro256** seeded through splitmix64: fast, with a 256-bit state that a
// checkpoint saves so that a resumed run shuffles as the uninterrupted one.
// Everything random in a run (initialisation, shuffling, the per-step seeds
// that drive dropout) is derived from the run's one seed, never from time.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_RANDOM_H
#define NET_RUNTIME_RANDOM_H

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

namespace netc::runtime {

/// splitmix64: a good 64-bit mix, used to seed and to derive seeds.
inline uint64_t splitMix64(uint64_t &x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// A seed for one purpose (`stream`) and one index (a step, a parameter).
inline uint64_t deriveSeed(uint64_t seed, uint64_t stream, uint64_t index) {
  uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);
  splitMix64(x);
  x ^= index * 0x9e3779b97f4a7c15ull;
  return splitMix64(x);
}

class Random {
public:
  using State = std::array<uint64_t, 4>;

  explicit Random(uint64_t seed = 0) { reseed(seed); }
  void reseed(uint64_t seed) {
    for (uint64_t &word : s)
      word = splitMix64(seed);
  }
  const State &state() const { return s; }
  void setState(const State &state) { s = state; }

  uint64_t next() {
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
  /// Uniform integer in [0, bound), without modulo bias (Lemire's method).
  uint64_t below(uint64_t bound) {
    unsigned __int128 m = (unsigned __int128)next() * bound;
    uint64_t low = uint64_t(m);
    if (low < bound) {
      uint64_t threshold = -bound % bound;
      while (low < threshold) {
        m = (unsigned __int128)next() * bound;
        low = uint64_t(m);
      }
    }
    return uint64_t(m >> 64);
  }
  /// Standard normal (Box-Muller, one value per call).
  double normal() {
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300)
      u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  /// Fisher-Yates.
  template <typename T> void shuffle(std::vector<T> &values) {
    for (size_t i = values.size(); i > 1; --i)
      std::swap(values[i - 1], values[below(i)]);
  }

private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  State s;
};

} // namespace netc::runtime

#endif // NET_RUNTIME_RANDOM_H
