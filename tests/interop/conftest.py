"""conftest.py - fixtures of the interop suite (real Debian software
against Postern), from the shared harness (tests/harness.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import instance, tmp_root  # noqa: E402,F401  (pytest fixtures)
