"""docs/configuration.md stays the rendering of config.py's comments (base.config_reference)."""
from __future__ import annotations

import shutil
import textwrap

import pytest

from base import config as config_lib
from base import config_reference as ref
from base.errors import UserError

FIX = "python -m base.config_reference --write"

FAKE = textwrap.dedent('''\
    """A fake config.py."""
    from typing import Literal

    # ---- first part ------------------------------------------------
    alpha: int = 1                # the first knob; its comment
                                  # goes on here
    beta: str = "x|y"

    # ---- second part -----------------------------------------------
    # A note on the section.
    gamma: bool | Literal["auto"] = "auto"  # True, False or "auto" | see runs/<name>
    delta: list[int] = [
        1,  # one
        2,
    ]
    _private: int = 3             # names with _ are not knobs
    ''')


def test_committed_page_is_the_rendering_of_config_py():
    assert ref.PAGE.is_file(), f"docs/configuration.md is missing; run {FIX}"
    assert ref.PAGE.read_text(encoding="utf-8") == ref.render(), \
        f"docs/configuration.md is out of date with config.py; run {FIX}"


def test_every_schema_knob_appears_once():
    rows = [line for line in ref.render().splitlines() if line.startswith("| `")]
    names = [row.split("`")[1] for row in rows]
    assert sorted(names) == sorted(config_lib.schema()), "a knob is missing or listed twice"
    sections = ref.parse()
    assert sum(len(s.knobs) for s in sections) == len(config_lib.schema())
    assert [s.title for s in sections][:2] == ["run", "data"]


def test_fake_config_renders_comments_types_and_defaults(tmp_path):
    source = tmp_path / "config.py"
    source.write_text(FAKE)
    page = ref.render(source)
    lines = page.splitlines()
    assert lines[0] == "# Configuration reference"
    assert "- [First part](#first-part)" in lines and "- [Second part](#second-part)" in lines
    assert "| knob | type | default | what it does |" in lines
    assert "| `alpha` | `int` | `1` | the first knob; its comment goes on here |" in lines
    assert '| `beta` | `str` | `"x\\|y"` |  |' in lines  # no comment of its own; | escaped in code
    assert ('| `gamma` | `bool \\| Literal["auto"]` | `"auto"` '
            '| True, False or "auto" \\| see runs/&lt;name> |') in lines
    assert "| `delta` | `list[int]` | `[1, 2]` | one |" in lines  # a default over lines, on one line
    assert "A note on the section." in lines
    assert lines.index("## Second part") < lines.index("A note on the section.") < lines.index(
        next(line for line in lines if line.startswith("| `gamma`")))
    assert "_private" not in page
    assert page.endswith(" |\n")


def test_knob_the_parser_cannot_see_is_an_error(tmp_path):
    source = tmp_path / "config.py"
    source.write_text(FAKE + "if True:\n    hidden: int = 5\n")
    with pytest.raises(UserError, match="hidden"):
        ref.render(source)
    source.write_text(FAKE)
    with pytest.raises(UserError, match="epsilon"):
        ref.render(source, knobs=["alpha", "beta", "gamma", "delta", "epsilon"])


def test_check_passes_then_fails_on_a_changed_page(tmp_path, capsys):
    page = tmp_path / "configuration.md"
    shutil.copy(ref.PAGE, page)
    assert ref.main(["--check", "--page", str(page)]) == 0
    page.write_text(page.read_text() + "one more line\n")
    assert ref.main(["--check", "--page", str(page)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith(f"is out of date with config.py; run {FIX}")


def test_check_fails_on_a_changed_config_and_write_fixes_it(tmp_path, capsys):
    source, page = tmp_path / "config.py", tmp_path / "docs" / "configuration.md"
    source.write_text(FAKE)
    assert ref.main(["--write", "--source", str(source), "--page", str(page)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert ref.main(["--check", "--source", str(source), "--page", str(page)]) == 0
    source.write_text(FAKE.replace("the first knob", "the very first knob"))
    assert ref.main(["--check", "--source", str(source), "--page", str(page)]) == 1
    assert "run python -m base.config_reference --write" in capsys.readouterr().err
    assert ref.main(["--write", "--source", str(source), "--page", str(page)]) == 0
    assert "the very first knob" in page.read_text()
    assert [p.name for p in page.parent.iterdir()] == ["configuration.md"]  # no temp file left
