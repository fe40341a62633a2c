//===- cudaemu/Launch.h - graphs, events, barriers and launches ---*- C++ -*-===//
//
// A captured graph, an event, __syncthreads, and the launch that
// rewrite_launches.py makes of `kernel<<<...>>>(...)`.
// A part of the emulated cuda_runtime.h, which includes its parts in order
// after the standard headers and the sanitizers' macros; not included alone.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_CUDAEMU_LAUNCH_H
#define NETC_CUDAEMU_LAUNCH_H

namespace cudaemu {

/// A captured sequence of launches.
struct Graph {
  std::vector<std::function<void()>> launches;
};

struct Event {
  std::chrono::steady_clock::time_point at;
};

NETC_CUDAEMU_NO_RACECHECK inline void syncthreads() {
  detail::State &s = detail::state();
  if (!s.fiber)
    detail::barrierAfterThreadZeroEnded();
  s.barrierSeen = true;
  detail::releaseTo(s.barrierArrive);
  detail::toHost(s.fiber);
  detail::acquireFrom(s.barrierLeave);
}

/// The launch `kernel<<<grid, block, shared, stream>>>`: called with the
/// kernel's arguments, converts them to its parameters (by value, as a GPU
/// does), then runs the grid, or records it while a stream is captured.
template <typename... Params> struct Launch {
  void (*kernel)(Params...);
  const char *name;
  dim3 grid, block;

  template <typename... Args> void operator()(Args &&...args) const {
    static_assert(sizeof...(Args) == sizeof...(Params), "a launch with the wrong argument count");
    if (!detail::validLaunch(grid, block)) {
      detail::fail(cudaErrorInvalidConfiguration);
      return;
    }
    std::tuple<std::decay_t<Params>...> values(std::forward<Args>(args)...);
    auto *fn = kernel;
    const char *label = name;
    const dim3 g = grid, b = block;
    auto run = [fn, label, g, b, values] {
      detail::runGrid(label, g, b, [&] { std::apply(fn, values); });
    };
    detail::State &s = detail::state();
    if (s.capturing)
      s.capturing->launches.push_back(run);
    else
      run();
  }
};

template <typename... Params>
Launch<Params...> launch(void (*kernel)(Params...), const char *name, dim3 grid, dim3 block,
                         std::size_t /*shared*/ = 0, cudaStream_t /*stream*/ = nullptr) {
  return Launch<Params...>{kernel, name, grid, block};
}

} // namespace cudaemu

#endif // NETC_CUDAEMU_LAUNCH_H
