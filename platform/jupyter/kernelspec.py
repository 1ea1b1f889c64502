"""The 'simtlab' Jupyter kernelspec: ipykernel with the `simtlab.jupyter` extension loaded.

The spec is generated here, in code, and installed with jupyter_client's
`KernelSpecManager.install_kernel_spec` from a temporary folder. That works for editable
installs too, where setuptools data-files never arrive. ``platform/kernelspec/simtlab/`` holds
the same files for tools that want them on disk; regenerate it with::

    python -m simtlab.jupyter.kernelspec platform/kernelspec/simtlab

``argv`` starts with ``"python"`` by default: jupyter_client replaces that with the interpreter
of the environment that launches the kernel, so one spec serves every virtual environment.
``absolute_python=True`` writes this interpreter's path instead, for a Jupyter server that runs
in another environment than simtlab.

Only the install/uninstall functions import jupyter_client, and only when called.
"""

from __future__ import annotations

import json
import struct
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any

KERNEL_NAME = "simtlab"
DISPLAY_NAME = "Python 3 (simtlab, emulated GPU)"
EXTENSION = "simtlab.jupyter"
LOGO_SIZES = (32, 64)


def kernel_spec(*, absolute_python: bool = False, display_name: str | None = None) -> dict[str, Any]:
    """The kernel.json content."""
    python = sys.executable if absolute_python else "python"
    return {
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--ext", EXTENSION],
        "display_name": display_name or DISPLAY_NAME,
        "language": "python",
        "metadata": {"debugger": True},
    }


def logo_png(size: int) -> bytes:
    """A size x size RGBA PNG: one warp as 8 x 4 lanes, the last lanes idle (divergence).

    Drawn in code (no image library needed) so the logo can be written wherever the spec goes.
    """
    background, lane, idle = (30, 41, 59, 255), (45, 212, 191, 255), (71, 85, 105, 255)
    margin = max(1, size // 10)
    inner = size - 2 * margin
    gap = max(1, size // 32)
    cols, rows = 8, 4
    pixels = [[background] * size for _ in range(size)]
    for r in range(rows):
        for c in range(cols):
            x0 = margin + c * inner // cols
            x1 = margin + (c + 1) * inner // cols - gap
            y0 = margin + r * inner // rows
            y1 = margin + (r + 1) * inner // rows - gap
            color = idle if (r * cols + c) >= 26 else lane
            for y in range(y0, max(y0 + 1, y1)):
                for x in range(x0, max(x0 + 1, x1)):
                    pixels[y][x] = color
    raw = b"".join(b"\x00" + b"".join(bytes(p) for p in row) for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def write_kernelspec_dir(directory: str | Path, *, absolute_python: bool = False,
                         display_name: str | None = None) -> Path:
    """Write kernel.json and the logos into `directory` (created if needed); return it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    spec = kernel_spec(absolute_python=absolute_python, display_name=display_name)
    (directory / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
    for size in LOGO_SIZES:
        (directory / f"logo-{size}x{size}.png").write_bytes(logo_png(size))
    return directory


def install_kernelspec(*, user: bool = False, prefix: str | None = None, kernel_name: str = KERNEL_NAME,
                       absolute_python: bool = False, display_name: str | None = None) -> str:
    """Install the kernelspec and return the folder it was installed to.

    `user` installs into the user's Jupyter data folder, `prefix` into
    ``PREFIX/share/jupyter/kernels`` (``sys.prefix`` for this environment); neither means the
    system-wide folder. An existing spec of the same name is replaced.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    with tempfile.TemporaryDirectory() as tmp:
        source = write_kernelspec_dir(Path(tmp) / kernel_name, absolute_python=absolute_python,
                                      display_name=display_name)
        return KernelSpecManager().install_kernel_spec(str(source), kernel_name=kernel_name, user=user,
                                                       prefix=prefix)


def uninstall_kernelspec(kernel_name: str = KERNEL_NAME) -> str:
    """Remove an installed kernelspec (the first one Jupyter finds) and return its folder."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        return KernelSpecManager().remove_kernel_spec(kernel_name)
    except (NoSuchKernel, KeyError):
        raise ValueError(f"no kernelspec named {kernel_name!r} is installed") from None


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "platform/kernelspec/simtlab")
    print(write_kernelspec_dir(target))
