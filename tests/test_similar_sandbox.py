"""The nearest-neighbour index (above similar.EXACT_MAX photos) runs inside the system unit's sandbox:
its syscall filter and MemoryDenyWriteExecute=yes (where a JIT-compiling library, such as
pynndescent's numba, cannot allocate executable memory)."""

from __future__ import annotations

from test_systemd import UNIT, needs_root, pytestmark, sandboxed  # noqa: F401 (pytestmark: skip without systemd)

CODE = """
import numpy as np
from organizer.cluster import similar
similar.EXACT_MAX = 100  # the approximate path on a small set
rng = np.random.default_rng(4)
centres = rng.normal(size=(60, 1280))
x = centres[np.repeat(np.arange(60), 4)] + rng.normal(size=(240, 1280)) * 0.01
x /= np.linalg.norm(x, axis=1, keepdims=True)
groups = similar.find_similar(np.arange(240), x.astype(np.float16), sim=0.8, k=8, threads=2)
print(sorted(groups) == [tuple(range(4 * c, 4 * c + 4)) for c in range(60)])
"""


@needs_root
def test_similar_groups_through_the_index_in_the_system_units_sandbox() -> None:
    done = sandboxed(UNIT, CODE)
    assert (done.returncode, done.stdout) == (0, "True\n"), done.stderr

