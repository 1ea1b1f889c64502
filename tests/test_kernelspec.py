"""The 'simtlab' Jupyter kernel: spec files, installation, and a real kernel that starts."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from simtlab.cli.main import main
from simtlab.emulator.chips import get_active_chip, select_chip, use_chip
from simtlab.jupyter import banner, load_ipython_extension
from simtlab.jupyter.kernelspec import DISPLAY_NAME, kernel_spec, logo_png

REPO = Path(__file__).resolve().parent.parent
STATIC_SPEC = REPO / "platform" / "kernelspec" / "simtlab"


@pytest.fixture(autouse=True)
def _restore_active_chip():
    previous = get_active_chip()
    yield
    select_chip(previous)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_spec_content():
    spec = kernel_spec()
    assert spec["argv"] == ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}",
                            "--ext", "simtlab.jupyter"]
    assert spec["display_name"] == "Python 3 (simtlab, emulated GPU)" == DISPLAY_NAME
    assert spec["language"] == "python"


def test_static_kernelspec_folder_matches_generated_spec():
    assert json.loads((STATIC_SPEC / "kernel.json").read_text()) == kernel_spec()
    for size in (32, 64):
        assert _png_size((STATIC_SPEC / f"logo-{size}x{size}.png").read_bytes()) == (size, size)
        assert _png_size(logo_png(size)) == (size, size)


class _FakeShell:
    """The two things the extension uses from an InteractiveShell."""

    def __init__(self) -> None:
        self.user_ns: dict[str, object] = {}
        self.banner2 = ""

    def push(self, names: dict[str, object]) -> None:
        self.user_ns.update(names)


def test_extension_pushes_np_and_prints_banner_naming_the_active_chip(capsys):
    shell = _FakeShell()
    with use_chip("h100"):
        load_ipython_extension(shell)
        expected = banner()
    out = capsys.readouterr().out
    assert expected in out and expected in shell.banner2
    assert "emulated 'h100' chip (132 SMs, cc 9.0)" in expected
    import numpy

    assert shell.user_ns["np"] is numpy
    assert shell.user_ns["cuda"].__name__ == "simtlab.emulator.cuda"


def _find_kernel_dir(tmp_path: Path) -> Path:
    return tmp_path / "share" / "jupyter" / "kernels" / "simtlab"


def test_install_into_prefix_is_found_by_jupyter_client(tmp_path, monkeypatch):
    assert main(["kernel", "install", "--prefix", str(tmp_path)]) == 0
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    assert Path(specs["simtlab"]) == _find_kernel_dir(tmp_path)
    spec = KernelSpecManager().get_kernel_spec("simtlab")
    assert spec.display_name == DISPLAY_NAME
    assert spec.argv[-2:] == ["--ext", "simtlab.jupyter"]
    assert (_find_kernel_dir(tmp_path) / "logo-64x64.png").is_file()


def _execute(client, code: str) -> tuple[str, str]:
    """Run `code` in the kernel; return (status, stdout + stderr + error text)."""
    chunks: list[str] = []

    def hook(msg: dict) -> None:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            chunks.append(content["text"])
        elif kind == "error":
            chunks.append(f"{content['ename']}: {content['evalue']}")

    reply = client.execute_interactive(code, output_hook=hook, timeout=60)
    return reply["content"]["status"], "".join(chunks)


def test_kernel_starts_with_cuda_np_and_banner(tmp_path, monkeypatch):
    assert main(["kernel", "install", "--prefix", str(tmp_path)]) == 0
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="simtlab")
    km.start_kernel()
    client = km.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=90)

        msg_id = client.kernel_info()
        reply = client.get_shell_msg(timeout=30)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = client.get_shell_msg(timeout=30)
        expected = "simtlab: kernels run on the emulated 'teaching' chip (4 SMs, cc 8.0)"
        assert expected in reply["content"]["banner"]

        status, out = _execute(client, "print(np.__name__, np.arange(3).sum())")
        assert (status, out.strip()) == ("ok", "numpy 3")

        status, out = _execute(client, "print(cuda.__name__)")
        assert (status, out.strip()) == ("ok", "simtlab.emulator.cuda")
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)
