"""docs/configuration.md, rendered from config.py's own comments: every knob, its type, default and doc.

    python -m base.config_reference            # print the page
    python -m base.config_reference --write    # regenerate docs/configuration.md
    python -m base.config_reference --check    # exit 1 when docs/configuration.md is out of date

config.py is the one place a knob is described; this page is its readable copy, and a test fails
when the two drift apart. Hand-written because no library renders a Python settings file's
comments: Sphinx autodoc and pdoc document modules by their docstrings (and `#:` comments at
best), pydantic-settings and the like need the knobs rewritten as a class. Here a small parser
reads config.py as it is written:

- `# ---- title ----` at the start of a line opens a section;
- `name: type = default  # doc` is a knob (names starting with _ are not knobs, as in
  base.config.schema()); its type and default are shown as written;
- a following line that holds only an indented comment continues the knob's doc; a blank line,
  code, or a comment at the start of a line ends it;
- any other comment at the start of a line is a note printed above its section's table.

Every knob of the schema must be found exactly once, or the rendering fails naming it.
"""
from __future__ import annotations

import argparse
import ast
import io
import re
import runpy
import sys
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from base import config as config_lib
from base.cli_types import HelpFormatter
from base.errors import ArgumentParser, UserError, exit_on_user_error

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "configuration.md"
COMMAND = "python -m base.config_reference --write"

_SECTION = re.compile(r"^#\s*-{2,}\s*(?P<title>[^-\s].*?)\s*-*\s*$")

INTRO = """\
Every knob of mask18: its type and default as `config.py` writes them, and what it does.
This page is generated from the comments of [`config.py`](../config.py); edit those and run
`{command}` (a test fails when the two differ).

How to set a knob, from the most lasting to the most passing:

- **Edit `config.py`**: the defaults of every run.
- **An experiment file**: `python train.py --config configs/x.py`, where `configs/x.py` sets only
  what differs (`epochs = 20`). It may start from another experiment file with
  `_base_ = "other.py"` (relative to itself); the chain is applied base first. A run folder's
  `config.json` works as an experiment file too: `--config runs/x/config.json` trains that run's
  configuration again (with `--set` changes on top).
- **On the command line**, applied last: `python train.py --set lr=3e-4 batch_size=64`, or bare
  `python train.py lr=3e-4 batch_size=64`. A value is read as a Python literal (`3e-4`, `(128, 96)`,
  `["flip"]`); a bare word is a string (`backbone=resnet34`).
- **See the result**: `python train.py --print-config` prints the resolved configuration;
  `--print-config --diff` only the knobs that differ from `config.py`.

Every value is checked at start-up against its type and range, and an unknown knob names the
closest known one; the names a knob gives (trainer, loss, view, ...), the heads a per-head knob
names and the packages a knob needs are checked as well, by `--print-config` and `--dry-run` as by
the run. The resolved configuration is saved as `config.json` in the run folder and
inside every checkpoint. Sizes are HEIGHT,WIDTH: `image_size = (384, 288)` in a file,
`image_size=384,288` on the command line.
"""


@dataclass
class Knob:
    name: str
    type: str  # the annotation as written
    default: str  # the value as written
    doc: list[str] = field(default_factory=list)  # comment lines, in order
    line: int = 0


@dataclass
class Section:
    title: str
    notes: list[str] = field(default_factory=list)  # comments at the start of a line, not a knob's
    knobs: list[Knob] = field(default_factory=list)


def parse(source: str | Path = config_lib.DEFAULTS_FILE) -> list[Section]:
    """The sections and knobs of a config file, in file order. Knobs before the first section
    heading land in a section titled "General"."""
    path = Path(source)
    text = path.read_text(encoding="utf-8")
    try:
        tree = ast.parse(text, str(path))
    except SyntaxError as err:
        raise UserError(f"{path}: cannot be read as Python ({err})") from None
    lines = text.splitlines()
    comments = _comments(text)  # row -> (column, text after '#')
    starts: dict[int, list[ast.stmt]] = {}
    for stmt in tree.body:
        starts.setdefault(stmt.lineno, []).append(stmt)

    sections = [Section("General")]
    last: Knob | None = None  # the knob an indented comment-only line continues
    row = 1
    while row <= len(lines):
        if row in starts:
            group = starts[row]
            last = None
            for stmt in group:
                if _is_knob(stmt):
                    last = Knob(stmt.target.id, _source(text, stmt.annotation),
                                _source(text, stmt.value) if stmt.value is not None else "", line=row)
                    sections[-1].knobs.append(last)
            end = max(stmt.end_lineno for stmt in group)
            if last is not None:  # comments on the statement's own lines
                last.doc += [comments[r][1] for r in range(row, end + 1) if r in comments]
            row = end + 1
            continue
        if row in comments and not lines[row - 1][:comments[row][0]].strip():  # a comment-only line
            column, comment = comments[row]
            heading = _SECTION.match(lines[row - 1].strip()) if column == 0 else None
            if heading:
                sections.append(Section(heading["title"]))
                last = None
            elif column > 0 and last is not None:
                last.doc.append(comment)
            else:
                sections[-1].notes.append(comment)
                last = None
        else:  # a blank line or code that is no statement's start: ends a continued comment
            last = None
        row += 1
    return [s for s in sections if s.knobs or s.notes]


