"""The peers graphlab is measured against come from the ``bench`` extra; each is optional."""

from __future__ import annotations

import importlib
import os
from functools import cache
from types import ModuleType


def optional(module: str) -> ModuleType | None:
    """The module, or None when it is not installed (its column then reads "skipped")."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def cores() -> int:
    return os.cpu_count() or 1


@cache
def torch() -> ModuleType | None:
    """PyTorch eager on the CPU, with every core."""
    th = optional("torch")
    if th is not None:
        th.set_num_threads(cores())
    return th


@cache
def jax() -> ModuleType | None:
    """JAX on the CPU, float64 allowed (arrays passed in keep their own dtype)."""
    jx = optional("jax")
    if jx is not None:
        jx.config.update("jax_platforms", "cpu")
        jx.config.update("jax_enable_x64", True)
    return jx
