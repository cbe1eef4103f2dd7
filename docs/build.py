"""Build the documentation site into docs/_build/html, from scratch: Sphinx with every warning an error
(a broken link or anchor, a missing picture, an API name autodoc cannot import, a command the option
reference cannot find), then check that the site
works offline (no script, style sheet, font or image fetched from another host) and that no page shows
reST source as text (an autodoc directive written where Markdown is parsed).

Usage: poetry run python docs/build.py   (the README's docs command; `bash .ci/run` runs it)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
OUT = DOCS / "_build" / "html"
#: A resource the browser fetches by itself (not a link a reader follows): src= and srcset= (quoted or
#: not), <link href=, CSS url() and @import.
FETCHED = re.compile(r"""(?:\b(?:src|srcset)\s*=\s*["']?|<link\b[^>]*\bhref\s*=\s*["']?|url\(\s*["']?|@import\s+["'])(?:https?:)?//""", re.I)


def offline_problems(root: Path) -> list[str]:
    """Every built file that makes the browser fetch something from another host."""
    problems = []
    for path in sorted(root.rglob("*")):
        if path.suffix in {".html", ".css", ".js"} and path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            problems += [f"{path.relative_to(root)}: {match.group(0)}" for match in FETCHED.finditer(text)]
    return problems


#: reST that reached a page as text: a directive or a field list parsed as Markdown instead of run.
STRAY_REST = re.compile(r"(?:^|>)\s*(?:\.\. [\w:-]+::|:(?:param|type|raises?|returns?|rtype|ivar|vartype|cvar)\b[^:<]*:)", re.M)
PRE = re.compile(r"<pre\b.*?</pre>", re.S | re.I)


def stray_rest(root: Path) -> list[str]:
    """Every built page showing reST source instead of its output (autodoc outside `{eval-rst}`)."""
    problems = []
    for path in sorted(root.rglob("*.html")):
        text = PRE.sub("", path.read_text(encoding="utf-8", errors="replace"))  # code samples may show reST
        problems += [f"{path.relative_to(root)}: {match.group(0).strip()}" for match in STRAY_REST.finditer(text)][:3]
    return problems


def main() -> int:
    shutil.rmtree(DOCS / "_build", ignore_errors=True)  # every page read again: no stale page, no warning unrepeated
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "html", str(DOCS), str(OUT)])
    if done.returncode != 0:
        print("Error: the documentation did not build without warnings (see above)", file=sys.stderr)
        return done.returncode
    problems = offline_problems(OUT)
    if problems:
        print("Error: the site fetches from other hosts:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    problems = stray_rest(OUT)
    if problems:
        print("Error: pages show reST source instead of its output:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(f"Built {OUT / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
