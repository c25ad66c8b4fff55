"""The digital twin's figures (issue #6), one after the other:

1. whole-year roof solar map at 1 m: seconds per km² on the CPU (target <= 60 s), and on the GPU when
   one is present (target <= 1 s per km²; the GPU path is CuPy, ``pip install -e ".[gpu]"``);
2. flood what-if for a new water level over 10 km² at 1 m (target <= 1 s on the CPU).

Each part is its own script (``bench/twin_solar.py``, ``bench/twin_flood.py``: their docstrings say
how the data are built); this one runs them in turn and prints their figures, with the machine.

Run: `.venv/bin/python bench/twin.py [--size-m 1000]`
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from pathlib import Path

from parvis.modules.twin.backend import array_module

HERE = Path(__file__).resolve().parent


def run(script: str, *args: str) -> None:
    print(f"\n$ {script} {' '.join(args)}".rstrip(), flush=True)
    subprocess.run([sys.executable, str(HERE / script), *args], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-m", default="1000", help="side of the solar map's square, in metres")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    gpu = array_module("auto").__name__ == "cupy"
    print(f"GPU: {'present (CuPy)' if gpu else 'none (NumPy only)'}")
    run("twin_solar.py", "--size-m", args.size_m, "--cpu")
    if gpu:
        run("twin_solar.py", "--size-m", args.size_m, "--gpu")
    run("twin_flood.py")


if __name__ == "__main__":
    main()
