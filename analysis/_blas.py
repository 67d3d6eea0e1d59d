"""Run a block of numpy code with OpenBLAS limited to one thread.

The table engine makes hundreds of small matrix products per million rows; with OpenBLAS's
default of one thread per core, each product hands work to helper threads that spin-wait for
it, and on a shared 2-core machine that turned 3 s of work into 15 s. One thread is steady.
This finds the OpenBLAS library numpy loaded (numpy's bundled scipy-openblas or a system
libopenblas) and calls its ``*_set_num_threads``; where there is none (other BLAS, other OS)
it does nothing.
"""
from __future__ import annotations

import ctypes
from contextlib import contextmanager

_NAMES = (("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
          ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
          ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
          ("openblas_get_num_threads", "openblas_set_num_threads"))
_controls: list | None = None


def _find() -> list:
    global _controls
    if _controls is None:
        _controls = []
        try:
            import numpy  # noqa: F401  (the library must be loaded already)
            with open("/proc/self/maps") as maps:
                paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower()
                                and line.split()[-1].startswith("/")})
        except OSError:
            paths = []
        for path in paths:
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for get, set_ in _NAMES:
                if hasattr(lib, get) and hasattr(lib, set_):
                    getf, setf = getattr(lib, get), getattr(lib, set_)
                    getf.restype = ctypes.c_int
                    setf.argtypes = [ctypes.c_int]
                    _controls.append((getf, setf))
                    break
    return _controls


@contextmanager
def single_threaded_blas():
    controls = _find()
    before = []
    try:
        for getf, setf in controls:
            before.append((setf, getf()))
            setf(1)
    except Exception:                         # never let thread tuning break an analysis
        pass
    try:
        yield
    finally:
        for setf, n in before:
            try:
                setf(n)
            except Exception:
                pass
