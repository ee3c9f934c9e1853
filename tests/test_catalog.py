"""python train.py --list: what each knob may name, read from the registries, without a run; the
weights this machine holds marked from its caches alone; a missing optional package named, never
raised."""
import sys

import huggingface_hub.constants
import pytest
import torch

import train
from catalog.listing import KINDS, listing
from model.loss import LOSSES


def _rows(text: str) -> dict[str, str]:
    """name -> the rest of its line, for the indented lines of a listing."""
    return {line.split()[0]: line.split(None, 1)[1] if len(line.split()) > 1 else ""
            for line in text.splitlines() if line.startswith("  ")}


@pytest.mark.parametrize("kind, name, text", [
    ("losses", "bce", "[sigmoid heads only]"),
    ("trainers", "separate", "[a run group]"),
    ("views", "flip", "The picture mirrored left to right."),
    ("augments", "randaugment", "Flip, then"),
    ("mixers", "vertical_cutmix", "A full-height strip"),
    ("samplers", "weighted", "rare classes as often as common ones"),
    ("callbacks", "run_artifacts", "[built in]"),
    ("presets", "configs/competition_best.py", "Real data on a GPU with the best recipe"),
])
def test_every_kind_lists_its_names_with_what_they_are(kind, name, text, capsys):
    train.main(["--list", kind])
    out = capsys.readouterr().out
    assert out.startswith(f"{kind} ({KINDS[kind]}):\n")
    assert text in _rows(out)[name]


def test_a_pattern_narrows_and_a_singular_or_a_knob_name_works_too():
    assert set(_rows(listing(["loss", "*f*"]))) == {"f1", "focal"}
    assert set(_rows(listing(["tta", "s*"]))) == {"scale", "shift"}
    assert "none match 'zzz*'" in listing(["mixers", "zzz*"])


def test_backbones_show_their_weights_and_mark_those_this_machine_holds(tmp_path, monkeypatch):
    hub = tmp_path / "torch-hub"
    (hub / "checkpoints").mkdir(parents=True)
    (hub / "checkpoints" / "resnet18-f37072fd.pth").write_bytes(b"")  # timm's tv_in1k and torchvision's V1 URL
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    hf = tmp_path / "hf"
    repo = hf / "models--timm--resnet18.a2_in1k"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / "model.safetensors").write_bytes(b"")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hf))
    rows = _rows(listing(["backbones", "resnet18"]))
    assert rows["resnet18"].split() == ["a1_in1k", "a2_in1k*", "a3_in1k", "fb_ssl_yfcc100m_ft_in1k",
                                        "fb_swsl_ig1b_ft_in1k", "gluon_in1k", "tv_in1k*"]
    assert rows["tv:resnet18"] == "IMAGENET1K_V1*"
    assert set(_rows(listing(["backbones", "tv:mobilenet_v3_*"]))) == {"tv:mobilenet_v3_large",
                                                                          "tv:mobilenet_v3_small"}
    assert _rows(listing(["backbones", "test_resnet"]))["test_resnet"] == "r160_in1k"


def test_a_missing_optional_package_is_said_not_raised(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # import torchvision raises ImportError
    assert _rows(listing(["backbones", "resnet18"]))["tv:<name>"] == "torchvision's models need pip install torchvision"
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    assert _rows(listing(["callbacks"]))["wandb"].endswith('[built in; needs pip install -e ".[wandb]"]')


def test_the_configs_custom_imports_are_listed_with_their_module(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_listed_losses.py").write_text(
        "from model.loss import LOSSES\n\n\n@LOSSES.register('test_listed')\n"
        "def listed(activation, **_):\n    '''A loss of my own.'''\n")
    monkeypatch.setattr(LOSSES, "_entries", dict(LOSSES._entries))
    monkeypatch.delitem(sys.modules, "my_listed_losses", raising=False)
    try:
        train.main(["--set", f"custom_imports=['{tmp_path / 'my_listed_losses.py'}']", "--list", "losses"])
    finally:
        sys.modules.pop("my_listed_losses", None)
    assert _rows(capsys.readouterr().out)["test_listed"] == "A loss of my own. (my_listed_losses)"


def test_every_kind_at_once_and_a_wrong_kind_is_one_line_exit_2(capsys):
    train.main(["--list"])
    out = capsys.readouterr().out
    assert all(f"\n{kind} (" in f"\n{out}" for kind in KINDS if kind != "backbones")
    assert "timm models and" in out.splitlines()[-1]
    with pytest.raises(SystemExit) as stop:
        train.main(["--list", "lossses"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err == f"error: --list: unknown kind 'lossses'; known: {', '.join(KINDS)}\n"


def test_every_list_command_the_docs_show_runs(capsys):
    from test_docs_commands import PAGES, code_lines, commands, target

    shown = [hit[1] for page in PAGES for _, line in code_lines(page) for words in commands(line)
             if (hit := target(words)) and hit[0] == "train.py" and "--list" in hit[1] and "--config" not in hit[1]]
    assert len(shown) >= 4, shown
    for args in shown:
        train.main(args)
        assert capsys.readouterr().out.strip()
