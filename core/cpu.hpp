// CPU topology as the process sees it (affinity mask) and thread pinning.
#pragma once

#include <vector>

namespace ringbolt::core {

/// CPUs in this process's affinity mask, ascending.
std::vector<int> allowed_cpus();

/// Pin the calling thread to one CPU. Returns false (and leaves it unpinned) on failure.
bool pin_current_thread(int cpu) noexcept;

/// Put the calling thread under SCHED_BATCH (nice level unchanged): the scheduler then
/// never lets its wake-ups preempt the thread running on its CPU; it runs when that
/// thread blocks or its time slice ends. 0, or the error number (policy unchanged).
int batch_schedule_current_thread() noexcept;

/// Name the calling thread `prefix` followed by `index` (the kernel keeps 15 bytes), as
/// ps -L, top and perf show it.
void name_current_thread(const char* prefix, unsigned index) noexcept;

} // namespace ringbolt::core
