#!/usr/bin/env python3
"""The CI checks in tools/ catch what they are there for, on small trees."""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECK_MODULE_DEPS = os.path.join(REPO, "tools", "check_module_deps.py")
FORMAT = os.path.join(REPO, "tools", "format.sh")

EDGES = """\
layer 0: base
layer 1: log net
layer 2: app
base:
log: base
net: base
app: base log net
"""


class TreeTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="sluice-checks-")
        self.addCleanup(shutil.rmtree, self.root)

    def write(self, path, text):
        full = os.path.join(self.root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(text))

    def run_tool(self, *command):
        return subprocess.run(command, capture_output=True, text=True, check=False)


class ModuleDepsTest(TreeTest):
    def setUp(self):
        super().setUp()
        self.write("tools/module_deps.txt", EDGES)
        self.write("src/base/status.h", "#pragma once\n")
        self.write("src/net/server.h", '#pragma once\n#include "base/status.h"\n')
        self.write("src/log/log.h", '#pragma once\n#include "base/status.h"\n#include "log/x.h"\n')
        self.write("src/app/main.cc", '#include "log/log.h"\n#include "net/server.h"\n')

    def check(self):
        return self.run_tool(sys.executable, CHECK_MODULE_DEPS, "--root", self.root)

    def test_tree_within_its_edges_passes(self):
        r = self.check()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_include_across_a_missing_edge_is_named_with_file_and_line(self):
        self.write("src/log/reader.cc", '#include "log/log.h"\n#include "net/server.h"\n')
        r = self.check()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("src/log/reader.cc:2: log -> net is not an allowed edge", r.stdout)

    def test_upward_include_is_caught(self):
        self.write("src/base/status.cc", '#include "app/main.h"\n')
        r = self.check()
        self.assertEqual(r.returncode, 1)
        self.assertIn("src/base/status.cc:1: base -> app", r.stdout)

    def test_relative_include_out_of_the_module_is_caught(self):
        self.write("src/log/format.cc", '#include "../net/server.h"\n')
        r = self.check()
        self.assertEqual(r.returncode, 1)
        self.assertIn("src/log/format.cc:1:", r.stdout)

    def test_edge_pointing_up_in_the_list_is_refused(self):
        self.write("tools/module_deps.txt", EDGES.replace("base:\n", "base: log\n"))
        r = self.check()
        self.assertEqual(r.returncode, 1)
        self.assertIn("base -> log points up", r.stdout)

    def test_module_missing_from_the_list_is_refused(self):
        self.write("src/query/index.h", '#include "base/status.h"\n')
        r = self.check()
        self.assertEqual(r.returncode, 1)
        self.assertIn("module query (src/query/) is in no layer", r.stdout)


class FormatTest(TreeTest):
    def setUp(self):
        super().setUp()
        shutil.copy(os.path.join(REPO, ".clang-format"), self.root)
        self.write("src/base/clean.cc", "int Clean() {\n  return 0;\n}\n")

    def test_clean_tree_passes(self):
        r = self.run_tool(FORMAT, "--check", self.root)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_unformatted_file_is_named(self):
        self.write("tests/base/messy_test.cc", "int  Messy( ){return 0;}\n")
        r = self.run_tool(FORMAT, "--check", self.root)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("tests/base/messy_test.cc: not clang-format clean", r.stdout)
        self.assertNotIn("clean.cc", r.stdout)


if __name__ == "__main__":
    unittest.main()
