// Reactor threads, their listeners, start-up and shutdown.
#include "server/server.hpp"

#include <malloc.h>

#include "core/cpu.hpp"
#include "core/large_buffers.hpp"
#include "core/log.hpp"
#include "quic/steering.hpp"
#include "uring/listener.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <future>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

namespace ringbolt::server {

namespace {

// Each connection is a descriptor, and the usual soft limit (1024) is far below what a
// server holds; the hard limit is what the administrator allows. Once per process
// (workers inherit it across fork).
void raise_nofile_limit() noexcept {
    static std::atomic<bool> done{false};
    if (done.exchange(true)) {
        return;
    }
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
        return;
    }
    rlim_t want = lim.rlim_max;
    if (want == RLIM_INFINITY) {
        // The kernel refuses a soft limit above fs.nr_open, whatever the hard limit says.
        want = 1 << 20;
        if (FILE* f = std::fopen("/proc/sys/fs/nr_open", "r")) {
            unsigned long long nr_open = 0;
            if (std::fscanf(f, "%llu", &nr_open) == 1 && nr_open > 0) {
                want = static_cast<rlim_t>(nr_open);
            }
            std::fclose(f);
        }
    }
    rlim_t before = lim.rlim_cur;
    if (before >= want) {
        core::log(core::log_level::debug, "RLIMIT_NOFILE soft limit %llu (already the hard limit)",
                  static_cast<unsigned long long>(before));
        return;
    }
    lim.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
        core::log(core::log_level::debug, "RLIMIT_NOFILE soft limit stays %llu: raising it to %llu failed: %s",
                  static_cast<unsigned long long>(before), static_cast<unsigned long long>(want), std::strerror(errno));
        return;
    }
    core::log(core::log_level::debug, "RLIMIT_NOFILE soft limit raised from %llu to %llu",
              static_cast<unsigned long long>(before), static_cast<unsigned long long>(want));
}

/// The reactors' UDP sockets for --http3, reactor i's at h3.sockets[i]: the supervisor's
/// (inherited_fds, duplicated: a worker that exits never closes its slot's sockets), or
/// `n` bound here in reactor order with the steering program on the group, so a
/// connection's packets reach the reactor whose position its connection ID carries. Where
/// the kernel refuses the program, the kernel's 4-tuple hash spreads them (said once). An
/// error message, or empty.
std::string open_quic_sockets(const std::string& host, uint16_t port, unsigned n, http3_config& h3) {
    uring::datagram_options opts;
    opts.reuseport = true;
    opts.gro = true;
    opts.receive_buffer = quic_receive_buffer;
    if (!h3.inherited_fds.empty()) {
        if (h3.inherited_fds.size() != n) {
            return "HTTP/3: " + std::to_string(h3.inherited_fds.size()) + " inherited UDP sockets for " +
                   std::to_string(n) + " reactors";
        }
        for (int inherited : h3.inherited_fds) {
            int fd = ::fcntl(inherited, F_DUPFD_CLOEXEC, 0);
            core::result<uring::datagram_socket> s =
                fd >= 0 ? uring::adopt_datagram_socket(fd, opts)
                        : core::result<uring::datagram_socket>(core::errc::system, errno);
            if (!s.ok()) {
                if (fd >= 0) {
                    ::close(fd);
                }
                return std::string("HTTP/3: inherited UDP socket: ") + std::strerror(s.sys_errno());
            }
            h3.sockets.push_back(s.value());
        }
        return {};
    }
    core::result<std::vector<uring::datagram_socket>> group = uring::open_datagram_group(host, port, n, opts);
    if (!group.ok()) {
        return "HTTP/3: cannot open UDP " + host + ":" + std::to_string(port) + ": " + std::strerror(group.sys_errno());
    }
    h3.sockets = std::move(group.value());
    h3.first_position = 0;
    // One socket has nothing to steer, and the program costs the kernel some 30 ns a
    // datagram (benchmarks/load/quic_steer_cost.py).
    if (n > 1) {
        if (core::result<void> rc = quic::attach_steering(h3.sockets.front().fd, n); !rc.ok()) {
            core::log(core::log_level::warning,
                      "HTTP/3: the kernel refused the steering program (%s): the kernel spreads UDP packets over the "
                      "reactors by address hash",
                      std::strerror(rc.sys_errno()));
        }
    }
    return {};
}

