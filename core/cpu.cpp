// sched_getaffinity/pthread_setaffinity_np wrappers.
#include "core/cpu.hpp"

#include <cstdio>
#include <pthread.h>
#include <sched.h>

namespace ringbolt::core {

std::vector<int> allowed_cpus() {
    std::vector<int> cpus;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        for (int i = 0; i < CPU_SETSIZE; ++i) {
            if (CPU_ISSET(i, &set)) {
                cpus.push_back(i);
            }
        }
    }
    if (cpus.empty()) {
        cpus.push_back(0);
    }
    return cpus;
}

bool pin_current_thread(int cpu) noexcept {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

int batch_schedule_current_thread() noexcept {
    sched_param param{};
    param.sched_priority = 0; // the only priority SCHED_BATCH takes
    return pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
}

void name_current_thread(const char* prefix, unsigned index) noexcept {
    char name[16]; // the kernel's limit, with the terminating NUL: snprintf cuts to it
    std::snprintf(name, sizeof(name), "%s%u", prefix, index);
    pthread_setname_np(pthread_self(), name);
}

} // namespace ringbolt::core
