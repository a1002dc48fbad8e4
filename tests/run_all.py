#!/usr/bin/python3
"""run_all.py - run every Postern test and print one summary line.

Called by `make test` (and `make unit` with --unit-only). Runs each cmocka
unit-test binary given on the command line (TAP output, counted per test),
then one pytest run over tests/integration/ and tests/interop/ (real
Debian software against Postern; those skip with the reason where the
software is missing or not root), and ends with
the line "N passed, N failed" that CI reads. Exit status is 0 only when
nothing failed and at least one test ran.

Environment: POSTERN_BIN (directory with posternd/postern/sendmail),
POSTERN_SAN=1 when the binaries are built with sanitizers.
"""
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))


def run_unit(binary):
    """Run one cmocka binary with TAP output; return (passed, failed)."""
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="TAP")
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    proc = subprocess.run([binary], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace",
                          timeout=600)
    passed = failed = 0
    for line in proc.stdout.splitlines():
        if re.match(r"^ok \d+", line):
            passed += 1
        elif re.match(r"^not ok \d+", line):
            failed += 1
    if proc.returncode != 0 and failed == 0:
        # Crashed, or a sanitizer report after the tests: count it.
        failed += 1
    if failed or proc.returncode != 0:
        sys.stdout.write(proc.stdout)
    name = os.path.basename(binary)
    print(f"unit {name}: {passed} passed, {failed} failed")
    return passed, failed


def run_pytest():
    """Run the integration and interop suites; return (passed, failed)."""
    with tempfile.TemporaryDirectory() as tmp:
        junit = os.path.join(tmp, "junit.xml")
        cmd = ["/usr/bin/python3", "-m", "pytest", "-q", "-p", "no:cacheprovider",
               f"--junitxml={junit}", os.path.join(HERE, "integration"),
               os.path.join(HERE, "interop")]
        proc = subprocess.run(cmd, timeout=1500)
        if not os.path.exists(junit):
            return 0, 1
        root = ET.parse(junit).getroot()
        suites = [root] if root.tag == "testsuite" else list(root)
        total = failed = skipped = 0
        for s in suites:
            total += int(s.get("tests", 0))
            failed += int(s.get("failures", 0)) + int(s.get("errors", 0))
            skipped += int(s.get("skipped", 0))
        if proc.returncode not in (0, 1, 5):
            failed = max(failed, 1)
        return total - failed - skipped, failed


def main(argv):
    unit_only = "--unit-only" in argv
    binaries = [a for a in argv if not a.startswith("--")]
    passed = failed = 0
    for b in binaries:
        p, f = run_unit(b)
        passed += p
        failed += f
    if not unit_only:
        p, f = run_pytest()
        passed += p
        failed += f
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
