"""Run a command under the seccomp filters a systemd unit file asks for, installed the way systemd
252 installs them (libseccomp, one filter per setting), for the tests: systemd is not PID 1 here.
- SystemCallFilter= (groups expanded by `systemd-analyze syscall-filter`): any other call kills the
  process with SIGSYS;
- MemoryDenyWriteExecute=yes: memory both writable and executable, or made executable later, fails
  with EPERM;
- RestrictAddressFamilies=: a socket of another family fails with EAFNOSUPPORT.
Run as root (the tests' user here), the chown calls are allowed too: SQLite gives its journal and
WAL files the database's owner when, and only when, it runs as root; the service has its own user.

    python tests/seccomp_exec.py UNIT_FILE COMMAND [ARG ...]
"""

from __future__ import annotations

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


def main() -> None:
    unit, command = Path(sys.argv[1]), sys.argv[2:]
    install(unit)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
