"""RELIABILITY.md is written by the hardening scripts, one section each, between markers
`<!-- NAME: OWNER -->` and `<!-- /NAME -->`; a script rewrites its own section and leaves
the others alone.

As a module: `write_section(name, owner, lines)`. From a shell:
`python3 scripts/reliability.py NAME OWNER < lines`.
"""
import sys
from pathlib import Path

PATH = Path(__file__).resolve().parent.parent / "RELIABILITY.md"
HEADER = ("# Reliability\n\nWhat the hardening scripts measured; each section is rewritten by the "
          "script named in its marker.\n")


def write_section(name, owner, lines):
    """Replaces (or appends) the section NAME with LINES, a list of Markdown lines without
    the markers."""
    begin, end = f"<!-- {name}: {owner} -->", f"<!-- /{name} -->"
    body = "\n".join([begin, *lines, end])
    text = PATH.read_text() if PATH.exists() else HEADER
    if begin in text and end in text:
        text = text[:text.index(begin)] + body + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    PATH.write_text(text)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: reliability.py NAME OWNER < lines")
    write_section(sys.argv[1], sys.argv[2], sys.stdin.read().rstrip("\n").split("\n"))
