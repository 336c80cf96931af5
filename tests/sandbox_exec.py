"""Run a command in a systemd unit file's sandbox, as far as it can be made without systemd (not
PID 1 on the test machines), set up the way systemd 252 does:
- ProtectSystem=strict (and so ProtectHome=read-only): in a mount namespace of its own (run this
  under `unshare -m --propagation private`), every mount read-only but /proc, /sys and /dev; then
  the --writable folders stand for StateDirectory=, CacheDirectory=, ReadWritePaths= and
  PrivateTmp=, and the --read-only ones (inside a writable one: the photos) stay read-only;
- SystemCallFilter= (groups expanded by `systemd-analyze syscall-filter`): any other call kills the
  process with SIGSYS;
- MemoryDenyWriteExecute=yes: memory both writable and executable, or made executable later, fails
  with EPERM;
- RestrictAddressFamilies=: a socket of another family fails with EAFNOSUPPORT.
Run as root (the tests' user here), the chown calls are allowed too: SQLite gives its journal and
WAL files the database's owner when, and only when, it runs as root; the service has its own user.

    unshare -m --propagation private python tests/sandbox_exec.py UNIT_FILE [--writable DIR]...
        [--read-only DIR]... -- COMMAND [ARG ...]
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import subprocess
import sys
from pathlib import Path

ACT_KILL_PROCESS = 0x80000000
ACT_ALLOW = 0x7FFF0000
EPERM, EAFNOSUPPORT = 1, 97
CMP_NE, CMP_MASKED_EQ = 1, 7
PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0x8000
FAMILIES = {"AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16, "AF_PACKET": 17}
# allowed by systemd whatever the filter says
IMPLICIT = {"execve", "exit", "exit_group", "getrlimit", "rt_sigreturn", "sigreturn"}
AS_ROOT = {"chown", "fchown", "fchownat", "lchown"}  # SQLite, as root only


def expand(item: str, seen: set[str] | None = None) -> set[str]:
    """A system call name, or every call of an @group (nested groups included)."""
    if not item.startswith("@"):
        return {item}
    seen = set() if seen is None else seen
    if item in seen:
        return set()
    seen.add(item)
    out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager", item],
                         check=True, capture_output=True, text=True).stdout
    names: set[str] = set()
    for line in out.splitlines()[1:]:
        word = line.strip()
        if word and not word.startswith("#"):
            names |= expand(word, seen)
    return names


def allowed_calls(unit: Path) -> set[str]:
    """The calls a unit's SystemCallFilter= lines allow (an allow list first, then ~ removals)."""
    allowed: set[str] | None = None
    for line in unit.read_text().splitlines():
        if not line.startswith("SystemCallFilter="):
            continue
        value = line.split("=", 1)[1].strip()
        deny = value.startswith("~")
        names = set().union(*(expand(w) for w in value.lstrip("~").split()))
        if deny:
            if allowed is None:
                raise SystemExit(f"{unit}: only deny lists; this helper needs an allow list first")
            allowed -= names
        else:
            allowed = names if allowed is None else allowed | names
    if allowed is None:
        raise SystemExit(f"{unit}: no SystemCallFilter=")
    return allowed | IMPLICIT | (AS_ROOT if os.geteuid() == 0 else set())


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]


class _Filter:
    def __init__(self, default: int) -> None:
        self.lib = lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2")
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                               ctypes.POINTER(_ArgCmp)]
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        self.ctx = lib.seccomp_init(default)  # the native architecture only (SystemCallArchitectures=native)

    def rule(self, action: int, name: str, *cmps: tuple[int, int, int, int]) -> None:
        number = self.lib.seccomp_syscall_resolve_name(name.encode())
        if number < 0:
            return  # not a call of this architecture
        array = (_ArgCmp * len(cmps))(*(_ArgCmp(*c) for c in cmps))
        if self.lib.seccomp_rule_add_array(self.ctx, action, number, len(cmps), array) != 0:
            raise SystemExit(f"seccomp_rule_add({name}) failed")

    def load(self) -> None:
        if self.lib.seccomp_load(self.ctx) != 0:
            raise SystemExit("seccomp_load failed")


def errno_action(number: int) -> int:
    return 0x00050000 | number


def settings(unit: Path) -> dict[str, str]:
    found = {}
    for line in unit.read_text().splitlines():
        key, eq, value = line.partition("=")
        if eq and not line.startswith("#"):
            found[key.strip()] = value.strip()
    return found


def install(unit: Path) -> None:
    options = settings(unit)
    if options.get("MemoryDenyWriteExecute") == "yes":
        wx = _Filter(ACT_ALLOW)
        wx.rule(errno_action(EPERM), "mmap", (2, CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, PROT_WRITE | PROT_EXEC))
        for name in ("mprotect", "pkey_mprotect"):
            wx.rule(errno_action(EPERM), name, (2, CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC))
        wx.rule(errno_action(EPERM), "shmat", (2, CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC))
        wx.load()
    families = options.get("RestrictAddressFamilies", "").split()
    if families and not families[0].startswith("~"):
        sockets = _Filter(ACT_ALLOW)
        if len(families) != 1:
            raise SystemExit(f"{unit}: this helper handles a single allowed address family")
        sockets.rule(errno_action(EAFNOSUPPORT), "socket", (0, CMP_NE, FAMILIES[families[0]], 0))
        sockets.load()
    calls = _Filter(ACT_KILL_PROCESS)  # last, as systemd does: it forbids seccomp() itself
    for name in allowed_calls(unit):
        calls.rule(ACT_ALLOW, name)
    calls.load()


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def protect_files(writable: list[str], read_only: list[str]) -> None:
    """Everything read-only but `writable` (and /proc, /sys, /dev), and `read_only` within them."""
    if os.readlink("/proc/self/ns/mnt") == os.readlink(f"/proc/{os.getppid()}/ns/mnt"):
        raise SystemExit("not in a mount namespace of its own: run this under unshare -m --propagation private")
    for path in writable + read_only:
        _mount("--bind", path, path)  # a mount of its own, which the remounts below leave alone
    keep = {os.path.realpath(p) for p in writable}
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for point in mounts:
        if point not in keep and not point.startswith(("/proc", "/sys", "/dev")):
            _mount("-o", "remount,bind,ro", point)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("unit", type=Path)
    parser.add_argument("--writable", action="append", default=[])
    parser.add_argument("--read-only", action="append", default=[])
    split = sys.argv.index("--")
    args, command = parser.parse_args(sys.argv[1:split]), sys.argv[split + 1:]
    if settings(args.unit).get("ProtectSystem") == "strict":
        protect_files([os.path.realpath(p) for p in args.writable], [os.path.realpath(p) for p in args.read_only])
    install(args.unit)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
