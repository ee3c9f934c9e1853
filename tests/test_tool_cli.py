"""The helper tools' command lines follow train.py's conventions: `--help` shows the defaults,
a bad command line or path is one `error:` line with exit code 2, sizes are HEIGHT,WIDTH, and
each tool's build_parser() accepts the commands its own docstring shows."""
from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from base.cli_types import HelpFormatter

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ("data_loader.verify", "data_loader.demo_data", "data_loader.audit", "data_loader.face_crop", "logger.report")
SHOWN_DEFAULT = {"data_loader.demo_data": "(default: 128,96)", "data_loader.audit": "(default: 0.5)",
                 "data_loader.face_crop": "(default: 256,192)"}  # verify and report have no option with one


def _run(module: str, argv: list[str], capsys) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the tool's main(argv)."""
    with pytest.raises(SystemExit) as stop:
        importlib.import_module(module).main(argv)
    out, err = capsys.readouterr()
    return stop.value.code, out, err


@pytest.mark.parametrize("module", TOOLS)
def test_help_names_the_command_and_shows_the_defaults(module, capsys):
    tool = importlib.import_module(module)
    assert tool.build_parser().formatter_class is HelpFormatter
    code, out, _ = _run(module, ["--help"], capsys)
    assert code == 0 and out.startswith(f"usage: python -m {module} ")
    assert tool.__doc__.splitlines()[0] in out  # the module docstring is the description
    words = " ".join(out.split())  # argparse wraps the help lines to the terminal
    assert SHOWN_DEFAULT.get(module, "") in words and "(default: None)" not in words


def test_help_imports_neither_torch_nor_opencv():
    """What a first `--help` costs: no torch (1 s or more); OpenCV only where face_crop's detectors need it."""
    probe = """
import json, sys
def light(module):
    try:
        __import__(module, fromlist=["main"]).main(["--help"])
    except SystemExit:
        pass
    return {"torch": "torch" in sys.modules, "cv2": "cv2" in sys.modules}
print(json.dumps({m: light(m) for m in ("data_loader.verify", "data_loader.demo_data", "data_loader.audit",
                                        "data_loader.face_crop")}))
"""
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    loaded = json.loads(done.stdout.splitlines()[-1])
    assert not any(v["torch"] for v in loaded.values()), loaded
    assert not any(loaded[m]["cv2"] for m in ("data_loader.verify", "data_loader.demo_data", "data_loader.audit"))


BAD_INPUTS = [  # (tool, argv with {tmp} for a folder holding a_file and group/oof.csv, what the line says)
    ("data_loader.verify", [], "the following arguments are required: DATA_DIR"),
    ("data_loader.verify", ["{tmp}/missing"], "DATA_DIR {tmp}/missing is not a folder"),
    ("data_loader.demo_data", ["--out", "{tmp}"], "--out {tmp} already exists"),
    ("data_loader.demo_data", ["--out", "{tmp}/new", "--persons", "3", "--size", "16,16"],  # before: no refusal
     "persons must be at least 10"),
    ("data_loader.demo_data", ["--out", "{tmp}/a_file/demo"], "cannot make the folder it goes in"),
    ("data_loader.audit", ["{tmp}/missing"], "GROUP {tmp}/missing does not exist"),
    ("data_loader.audit", ["{tmp}/group", "--out", "{tmp}"], "--out {tmp} is a folder"),
    ("data_loader.audit", ["{tmp}/group", "--out", "{tmp}/a_file/suspects.csv"], "cannot make its folder"),
    ("data_loader.audit", ["{tmp}/missing", "--min-confidence", "0"], "must be a number in (0, 1]"),
    ("data_loader.face_crop", ["--src", "{tmp}/missing", "--dst", "{tmp}/out"], "--src {tmp}/missing is not a folder"),
    ("data_loader.face_crop", ["--src", "{tmp}", "--dst", "{tmp}/a_file"], "is a file; name a folder"),
    ("data_loader.face_crop", ["--src", "{tmp}", "--dst", "{tmp}/out", "--workers", "-1"], "0 or more"),
    ("logger.report", ["--bogus"], "unrecognized arguments: --bogus"),
]


@pytest.mark.parametrize("module, argv, message", BAD_INPUTS)
def test_bad_input_is_one_error_line_and_exit_2(module, argv, message, tmp_path, capsys):
    (tmp_path / "a_file").write_text("")
    (tmp_path / "group").mkdir()
    (tmp_path / "group" / "oof.csv").write_text("person,file\n")
    code, out, err = _run(module, [a.format(tmp=tmp_path) for a in argv], capsys)
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert message.format(tmp=tmp_path) in err and out == "", err
    assert not (tmp_path / "new").exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("module, required, default, too_small, why", [
    ("data_loader.demo_data", ["--out", "x"], (128, 96), "31,96", "each side must be at least 32"),  # the config's
    ("data_loader.face_crop", ["--src", "x", "--dst", "y"], (256, 192), "256,7", "both sides must be at least 8"),
])
def test_sizes_are_height_comma_width(module, required, default, too_small, why, tmp_path, capsys):
    parser = importlib.import_module(module).build_parser()
    assert parser.parse_args(required).size == default
    assert parser.parse_args([*required, "--size", "128,96"]).size == (128, 96)
    required = [str(tmp_path / a) if a in ("x", "y") else a for a in required]
    # The old `--size 128 96` is refused, not read as 128x128 with a stray 96.
    code, out, err = _run(module, [*required, "--size", "128", "96"], capsys)
    assert code == 2 and err.strip() == f"error: unrecognized arguments: 96; see python -m {module} --help"
    code, out, err = _run(module, [*required, "--size", too_small], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and why in err, err


def test_demo_data_writes_the_smallest_set_it_allows(tmp_path, capsys):
    from data_loader import demo_data

    demo_data.main(["--out", str(tmp_path / "demo"), "--persons", "10", "--eval-persons", "1", "--size", "32,32"])
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'demo'}"
    assert len(pd.read_csv(tmp_path / "demo" / "train" / "train.csv")) == 10
    info = pd.read_csv(tmp_path / "demo" / "eval" / "info.csv")
    assert len(info) == 7
    with Image.open(tmp_path / "demo" / "eval" / "images" / info["ImageID"][0]) as picture:
        assert picture.size == (32, 32)


def _docstring_commands(module: str) -> list[list[str]]:
    """The `python -m <module> ...` commands in the module's docstring, as argument lists: options
    in [brackets] taken, a `# comment` dropped, an indented continuation line joined, N read as 2."""
    commands, lines = [], importlib.import_module(module).__doc__.splitlines()
    for i, line in enumerate(lines):
        if f"python -m {module}" not in line:
            continue
        text, indent = line.split(f"python -m {module}", 1)[1], len(line) - len(line.lstrip())
        for more in lines[i + 1:]:
            if not more.strip() or len(more) - len(more.lstrip()) <= indent:
                break
            text += " " + more
        text = re.sub(r"#.*", "", text).replace("[", " ").replace("]", " ")
        commands.append(["2" if word == "N" else word for word in text.split()])
    return commands


@pytest.mark.parametrize("module", TOOLS)
def test_the_commands_in_each_docstring_parse(module):
    commands = _docstring_commands(module)
    assert commands, f"{module}'s docstring shows no command"
    parser = importlib.import_module(module).build_parser()
    for argv in commands:
        parser.parse_args(argv)  # a UserError (one line) names what no longer parses
