"""conftest.py - fixtures of the integration suite, all from the shared
harness (tests/harness.py): instance, running, tmp_root."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import instance, running, tmp_root  # noqa: E402,F401  (pytest fixtures)
from dns_server import dns_server, module_dns_server  # noqa: E402,F401  (pytest fixtures)
