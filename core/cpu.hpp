// CPU topology as the process sees it (affinity mask) and thread pinning.
#pragma once

#include <vector>

namespace ringbolt {

/// CPUs in this process's affinity mask, ascending.
std::vector<int> allowed_cpus();

/// Pin the calling thread to one CPU. Returns false (and leaves it unpinned) on failure.
bool pin_current_thread(int cpu) noexcept;

} // namespace ringbolt
