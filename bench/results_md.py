"""Splicing one harness's part into bench/RESULTS.md, leaving the rest alone.

RESULTS.md is shared: `bench/run` owns the top (everything before the first
`## ` heading), and every other harness owns a `## ` section of its own. A
harness rewrites only its part. Checked by `python3 -m doctest
bench/results_md.py` (part of scripts/test).
"""

import os


def _heading_lines(lines):
    """Indexes of the `## ` headings (not `###`), outside fenced code."""
    out, fenced = [], False
    for i, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("## "):
            out.append(i)
    return out


def splice(text, part, title=None):
    """text with one part replaced by `part` (which ends with a newline).

    title None is the top of the file, up to the first `## ` heading:

    >>> old = "# R\\nold top\\n\\n## A\\na\\n## B\\nb\\n"
    >>> print(splice(old, "# R\\nnew top\\n\\n"), end="")
    # R
    new top
    <BLANKLINE>
    ## A
    a
    ## B
    b

    A title is the section from its `## title` line to the next `## `
    heading (or the end); `part` starts with that heading line:

    >>> print(splice(old, "## A\\nA again\\n\\n", "A"), end="")
    # R
    old top
    <BLANKLINE>
    ## A
    A again
    <BLANKLINE>
    ## B
    b

    A missing section goes right after the top, before the first heading:

    >>> print(splice(old, "## S\\ns\\n\\n", "S"), end="")
    # R
    old top
    <BLANKLINE>
    ## S
    s
    <BLANKLINE>
    ## A
    a
    ## B
    b

    A blank line always separates a part from the heading after it:

    >>> splice(old, "## A\\nno blank line\\n", "A")
    '# R\\nold top\\n\\n## A\\nno blank line\\n\\n## B\\nb\\n'

    A file with no heading at all is replaced (top) or gets the section
    appended; a `## ` inside fenced code is no heading:

    >>> splice("# R\\nold\\n", "# R\\nnew\\n")
    '# R\\nnew\\n'
    >>> splice("# R\\nold\\n", "## S\\ns\\n", "S")
    '# R\\nold\\n\\n## S\\ns\\n'
    >>> splice("# R\\n```\\n## not one\\n```\\n## A\\na\\n", "## A\\nb\\n", "A")
    '# R\\n```\\n## not one\\n```\\n## A\\nb\\n'
    """
    lines = text.splitlines(keepends=True)
    heads = _heading_lines(lines)
    part = part if part.endswith("\n") else part + "\n"
    if title is None:
        first = heads[0] if heads else len(lines)
        return _joined(part, "".join(lines[first:]))
    mine = [i for i in heads if lines[i].rstrip("\n") == f"## {title}"]
    if mine:
        start = mine[0]
        end = next((i for i in heads if i > start), len(lines))
    else:
        start = end = heads[0] if heads else len(lines)
        if not heads and text and not text.endswith("\n\n"):
            part = ("\n" if text.endswith("\n") else "\n\n") + part
    return "".join(lines[:start]) + _joined(part, "".join(lines[end:]))


def _joined(part, rest):
    """part, then a blank line before whatever follows it."""
    if rest and not part.endswith("\n\n"):
        part += "\n"
    return part + rest


def write_part(path, part, title=None):
    """Replaces one part of the file at path (created when missing)."""
    old = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    new = splice(old, part, title)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(new)
    os.replace(tmp, path)
