"""simtlab's Jupyter side (`simtlab.jupyter`): the IPython extension the 'simtlab' kernel loads.

The kernelspec starts ipykernel with ``--ext simtlab.jupyter``, which calls
`load_ipython_extension`: it puts ``cuda`` (the emulator's drop-in for ``numba.cuda``) and
``np`` into the notebook's namespace and prints a banner naming the active chip. It can also
be loaded into any IPython session with ``%load_ext simtlab.jupyter``.

Nothing is imported at module level beyond the standard library, so tools that only need
`simtlab.jupyter.kernelspec` (``simtlab kernel install``) stay light.
"""

from __future__ import annotations

import sys
from typing import Any


def banner() -> str:
    """One line naming the active chip, shown when the kernel starts."""
    from simtlab.emulator.chips import get_active_chip

    chip = get_active_chip()
    return (f"simtlab: kernels run on the emulated '{chip.name}' chip "
            f"({chip.sm_count} SMs, cc {chip.cc_string}) — %simt for help")


def load_ipython_extension(ipython: Any) -> None:
    """Make ``cuda`` and ``np`` available and print the banner (IPython extension hook).

    If the emulator fails to import, the notebook still starts (with ``np``) and says why on
    stderr, rather than leaving students in a kernel that died during start-up.
    """
    import numpy as np

    names: dict[str, Any] = {"np": np}
    try:
        from simtlab.emulator import cuda
    except Exception as exc:  # report, do not kill the kernel
        print(f"simtlab: the emulator could not be loaded, `cuda` is unavailable "
              f"({type(exc).__name__}: {exc})", file=sys.stderr)
    else:
        names["cuda"] = cuda
    ipython.push(names)

    text = banner()
    # The frontend shows the kernel_info banner (e.g. a JupyterLab console); notebooks show
    # nothing at start-up, so the line is printed as well for terminals and logs.
    if text not in (ipython.banner2 or ""):
        ipython.banner2 = f"{ipython.banner2}\n{text}" if ipython.banner2 else text
    print(text)
