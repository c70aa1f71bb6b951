"""Runs every test of the Python host and prints a summary in the form .ci/run adds up:
"Python host - Failed: N, Passed: N, Skipped: N, Total: N". Exit code 0 only if all passed.

    python3 hosts/python/tests/run.py [-k PATTERN]
"""

import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
sys.path.insert(0, root)


def main():
    loader = unittest.TestLoader()
    if "-k" in sys.argv:
        loader.testNamePatterns = ["*%s*" % sys.argv[sys.argv.index("-k") + 1]]
    suite = loader.discover(here, pattern="test_*.py", top_level_dir=root)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print("Python host (%s) - Failed: %d, Passed: %d, Skipped: %d, Total: %d"
          % (sys.version.split()[0], failed, passed, skipped, result.testsRun))
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