/// glibc's malloc: what is allocated in the heap (not a mapping of its own), and the free
/// top of a heap kept rather than given back at once
constexpr int mmap_threshold_bytes = 8 << 20;
constexpr int trim_threshold_bytes = 32 << 20;

} // namespace

server::server(server_config config, std::shared_ptr<const dispatch::app_routes> routes, app_handler& app)
    : _config(std::move(config)), _routes(std::move(routes)), _app(app) {}

server::~server() {
    stop();
    join();
}

core::result<void> server::start() {
    // A large body the interpreter or pydantic-core allocates (an answer's bytes, a JSON
    // document) reuses the heap memory the last one freed, up to mmap_threshold_bytes:
    // a fresh mapping each was some 750 page faults per 1.3 MB answer
    // (test_large_answers.py). Freed memory stays in the heap up to trim_threshold_bytes;
    // the reactor's tick gives back what a burst freed (reactor_timers.cpp).
    mallopt(M_MMAP_THRESHOLD, mmap_threshold_bytes);
    mallopt(M_TRIM_THRESHOLD, trim_threshold_bytes);
    raise_nofile_limit();
    std::vector<int> cpus = core::allowed_cpus();
    unsigned n = _config.threads != 0 ? _config.threads : static_cast<unsigned>(cpus.size());
    _config.host_loop = _config.host_loop && n == 1; // several reactors hand over to one loop thread
    if (_config.http3.enabled) {
        if (!_config.http3.credentials) {
            _error = "HTTP/3 needs a certificate and key (--ssl-certfile, --ssl-keyfile)";
            return {core::errc::bind_failed, EINVAL};
        }
        // Shared by the reactors: a Retry token or stateless reset made by one is good on
        // another (a supervisor gives its workers one secret).
        const auto& secret = _config.http3.secret;
        while (std::all_of(secret.begin(), secret.end(), [](uint8_t b) { return b == 0; }) &&
               getrandom(_config.http3.secret.data(), secret.size(), 0) != static_cast<ssize_t>(secret.size())) {
        }
        if (_config.http3.first_position + n > quic::max_steered_sockets) {
            _error = "HTTP/3: at most " + std::to_string(quic::max_steered_sockets) +
                     " reactors in all (workers x threads): a connection ID's first byte names each";
            return {core::errc::invalid_argument, EINVAL};
        }
        _config.http3.settings.max_concurrent_streams = static_cast<uint32_t>(_config.http3.transport.max_streams_bidi);
        _config.http3.settings.stream_window = _config.http3.transport.stream_window;
    }

    // Probe once, in this thread: pick the backend and say why.
    bool use_epoll = _config.io == "epoll";
    if (use_epoll) {
        _io_description = "epoll (requested)";
    } else {
        core::result<uring::ring_features> probe = uring::probe_io_uring(_config.host_loop);
        if (probe.ok()) {
            _io_description = probe.value().tier;
            // The byte limit only where the kernel has it (6.17+): a kernel before refuses
            // each recv armed with it (EINVAL). The backend falls back on the first refusal,
            // but the recvs armed before that refusal came back failed too: on 6.1 a second
            // connection accepted in the same turn as the first was reset mid-handshake.
            _config.recv_byte_limit = _config.recv_byte_limit && probe.value().recv_limit;
            _config.incremental_buffers = _config.incremental_buffers && probe.value().incremental_buffers;
        } else {
            std::string why = uring::describe_setup_failure(probe.sys_errno());
            if (_config.io == "io_uring") {
                _error = why;
                return {probe.error(), probe.sys_errno()};
            }
            core::log(core::log_level::warning, "%s; falling back to epoll", why.c_str());
            _io_description = "epoll (fallback: " + why + ")";
            use_epoll = true;
        }
    }

    if (_config.host_loop) {
        _io_description += ", event loop on the reactor thread"; // its ring probed as shared
    }
    uint16_t port = _config.port;
    std::vector<int> fds;
    for (unsigned i = 0; i < n && !_config.listen_fds.empty(); ++i) {
        int fd = ::fcntl(_config.listen_fds[i % _config.listen_fds.size()], F_DUPFD_CLOEXEC, 0);
        if (fd < 0) {
            _error = std::string("inherited listener: ") + std::strerror(errno);
            for (int f : fds) {
                ::close(f);
            }
            return {core::errc::bind_failed, errno};
        }
        // Non-blocking for good: the drain's sweep of the accept queue toggles O_NONBLOCK
        // otherwise, and that flag lives in the open file description that every dup (other
        // reactors, other workers) shares, so a sweep restoring "blocking" could leave another
        // reactor's sweep blocked in accept4 for ever.
        if (int flags = ::fcntl(fd, F_GETFL); flags >= 0 && !(flags & O_NONBLOCK)) {
            ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        }
        fds.push_back(fd);
        port = uring::local_port(fd);
    }
    if (_config.listen_fds.empty()) {
        core::result<std::vector<int>> opened = uring::open_listeners(_config.host, port, n, _config.backlog);
        if (!opened.ok()) {
            _error = uring::describe_listen_failure(_config.host, port, opened.sys_errno());
            return {opened.error(), opened.sys_errno()};
        }
        fds = std::move(opened.value());
        port = uring::local_port(fds.front());
    }
    _port = port;
    if (_config.http3.enabled && port == 0) {
        for (int f : fds) {
            ::close(f);
        }
        _error = "HTTP/3 needs a TCP listener (host and port): QUIC serves the UDP port of its number, and a unix "
                 "socket has none";
        return {core::errc::bind_failed, EINVAL};
    }
    if (_config.http3.enabled) {
        if (std::string why = open_quic_sockets(_config.host, port, n, _config.http3); !why.empty()) {
            for (int f : fds) {
                ::close(f);
            }
            for (const uring::datagram_socket& d : _config.http3.sockets) {
                ::close(d.fd);
            }
            _config.http3.sockets.clear();
            _error = why;
            return {core::errc::bind_failed, EADDRINUSE};
        }
        // RFC 7838: TCP answers name the UDP port of the same number, where each reactor
        // serves QUIC (reactor_quic.cpp).
        _config.fields.extra += "Alt-Svc: h3=\":" + std::to_string(port) + "\"; ma=86400\r\n";
    }

    for (const auto& t : _routes->targets) {
        _metrics_on = _metrics_on || t.kind == dispatch::target_kind::metrics;
    }
    std::vector<std::promise<std::string>> ready(n);
    for (unsigned i = 0; i < n; ++i) {
        int cpu = cpus[(i + static_cast<unsigned>(_config.cpu_offset)) % cpus.size()];
        _reactors.push_back(std::make_unique<reactor>(i, _config, *_routes, _app, fds[i], cpu, use_epoll, &_app_pending,
                                                      _metrics_on ? this : nullptr));
        if (_request_limit.active()) {
            _reactors.back()->count_requests_towards(&_request_limit);
        }
    }
    for (unsigned i = 0; i < n; ++i) {
        reactor* r = _reactors[i].get();
        std::promise<std::string>* p = &ready[i];
        _threads.emplace_back([this, r, p] {
            struct exit_notice {
                server* s;
                ~exit_notice() {
                    std::lock_guard<std::mutex> lock(s->_exit_mutex);
                    ++s->_exited;
                    s->_exit_cv.notify_all();
                }
            } notice{this};
            core::result<void> rc = r->setup();
            if (!rc.ok()) {
                std::string why = rc.error() == core::errc::io_uring_blocked
                                      ? uring::describe_setup_failure(rc.sys_errno())
                                      : std::string(core::errc_name(rc.error())) + ": " + std::strerror(rc.sys_errno());
                p->set_value(why);
                return;
            }
            p->set_value({});
            r->run();
        });
    }
    for (unsigned i = 0; i < n; ++i) {
        std::string why = ready[i].get_future().get();
        if (!why.empty() && _error.empty()) {
            _error = "reactor " + std::to_string(i) + ": " + why;
        }
    }
    if (!_error.empty()) {
        stop();
        join();
        return {core::errc::io_uring_setup};
    }
    return {};
}

