"""A Binder-like build from the files in binder/ only: a fresh venv with the Python that runtime.txt names,
``pip install -r binder/requirements.txt`` run from the repository's root (as repo2docker does), then
``binder/postBuild``; the 'simtlab' kernel must be found by name in that environment, and the released notebooks
must run in it up to the first student stub.

It installs JupyterLab and friends into a new venv (about 20-60 s with a warm pip cache, which ``make env`` leaves)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from labcourse import LABS, REPO
from test_labs import release_is_runnable

pytestmark = pytest.mark.slow

BINDER = REPO / "binder"
#: what never goes into the image's copy of the repository (build products of this checkout)
SKIP = {".venv", ".git", "build", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", "release",
        "artifacts", "grading", "submitted", "autograded", "feedback", "gradebook.db"}

RUN_RELEASED = r"""
import json, sys
import nbformat
from nbclient import NotebookClient
for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    kernel = nb.metadata["kernelspec"]["name"]
    NotebookClient(nb, timeout=600, kernel_name=kernel, allow_errors=True,
                   resources={"metadata": {"path": path.rsplit("/", 1)[0]}}).execute()
    nbformat.write(nb, path + ".executed")
    print(json.dumps({"notebook": path, "kernel": kernel}))
"""


def test_binder_files_are_what_repo2docker_reads():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime)
    assert tuple(map(int, runtime.removeprefix("python-").split("."))) >= (3, 11), "pyproject needs Python 3.11+"
    reqs = [line.strip() for line in (BINDER / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert any(r.startswith(".[") and "jupyter" in r for r in reqs), "the repository itself, with its Jupyter side"
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK) and post.read_text().startswith("#!/bin/bash")


@pytest.fixture(scope="module")
def binder_env(tmp_path_factory):
    runtime = (BINDER / "runtime.txt").read_text().strip().removeprefix("python-")
    if f"{sys.version_info[0]}.{sys.version_info[1]}" != runtime:
        pytest.skip(f"binder/runtime.txt asks for Python {runtime}; this machine runs {sys.version.split()[0]}")
    base = tmp_path_factory.mktemp("binder")
    repo = base / "repo"
    shutil.copytree(REPO, repo, ignore=lambda d, names: [n for n in names if n in SKIP or n.endswith(".egg-info")])
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    home = base / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER", "VIRTUAL_ENV", "PYTHON", "IPYTHON", "SIMTLAB", "NBGRADER"))}
    env.update(HOME=str(home), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", NB_PYTHON_PREFIX=str(venv),
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "-r", "binder/requirements.txt"], cwd=repo,
                         env=env, capture_output=True, text=True, timeout=1500)
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    post = subprocess.run(["bash", "binder/postBuild"], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=600)
    assert post.returncode == 0, post.stdout[-3000:] + post.stderr[-3000:]
    return {"repo": repo, "venv": venv, "env": env, "postbuild": post.stdout}


def test_the_simtlab_kernel_is_found_by_name_in_the_binder_environment(binder_env):
    venv, env = binder_env["venv"], binder_env["env"]
    r = subprocess.run([str(venv / "bin" / "jupyter"), "kernelspec", "list", "--json"], env=env, capture_output=True,
                       text=True, timeout=120, cwd=binder_env["repo"])
    assert r.returncode == 0, r.stderr
    specs = json.loads(r.stdout)["kernelspecs"]
    assert "simtlab" in specs
    assert Path(specs["simtlab"]["resource_dir"]).resolve().is_relative_to(venv.resolve())
    assert "simtlab.jupyter" in specs["simtlab"]["spec"]["argv"]
    # simtlab was installed from the copy (a normal install, not this checkout's editable one)
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import simtlab.emulator as e; print(e.__file__)"],
                           env=env, capture_output=True, text=True, timeout=120, cwd=binder_env["venv"])
    assert Path(where.stdout.strip()).resolve().is_relative_to(venv.resolve()), where.stdout + where.stderr


def test_binder_opens_the_first_released_lab(binder_env):
    conf = binder_env["venv"] / "etc" / "jupyter" / "jupyter_server_config.d" / "simtlab-binder.json"
    url = json.loads(conf.read_text())["ServerApp"]["default_url"]
    assert url.startswith("/lab/tree/")
    assert (binder_env["repo"] / url.removeprefix("/lab/tree/")).is_file()
    # students keep nbgrader's Validate button, not the instructor's formgrader
    r = subprocess.run([str(binder_env["venv"] / "bin" / "jupyter"), "server", "extension", "list"],
                       env=binder_env["env"], capture_output=True, text=True, timeout=120)
    listing = r.stdout + r.stderr
    assert re.search(r"nbgrader\.server_extensions\.validate_assignment\s+\S*enabled", listing), listing
    assert re.search(r"nbgrader\.server_extensions\.formgrader\s+\S*disabled", listing), listing


def test_released_notebooks_run_in_the_binder_environment(binder_env):
    repo = binder_env["repo"]
    paths = [repo / "labs" / "release" / lab / f"{lab}.ipynb" for lab in LABS]
    assert all(p.is_file() for p in paths), binder_env["postbuild"]
    r = subprocess.run([str(binder_env["venv"] / "bin" / "python"), "-c", RUN_RELEASED, *map(str, paths)],
                       env=binder_env["env"], capture_output=True, text=True, timeout=900, cwd=repo)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert [json.loads(line)["kernel"] for line in r.stdout.splitlines()] == ["simtlab"] * len(LABS)
    for p in paths:
        release_is_runnable(nbformat.read(str(p) + ".executed", as_version=4))