def render(source: str | Path = config_lib.DEFAULTS_FILE, knobs: Iterable[str] | None = None) -> str:
    """The Markdown page of `source`. `knobs`: the names that must each appear exactly once
    (default: base.config.schema() for config.py, else the file's annotated names)."""
    path = Path(source)
    sections = parse(path)
    _check_complete(path, sections, _expected_knobs(path) if knobs is None else list(knobs))
    out = ["# Configuration reference", "", INTRO.format(command=COMMAND), "## Sections", ""]
    slugs: dict[str, int] = {}
    anchors = []
    for section in sections:
        slug = _slug(_title(section.title))
        count = slugs.get(slug, 0)
        slugs[slug] = count + 1
        anchors.append(slug if count == 0 else f"{slug}-{count}")
    out += [f"- [{_escape_text(_title(s.title))}](#{a})" for s, a in zip(sections, anchors, strict=True)]
    for section in sections:
        out += ["", f"## {_escape_text(_title(section.title))}", ""]
        if section.notes:
            out += [_escape_text(" ".join(section.notes)), ""]
        if section.knobs:
            out += ["| knob | type | default | what it does |", "| --- | --- | --- | --- |"]
            out += [f"| {_code(k.name)} | {_code(k.type)} | {_code(k.default)} | {_escape_text(' '.join(k.doc))} |"
                    for k in section.knobs]
    return "\n".join(out).rstrip("\n") + "\n"


def _is_knob(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
            and not stmt.target.id.startswith("_"))


def _comments(text: str) -> dict[int, tuple[int, str]]:
    """row -> (column of '#', the comment's text without '#' and surrounding spaces)."""
    found = {}
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            found[token.start[0]] = (token.start[1], token.string[1:].strip())
    return found


def _source(text: str, node: ast.AST) -> str:
    """A node's source as written, on one line (comments inside it dropped)."""
    segment = ast.get_source_segment(text, node) or ""
    if "\n" not in segment:
        return segment.strip()
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(segment).readline) if t.type != tokenize.COMMENT]
    joined = " ".join(line.strip() for line in tokenize.untokenize(tokens).splitlines() if line.strip())
    joined = re.sub(r"([\[({]) ", r"\1", joined)  # "[ 1," -> "[1,"
    joined = re.sub(r",? ([\]}])", r"\1", joined)  # "2, ]" -> "2]"
    return re.sub(r" \)", ")", joined)  # "(1, )" keeps its comma: a tuple of one


def _expected_knobs(path: Path) -> list[str]:
    if path.resolve() == config_lib.DEFAULTS_FILE:
        return list(config_lib.schema())
    try:
        names = runpy.run_path(str(path)).get("__annotations__", {})
    except Exception as err:  # a typo in the file
        raise UserError(f"{path}: cannot be read as Python ({type(err).__name__}: {err})") from None
    return [k for k in names if not k.startswith("_")]


def _check_complete(path: Path, sections: list[Section], expected: list[str]) -> None:
    found: dict[str, list[int]] = {}
    for knob in (k for s in sections for k in s.knobs):
        found.setdefault(knob.name, []).append(knob.line)
    missing = [k for k in expected if k not in found]
    if missing:
        raise UserError(f"{path}: knob(s) {', '.join(missing)} of the schema not found as `name: type = default` "
                        "lines at the top level; the reference cannot describe them")
    twice = {k: rows for k, rows in found.items() if len(rows) > 1}
    if twice:
        raise UserError(f"{path}: knob(s) written more than once: "
                        + "; ".join(f"{k} (lines {', '.join(map(str, rows))})" for k, rows in twice.items()))
    extra = [k for k in found if k not in expected]
    if extra:
        raise UserError(f"{path}: {', '.join(extra)} parsed as knob(s) but not in the schema")


def _title(title: str) -> str:
    return title[:1].upper() + title[1:]


def _slug(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation but - and _ dropped, spaces as -."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def _code(text: str) -> str:
    """`text` as inline code in a table cell (| escaped: GitHub splits cells before code spans)."""
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


def _escape_text(text: str) -> str:
    """Comment text in a table cell: | escaped; outside `code` spans, < and & as entities (so
    runs/<name> is not read as an HTML tag)."""
    parts = re.split(r"(`+[^`]*`+)", text)
    for i in range(0, len(parts), 2):  # the even parts are outside code spans
        parts[i] = parts[i].replace("&", "&amp;").replace("<", "&lt;")
    return "".join(parts).replace("|", "\\|")


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    ap = ArgumentParser(prog="python -m base.config_reference", description=__doc__, formatter_class=HelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write the page (atomically) instead of printing it")
    mode.add_argument("--check", action="store_true", help="exit 1 when the page differs from the rendering")
    ap.add_argument("--source", type=Path, default=config_lib.DEFAULTS_FILE, help=argparse.SUPPRESS)
    ap.add_argument("--page", type=Path, default=PAGE, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    text = render(args.source)
    if args.check:
        current = args.page.read_text(encoding="utf-8") if args.page.is_file() else None
        if current != text:
            state = "is out of date with" if current is not None else "is missing; it is rendered from"
            print(f"{_shown(args.page)} {state} {_shown(args.source)}; run {COMMAND}", file=sys.stderr)
            return 1
        print(f"{_shown(args.page)} is up to date")
        return 0
    if args.write:
        from base.atomic import atomic_path  # imports torch and pandas: only when writing

        args.page.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(args.page) as tmp:
            tmp.write_text(text, encoding="utf-8")
        count = sum(len(s.knobs) for s in parse(args.source))
        print(f"wrote {_shown(args.page)} ({count} knobs) from {_shown(args.source)}")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