void server::stop() noexcept {
    for (auto& r : _reactors) {
        r->request_stop();
    }
}

bool server::wait_exit(int ms) {
    std::unique_lock<std::mutex> lock(_exit_mutex);
    return _exit_cv.wait_for(lock, std::chrono::milliseconds(ms), [this] { return _exited >= _threads.size(); });
}

void server::join() {
    for (auto& t : _threads) {
        if (t.joinable()) {
            t.join();
        }
    }
    _threads.clear();
    // The reactors' last lines reach stderr before the caller moves on (a worker process
    // leaves with _exit, which runs no atexit handler).
    core::log_flush(2000);
}

} // namespace ringbolt::server

namespace ringbolt::server {

namespace {
void append_label_value(std::string& out, std::string_view v) {
    for (char c : v) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
        } else if (c == '\n') {
            out.append("\\n");
            continue;
        }
        out.push_back(c);
    }
}
} // namespace

void server::render(std::string& out) const {
    char buf[128];
#define RINGBOLT_RENDER(name)                                                                                          \
    {                                                                                                                  \
        bool gauge = std::string_view(#name) == "connections_open" || std::string_view(#name) == "app_queue_depth" ||  \
                     std::string_view(#name) == "recv_buffer_bytes" || std::string_view(#name) == "cq_entries";        \
        out += "# TYPE ringbolt_" #name;                                                                               \
        out += gauge ? " gauge\n" : "_total counter\n";                                                                \
        for (const auto& r : _reactors) {                                                                              \
            std::snprintf(buf, sizeof(buf), "ringbolt_%s%s{core=\"%u\"} %llu\n", #name, gauge ? "" : "_total",         \
                          r->index(), static_cast<unsigned long long>(r->counters().name.get()));                      \
            out += buf;                                                                                                \
        }                                                                                                              \
    }
    RINGBOLT_CORE_COUNTERS(RINGBOLT_RENDER)
#undef RINGBOLT_RENDER
    if (_config.http3.enabled) {
#define RINGBOLT_RENDER_QUIC(name)                                                                                     \
    {                                                                                                                  \
        bool gauge = std::string_view(#name) == "quic_half_open";                                                      \
        out += "# TYPE ringbolt_" #name;                                                                               \
        out += gauge ? " gauge\n" : "_total counter\n";                                                                \
        for (const auto& r : _reactors) {                                                                              \
            if (const quic_counters* q = r->quic_stats()) {                                                            \
                std::snprintf(buf, sizeof(buf), "ringbolt_%s%s{core=\"%u\"} %llu\n", #name, gauge ? "" : "_total",     \
                              r->index(), static_cast<unsigned long long>(q->name.get()));                             \
                out += buf;                                                                                            \
            }                                                                                                          \
        }                                                                                                              \
    }
        RINGBOLT_QUIC_COUNTERS(RINGBOLT_RENDER_QUIC)
#undef RINGBOLT_RENDER_QUIC
    }
    std::snprintf(buf, sizeof(buf),
                  "# TYPE ringbolt_log_lines_dropped_total counter\nringbolt_log_lines_dropped_total %llu\n",
                  static_cast<unsigned long long>(core::log_dropped()));
    out += buf;
    std::snprintf(buf, sizeof(buf), "# TYPE ringbolt_large_buffers_bytes gauge\nringbolt_large_buffers_bytes %llu\n",
                  static_cast<unsigned long long>(core::large_buffers::kept_bytes()));
    out += buf;
    out += "# TYPE ringbolt_request_duration_seconds histogram\n";
    for (size_t route = 0; route < _routes->targets.size(); ++route) {
        const auto& target = _routes->targets[route];
        if (target.kind == dispatch::target_kind::metrics) {
            continue;
        }
        uint64_t cumulative = 0;
        uint64_t sum_ns = 0;
        uint64_t count = 0;
        for (size_t b = 0; b <= core::latency_bucket_us.size(); ++b) {
            uint64_t n = 0;
            for (const auto& r : _reactors) {
                if (const core::latency_histogram* h = r->route_latency()) {
                    n += h[route].buckets[b].get();
                    if (b == 0) {
                        sum_ns += h[route].sum_ns.get();
                        count += h[route].count.get();
                    }
                }
            }
            cumulative += n;
            out += "ringbolt_request_duration_seconds_bucket{route=\"";
            append_label_value(out, target.pattern);
            if (b < core::latency_bucket_us.size()) {
                std::snprintf(buf, sizeof(buf), "\",le=\"%g\"} %llu\n", core::latency_bucket_us[b] / 1e6,
                              static_cast<unsigned long long>(cumulative));
            } else {
                std::snprintf(buf, sizeof(buf), "\",le=\"+Inf\"} %llu\n", static_cast<unsigned long long>(cumulative));
            }
            out += buf;
        }
        out += "ringbolt_request_duration_seconds_sum{route=\"";
        append_label_value(out, target.pattern);
        std::snprintf(buf, sizeof(buf), "\"} %.9f\n", static_cast<double>(sum_ns) / 1e9);
        out += buf;
        out += "ringbolt_request_duration_seconds_count{route=\"";
        append_label_value(out, target.pattern);
        std::snprintf(buf, sizeof(buf), "\"} %llu\n", static_cast<unsigned long long>(count));
        out += buf;
    }
}

} // namespace ringbolt::server
