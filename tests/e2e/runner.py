# SPDX-License-Identifier: MIT
"""Runs the end-to-end tests: every test_* function of tests/e2e/test_*.py.

usage: runner.py [FILE...]   (env SCB_BUILD_DIR: where the binaries are)
Ends with "e2e total: N passed, N failed".
"""
import importlib.util
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402


def load(path):
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv):
    files = argv or sorted(
        os.path.join(HERE, f) for f in os.listdir(HERE)
        if f.startswith("test_") and f.endswith(".py"))
    passed = failed = 0
    for path in files:
        mod = load(path)
        tests = [(n, getattr(mod, n)) for n in sorted(dir(mod))
                 if n.startswith("test_") and callable(getattr(mod, n))]
        for name, fn in tests:
            label = "%s.%s" % (mod.__name__, name)
            start = time.monotonic()
            try:
                fn()
            except Exception:  # a failed assert or a harness error
                failed += 1
                print("FAIL %s (%.1fs)" % (label, time.monotonic() - start))
                traceback.print_exc(file=sys.stdout)
                harness.dump_failure_logs()
            else:
                passed += 1
                print("PASS %s (%.1fs)" % (label, time.monotonic() - start))
            finally:
                harness.cleanup_all()
            sys.stdout.flush()
    print("e2e total: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
