#!/usr/bin/env python3
"""Tests of scripts/docs-snippets on small trees of its own: what --check must reject, and that a
refresh makes a drifted block pass again.

  docs_snippets_test.py PATH/TO/scripts/docs-snippets
"""

import contextlib
import importlib.machinery
import importlib.util
import io
import os
import sys
import tempfile
import textwrap
import unittest

SCRIPT = sys.argv.pop(1) if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "..", "scripts", "docs-snippets")
loader = importlib.machinery.SourceFileLoader("docs_snippets", SCRIPT)
spec = importlib.util.spec_from_loader("docs_snippets", loader)
snippets = importlib.util.module_from_spec(spec)
loader.exec_module(snippets)

SOURCE = """\
#include <iostream>

int main() {
  // [snippet:hello]
  std::cout << "hello\\n";
  // [snippet:inner]
  return 0;
  // [end snippet]
  // [end snippet]
}
"""

GOOD_DOC = """\
# Doc

<!-- snippet: src/main.cpp#hello -->
```cpp
std::cout << "hello\\n";
return 0;
```

<!-- snippet: src/main.cpp#inner -->
```cpp
return 0;
```

```sh
echo shell samples need no marker
```

See [the source](src/main.cpp) and [this heading](#doc).
"""


class Tree:
    """A root with src/main.cpp and the given README.md."""

    def __init__(self, readme, source=SOURCE):
        self.dir = tempfile.TemporaryDirectory()
        self.root = self.dir.name
        os.makedirs(os.path.join(self.root, "src"))
        self.write("src/main.cpp", source)
        self.write("README.md", readme)

    def write(self, path, text):
        with open(os.path.join(self.root, path), "w", encoding="utf-8") as f:
            f.write(text)

    def read(self, path):
        with open(os.path.join(self.root, path), encoding="utf-8") as f:
            return f.read()

    def run(self, *args):
        """(exit status, stdout + stderr) of the script's main()."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            status = snippets.main(["--root", self.root, *args])
        return status, out.getvalue()


class DocsSnippetsTest(unittest.TestCase):
    def tree(self, readme, source=SOURCE):
        tree = Tree(readme, source)
        self.addCleanup(tree.dir.cleanup)
        return tree

    def test_blocks_equal_to_their_regions_pass(self):
        tree = self.tree(GOOD_DOC)
        self.assertEqual(tree.run("--check"), (0, "docs-snippets: 1 documents checked, all good\n"))
        self.assertEqual(tree.run("--check-links")[0], 0)

    def test_an_edited_block_fails_with_a_diff_and_a_refresh_restores_it(self):
        tree = self.tree(GOOD_DOC.replace('"hello\\n"', '"hullo\\n"'))
        status, out = tree.run("--check")
        self.assertEqual(status, 1)
        self.assertIn("README.md:4: this block differs from src/main.cpp#hello", out)
        self.assertIn('-std::cout << "hello\\n";', out)
        self.assertIn('+std::cout << "hullo\\n";', out)
        self.assertEqual(tree.run()[0], 0)
        self.assertEqual(tree.read("README.md"), GOOD_DOC)
        self.assertEqual(tree.run("--check")[0], 0)

    def test_an_edited_source_fails_until_refreshed(self):
        tree = self.tree(GOOD_DOC, SOURCE.replace("return 0;", "return 1;"))
        status, out = tree.run("--check")
        self.assertEqual(status, 1)
        self.assertIn("differs from src/main.cpp#inner", out)
        tree.run()
        self.assertIn("return 1;", tree.read("README.md"))

    def test_a_missing_region_or_file_fails(self):
        status, out = self.tree(GOOD_DOC.replace("#inner", "#outer")).run("--check")
        self.assertEqual(status, 1)
        self.assertIn("src/main.cpp has no region 'outer' (regions there: hello, inner)", out)
        status, out = self.tree(GOOD_DOC.replace("src/main.cpp#hello", "src/gone.cpp#hello")).run(
            "--check")
        self.assertEqual(status, 1)
        self.assertIn("the snippet source src/gone.cpp does not exist", out)

    def test_a_cpp_block_without_a_marker_fails(self):
        doc = GOOD_DOC + "\n```cpp\nint unchecked = 1;\n```\n"
        status, out = self.tree(doc).run("--check")
        self.assertEqual(status, 1)
        self.assertIn("a C++ block without a snippet marker", out)

    def test_a_fence_without_a_language_fails(self):
        status, out = self.tree(GOOD_DOC + "\n```\nint x;\n```\n").run("--check")
        self.assertEqual(status, 1)
        self.assertIn("a fence without a language", out)

    def test_an_unclosed_region_fails(self):
        status, out = self.tree(GOOD_DOC, SOURCE.replace("  // [end snippet]\n}", "}")).run("--check")
        self.assertEqual(status, 1)
        self.assertIn("region 'hello' is never closed", out)

    def test_a_link_to_a_missing_file_or_heading_fails(self):
        tree = self.tree(GOOD_DOC + "\n[gone](docs/gone.md) and [nowhere](#no-such-heading)\n")
        status, out = tree.run("--check-links")
        self.assertEqual(status, 1)
        self.assertIn("the link docs/gone.md leads to no file", out)
        self.assertIn("the link #no-such-heading: no heading has the anchor", out)

    def test_a_block_nested_in_a_list_keeps_its_indentation(self):
        doc = ("- a sample:\n\n  <!-- snippet: src/main.cpp#hello -->\n  ```cpp\n  old\n  ```\n")
        tree = self.tree(doc)
        self.assertEqual(tree.run("--check")[0], 1)
        tree.run()
        self.assertIn('  ```cpp\n  std::cout << "hello\\n";\n  return 0;\n  ```', tree.read("README.md"))
        self.assertEqual(tree.run("--check")[0], 0)

    def test_github_anchors(self):
        self.assertEqual(snippets.slug("The SQL outbox (`reflex::rsql`)"), "the-sql-outbox-reflexrsql")
        self.assertEqual(snippets.slug("Cursors, errors and retention"),
                         "cursors-errors-and-retention")
        self.assertEqual(snippets.slug("P5 — what an event costs"), "p5--what-an-event-costs")


if __name__ == "__main__":
    unittest.main(verbosity=2)
