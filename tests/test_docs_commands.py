"""README and docs/ stay true: every command in their code blocks names a script that exists,
flags that script has, and knobs config.py has. A renamed flag or knob fails here, not in a
user's terminal.

A code block's lines are read as shell commands (comments, `$ ` prompts, `\\` continuations,
`&&`/`;`/`|` chains and VAR=value prefixes handled); `python X.py`, `python -m pkg.mod`,
`torchrun ... X.py` and `bash X.sh` are checked, other programs (pip, pytest, git) are not.
A script's flags come from its build_parser() when it has one, else from the add_argument
calls in its file and the bench files it imports (read with ast, nothing run).
"""
from __future__ import annotations

import ast
import importlib
import re
import shlex
import sys
from functools import lru_cache
from pathlib import Path

import pytest

from base import config as config_lib

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
KNOB_SCRIPTS = {"train.py", "tune.py"}  # they take --set KNOB=VALUE and bare KNOB=VALUE words
FENCE = re.compile(r"^```(\w*)\s*$")
SHELL = {"", "bash", "sh", "shell", "console"}


def code_lines(page: Path) -> list[tuple[int, str]]:
    """(line number, command) of every shell line in `page`'s fenced code blocks."""
    found, block, lang, pending = [], None, "", ""
    for number, line in enumerate(page.read_text().splitlines(), 1):
        fence = FENCE.match(line.strip())
        if fence:
            block, lang, pending = (None, "", "") if block is not None else (number, fence.group(1), "")
            continue
        if block is None or lang not in SHELL:
            continue
        text = line.strip().removeprefix("$ ")
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        found.append((number, pending + text))
        pending = ""
    return found


def commands(line: str) -> list[list[str]]:
    """The simple commands of a shell line, as words (comments dropped)."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return []
    out, current = [], []
    for word in words:
        if word in ("&&", ";", "|", "||"):
            out.append(current)
            current = []
        elif word.endswith(";"):  # `cmd --flag;`: the word belongs to the command it ends
            out.append([*current, word[:-1]])
            current = []
        else:
            current.append(word)
    out.append(current)
    return [c for c in out if c]


def target(words: list[str]) -> tuple[str, list[str]] | None:
    """(script or module, its arguments) of a python/torchrun/bash command, else None."""
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):  # OMP_NUM_THREADS=1 python ...
        words = words[1:]
    if not words:
        return None
    program, rest = Path(words[0]).name, words[1:]
    if program in ("python", "python3") or program == "torchrun":
        if rest[:1] == ["-m"] and len(rest) > 1:
            return ("-m " + rest[1], rest[2:])
        scripts = [i for i, w in enumerate(rest) if w.endswith(".py")]
        return (rest[scripts[0]], rest[scripts[0] + 1:]) if scripts else None
    if program == "bash" and rest and rest[0].endswith(".sh"):
        return (rest[0], rest[1:])
    return None


@lru_cache
def flags_of(script: str) -> frozenset[str] | None:
    """The option strings `script` accepts (None: not the project's, not checked)."""
    module = script[3:] if script.startswith("-m ") else None
    if module and not (ROOT / module.split(".")[0]).is_dir():
        return None  # another package's module: python -m venv, python -m pip
    path = ROOT / (module.replace(".", "/") + ".py" if module else script)
    if not path.is_file():
        raise FileNotFoundError(script)
    if script.endswith(".sh"):
        return None  # it exists; its options are not read
    name = module or (script[:-3] if "/" not in script else None)
    tree = ast.parse(path.read_text())
    if name and any(isinstance(n, ast.FunctionDef) and n.name == "build_parser" for n in tree.body):
        return frozenset(importlib.import_module(name).build_parser()._option_string_actions)
    files = [path] + [path.parent / f"{n.module}.py" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                      and n.module and (path.parent / f"{n.module}.py").is_file() and path.parent.name == "bench"]
    flags = {"-h", "--help"}
    for file in files:
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
                flags.update(a.value for a in node.args if isinstance(a, ast.Constant) and str(a.value).startswith("-"))
    return frozenset(flags)


def problems(page: Path) -> list[str]:
    knobs = config_lib.schema()
    found = []
    for number, line in code_lines(page):
        for words in commands(line):
            hit = target(words)
            if hit is None:
                continue
            script, args = hit
            where = f"{page.relative_to(ROOT)}:{number}: {script}"
            try:
                flags = flags_of(script)
            except FileNotFoundError:
                found.append(f"{where}: no such script or module")
                continue
            if flags is None:
                continue
            for word in (w.strip("[]") for w in args):
                if word.startswith("--") and word.split("=")[0] not in flags:
                    found.append(f"{where}: no flag {word.split('=')[0]}")
                elif script in KNOB_SCRIPTS and "=" in word and not word.startswith("-"):
                    knob = word.split("=")[0]
                    if re.fullmatch(r"[a-z_0-9]+", knob) and knob not in knobs:
                        found.append(f"{where}: no knob {knob!r} in config.py")
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_documented_command_exists(page):
    found = problems(page)
    assert not found, "commands in the docs that would fail:\n" + "\n".join(found)


def test_the_check_sees_a_renamed_flag_a_wrong_knob_and_a_missing_script(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```bash\npython train.py --epocs 3 lrr=0.1 \\\n  --set epochs=2 bach=1\n"
                    "OMP_NUM_THREADS=1 torchrun --nproc_per_node=2 train.py --dry-run\n"
                    "python inference.py --person-vote --evaluate  # fine\npython nowhere.py\n"
                    "python -m data_loader.demo_data --out x --size 64,48 --sise 1\n```\n"
                    "```python\npython train.py --not-shell-code\n```\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        (tmp_path / "train.py").write_text((saved / "train.py").read_text())
        (tmp_path / "inference.py").write_text((saved / "inference.py").read_text())
        (tmp_path / "data_loader").mkdir()
        (tmp_path / "data_loader" / "demo_data.py").write_text((saved / "data_loader" / "demo_data.py").read_text())
        found = [line.split(": ", 1)[1] for line in problems(page)]
    finally:
        ROOT = saved
    assert found == ["train.py: no flag --epocs", "train.py: no knob 'lrr' in config.py",
                     "train.py: no knob 'bach' in config.py", "nowhere.py: no such script or module",
                     "-m data_loader.demo_data: no flag --sise"], found


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    lines = [p for page in PAGES for p in problems(page)]
    print("\n".join(lines) if lines else "every documented command exists")
    sys.exit(1 if lines else 0)
