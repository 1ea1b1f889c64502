"""The ``simtlab`` command line: chips, bench pass-through, kernel install flags, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from simtlab.cli import bench
from simtlab.cli.main import main
from simtlab.emulator.chips import PRESETS, get_active_chip, list_chips, load_chip, select_chip

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _restore_active_chip():
    previous = get_active_chip()
    yield
    select_chip(previous)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simtlab.cli.main", *args], capture_output=True, text=True,
                          timeout=120)


def test_chips_table_names_every_preset_and_marks_the_active_one(capsys):
    select_chip("h100")
    assert main(["chips"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for chip in list_chips():
        row = next(line for line in lines if f" {chip.name} " in line)
        assert chip.display_name in row and chip.cc_string in row
        assert row.startswith("*") == (chip.name == "h100")
    assert "228 KiB" in out and "50 MiB" in out and "3350 GB/s" in out
    assert main(["chips", "list"]) == 0


def test_chips_show_every_field_with_units(capsys):
    assert main(["chips", "show", "a100"]) == 0
    out = capsys.readouterr().out
    from simtlab.emulator.chips import LATENCIES, PIPES, SCHEMA

    for key in [s.key for s in SCHEMA] + [f"pipes.{p}" for p in PIPES] + [f"latency.{k}" for k in LATENCIES]:
        assert key in out, key
    assert "167936 bytes (164 KiB)" in out
    assert "1410 MHz" in out and "1555 GB/s" in out
    assert "tensor.flops_per_cycle_per_sm.float16" in out
    assert str(load_chip("a100").source) in out


def test_chips_show_accepts_a_file(tmp_path, capsys):
    path = tmp_path / "mine.toml"
    path.write_text('extends = "teaching"\nname = "mine"\ndisplay_name = "My chip"\nsm_count = 2\n')
    assert main(["chips", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("mine: My chip") and "sm_count" in out


def test_bad_chip_name_exits_2_with_one_line(capsys):
    assert main(["chips", "show", "b200"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert captured.out == ""
    assert len(err.splitlines()) == 1
    assert "b200" in err and all(name in err for name in PRESETS)
    assert "Traceback" not in err


def test_broken_chip_file_exits_2_naming_the_field(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('extends = "a100"\nname = "bad"\ndisplay_name = "bad"\n[shared]\nbanks = 0\n')
    assert main(["chips", "show", str(path)]) == 2
    err = capsys.readouterr().err
    assert "shared.banks" in err and str(path) in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [["frobnicate"], ["chips", "show"], ["kernel"], ["kernel", "install", "--user", "--sys-prefix"]],
)
def test_usage_errors_exit_2_with_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error" in err and "--help" in err


def test_help_and_version_exit_0(capsys):
    assert main(["--help"]) == 0
    assert "chips" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("simtlab ")
    assert main([]) == 0


def test_subprocess_chips_and_error():
    ok = _cli("chips")
    assert ok.returncode == 0, ok.stderr
    for name in PRESETS:
        assert f" {name} " in ok.stdout
    bad = _cli("chips", "show", "nope")
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
    assert "valid presets are" in bad.stderr


def test_chips_command_does_not_import_jupyter():
    code = ("import sys, io, contextlib; from simtlab.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): rc = main(['chips'])\n"
            "print(rc, sorted(m for m in sys.modules if m.split('.')[0] in "
            "('IPython', 'ipykernel', 'jupyter_client', 'jupyter_core')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=120)
    assert out.stdout.strip() == "0 []"


# ---------------------------------------------------------------------------------------------
# bench


def test_bench_dir_is_found_next_to_the_emulator_package():
    assert bench.benchmarks_dir() == REPO / "benchmarks"


def test_bench_passes_arguments_verbatim(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "benchmarks"
    folder.mkdir()
    record = tmp_path / "argv.json"
    (folder / "run.py").write_text(
        "import json\n"
        f"def main(argv):\n    json.dump(argv, open({str(record)!r}, 'w'))\n    return 3\n"
    )
    monkeypatch.setattr(bench, "benchmarks_dir", lambda: folder)
    argv = ["--quick", "-k", "matmul", "--", "--help", "x=1"]
    assert main(["bench", *argv]) == 3
    assert json.loads(record.read_text()) == argv


def test_bench_without_a_checkout_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "benchmarks_dir", lambda: tmp_path / "missing" / "benchmarks")
    assert main(["bench"]) == 2
    err = capsys.readouterr().err
    assert "source checkout" in err and len(err.strip().splitlines()) == 1


def test_bench_runner_crash_is_one_line(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "benchmarks"
    folder.mkdir()
    (folder / "run.py").write_text("def main(argv):\n    raise KeyError('boom')\n")
    monkeypatch.setattr(bench, "benchmarks_dir", lambda: folder)
    assert main(["bench"]) == 2
    err = capsys.readouterr().err
    assert "internal error" in err and "KeyError" in err and "Traceback" not in err


# ---------------------------------------------------------------------------------------------
# kernel install (the kernel itself is started in test_kernelspec.py)


def test_kernel_install_prefix_and_absolute_python(tmp_path, capsys):
    assert main(["kernel", "install", "--prefix", str(tmp_path), "--name", "simtlab-test"]) == 0
    spec = json.loads((tmp_path / "share/jupyter/kernels/simtlab-test/kernel.json").read_text())
    assert spec["argv"][0] == "python"
    assert spec["argv"][-2:] == ["--ext", "simtlab.jupyter"]
    assert "simtlab-test" in capsys.readouterr().out

    assert main(["kernel", "install", "--prefix", str(tmp_path), "--absolute-python"]) == 0
    spec = json.loads((tmp_path / "share/jupyter/kernels/simtlab/kernel.json").read_text())
    assert spec["argv"][0] == sys.executable


def test_kernel_install_into_unwritable_prefix_exits_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["kernel", "install", "--prefix", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
