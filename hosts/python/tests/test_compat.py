"""Nothing in the package needs a Python newer than 3.9 (the oldest one it supports)."""

import ast
import os
import re
import unittest

from . import support

# Library calls added after 3.9 that are easy to reach for without noticing.
NEWER = [r"\bzip\([^)]*strict=", r"\.bit_count\(", r"\bslots=True", r"\bkw_only=", r"asyncio\.TaskGroup", r"asyncio\.timeout\(",
         r"\bExceptionGroup\b", r"\bexcept\*", r"typing\.(TypeAlias|ParamSpec|Self|Never)", r"\baiter\(|\banext\(",
         r"int\.from_bytes\([^,)]*\)", r"\.to_bytes\(\)", r"\bpairwise\(", r"os\.EFD_", r"datetime\.UTC\b", r"tomllib"]


class CompatibilityTests(unittest.TestCase):
    def test_sources_parse_as_python_3_9_and_use_no_newer_library(self):
        files = []
        for folder in ("kaze", "tests"):
            for name in sorted(os.listdir(os.path.join(support.PACKAGE_ROOT, folder))):
                if name.endswith(".py"):
                    files.append(os.path.join(support.PACKAGE_ROOT, folder, name))
        self.assertGreater(len(files), 8)
        for path in files:
            with open(path, encoding="utf-8") as f:
                source = f.read()
            with self.subTest(path=os.path.basename(path)):
                ast.parse(source, path, feature_version=(3, 9))
                if path.endswith("test_compat.py"):
                    continue
                for pattern in NEWER:
                    self.assertIsNone(re.search(pattern, source), "%s uses %s (newer than 3.9)" % (path, pattern))


if __name__ == "__main__":
    unittest.main()
