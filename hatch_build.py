"""Build hook: on CPython 3.13 and later, compile the engine's compatibility shim into the wheel.

durable-rules 2.0.28's C binding needs ``PyEval_CallObject``, which CPython 3.13 removed. The shim
(``csrc/pyeval_shim.c``, one function) is compiled with the system C compiler (``$CC``, else the
compiler Python was built with, else ``cc``) into ``policykit/_pyeval_shim.so``; the engine adapter
loads it before the binding. On 3.11 and 3.12 nothing is built and the wheel stays pure Python.
A compiler is needed anyway: durable-rules itself installs from source.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SHIM = "_pyeval_shim.so"


def _compiler() -> list[str]:
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return shlex.split(cc)


class ShimBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or sys.version_info < (3, 13):
            return
        source = Path(self.root, "csrc", "pyeval_shim.c")
        if version == "editable":
            # an editable install imports policykit from src/: the shim goes beside the sources
            # (ignored by git, and left out of regular wheels, which compile their own)
            output = Path(self.root, "src", "policykit", SHIM)
        else:
            output = Path(tempfile.mkdtemp(prefix="policykit-shim-"), SHIM)
        flags = ["-shared", "-fPIC", "-O2"]
        if sys.platform == "darwin":
            flags += ["-undefined", "dynamic_lookup"]
        command = [*_compiler(), *flags, "-o", str(output), str(source)]
        try:
            subprocess.run(command, check=True, capture_output=True, text=True)
        except FileNotFoundError as error:
            raise RuntimeError(
                f"policykit on Python {sys.version_info.major}.{sys.version_info.minor} needs a C compiler "
                f"to build its engine shim ({error}); install one (e.g. gcc) or set CC"
            ) from error
        except subprocess.CalledProcessError as error:
            raise RuntimeError(
                f"building policykit's engine shim failed: {shlex.join(command)}\n{error.stderr}"
            ) from error
        if version != "editable":
            build_data["force_include"][str(output)] = f"policykit/{SHIM}"
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
