"""``simtlab kernel install|uninstall``: the 'simtlab' Jupyter kernelspec.

The kernelspec is written by code (`simtlab.jupyter.kernelspec`) rather than shipped as
setuptools data-files, because data-files never reach an editable install.
"""

from __future__ import annotations

import argparse
import sys

from .errors import CliError


def run(args: argparse.Namespace) -> int:
    """Entry point of ``simtlab kernel ...``."""
    try:
        from simtlab.jupyter import kernelspec
    except ImportError as exc:  # jupyter_client missing
        raise CliError(f"the Jupyter packages are missing ({exc}); install 'simtlab[jupyter]'") from None

    if args.action == "uninstall":
        path = kernelspec.uninstall_kernelspec(args.name)
        print(f"Removed kernelspec '{args.name}' from {path}")
        return 0

    prefix = sys.prefix if args.sys_prefix else args.prefix
    user = not prefix  # --user is the default
    try:
        path = kernelspec.install_kernelspec(
            user=user,
            prefix=prefix,
            kernel_name=args.name,
            absolute_python=args.absolute_python,
            display_name=args.display_name,
        )
    except PermissionError as exc:
        target = exc.filename or "the kernels folder"
        raise CliError(f"cannot write to {target}: permission denied; try --user or --sys-prefix") from None
    except OSError as exc:
        where = prefix or "the user's Jupyter folder"
        raise CliError(f"cannot install the kernelspec into {where}: {exc.strerror or exc}"
                       f"{f' ({exc.filename})' if exc.filename else ''}") from None
    python = sys.executable if args.absolute_python else "the Python of the environment Jupyter runs in"
    print(f"Installed kernelspec '{args.name}' in {path} (kernel runs with {python})")
    return 0
