"""Run a command with io_uring_setup denied by a seccomp filter (as Docker >= 25 does),
to test that ringbolt names the cause instead of crashing. SECCOMP_DENY=<name> denies
another system call of SYSCALLS instead (sched_setscheduler: a container that refuses
SCHED_BATCH). x86_64 only."""

import ctypes
import os
import sys

SYSCALLS = {"io_uring_setup": 425, "sched_setscheduler": 144}  # x86_64
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
EPERM = 1


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(SockFilter))]


def deny(nr: int) -> None:
    prog = (SockFilter * 4)(
        SockFilter(0x20, 0, 0, 0),  # ld [nr]
        SockFilter(0x15, 0, 1, nr),  # jeq nr
        SockFilter(0x06, 0, 0, SECCOMP_RET_ERRNO | EPERM),
        SockFilter(0x06, 0, 0, SECCOMP_RET_ALLOW),
    )
    fprog = SockFprog(len(prog), prog)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")


if __name__ == "__main__":
    deny(SYSCALLS[os.environ.get("SECCOMP_DENY", "io_uring_setup")])
    os.execvp(sys.argv[1], sys.argv[1:])
