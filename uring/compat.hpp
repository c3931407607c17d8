// Constants and helpers newer than Debian 12's liburing 2.3, set by hand in one place.
// Values come from the kernel's include/uapi/linux/io_uring.h.
#pragma once

#include <liburing.h>

#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
/// kernel 6.13: io_uring_register's resize of the SQ and CQ (ring.hpp resize_cq)
inline constexpr unsigned ringbolt_register_resize_rings = 33;
#ifndef IORING_SETUP_NO_SQARRAY
#define IORING_SETUP_NO_SQARRAY (1U << 16) // kernel 6.6
#endif
#ifndef IORING_RECVSEND_BUNDLE
#define IORING_RECVSEND_BUNDLE (1U << 4) // kernel 6.10; not used yet
#endif
#ifndef IOU_PBUF_RING_INC
#define IOU_PBUF_RING_INC 2 // kernel 6.12: a ring's buffers consumed incrementally (recv_ring.hpp)
#endif
#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE (1U << 4) // kernel 6.12: the kernel goes on filling this completion's buffer
#endif
