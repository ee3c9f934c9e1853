"""The layer rule: every import points down the layer order, no modules import each other, and
nothing imports a script.

Layers, top to bottom (a module's layer is its top folder or file):

    scripts       train.py, inference.py, tune.py, tuning/ (tune.py's machinery), catalog/ (train.py
                  --list), bench/
    group         run groups (k-fold, pseudo-labelling, separate models), what trains a config
    predict       run and group folders -> (N, 18) probabilities, ensembles, submission.csv
    trainer       the registered trainers
    logger        what watches a run: callbacks, pictures, summary.json, TensorBoard, W&B, the report
    base          the three base classes and the engine they are made of
    model         backbones, heads, losses, metrics, TTA views
    data_loader   data layout, labels, split, datasets, transforms, samplers, caches
    settings      config.py and configs/: knob files that base/config.py reads

A module may import its own layer and the layers below it, never one above, and no two modules
may import each other, directly or round a longer circle. The foundation (base/errors.py,
base/atomic.py, base/registry.py, base/base_model.py, base/cli_types.py, base/repeating.py) may be
imported from any layer because it imports nothing of the project outside itself; only such
modules may join it.

No module imports a script: train.py, inference.py, tune.py or a bench/ file that runs (one with
an `if __name__ == "__main__":` block), not even another script. Scripts stay thin; what one needs
of another lives below them (tuning/ is tune.py's machinery, a package, not a script; a bench/
file without that block, such as bench/facebench.py, is a helper the benchmarks share).
And base/base_trainer.py stays within BASE_TRAINER_LINES lines: a new feature lands beside
BaseTrainer, in a base/ module of its own.

Imports inside functions count (ast.walk), `from a.b import c` is the module a.b.c when that file
exists and a.b otherwise, and a package whose __init__.py imports every module of its folder
(pkgutil.iter_modules) imports each of them. Pure ast: nothing of the project is imported.

    python tests/test_layers.py [ROOT]      prints every violation of the import rules; exit status 1
                                            if there is one
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = (  # top to bottom: (layer, the top-level folders and files in it)
    ("scripts", ("train", "inference", "tune", "tuning", "catalog", "bench")),
    ("group", ("group",)),
    ("predict", ("predict",)),
    ("trainer", ("trainer",)),
    ("logger", ("logger",)),
    ("base", ("base",)),
    ("model", ("model",)),
    ("data_loader", ("data_loader",)),
    ("settings", ("config", "configs")),
)
FOUNDATION = frozenset({"base.errors", "base.atomic", "base.registry", "base.base_model", "base.cli_types",
                        "base.repeating"})
SCRIPTS = frozenset({"train", "inference", "tune", "bench"})  # top-level files and folders run, never imported
BASE_TRAINER_LINES = 300
NOT_MODULES = frozenset({"tests", "build", "dist", "runs", "shared"})  # top-level folders of no project code
RANK = {top: i for i, (_, tops) in enumerate(LAYERS) for top in tops}


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the project (tests and hidden folders left out)."""
    modules = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or entry.name in NOT_MODULES or entry.name.endswith(".egg-info"):
            continue
        files = [entry] if entry.suffix == ".py" else sorted(entry.rglob("*.py")) if entry.is_dir() else []
        for path in files:
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _resolve(dotted: str, modules: dict[str, Path], script_dir: str | None) -> str | None:
    """The project module an import of `dotted` loads last (its longest prefix that is one), or None."""
    for name in (dotted, f"{script_dir}.{dotted}" if script_dir else None):
        while name:
            if name in modules:
                return name
            name = name.rpartition(".")[0]
    return None


def imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules that module `name` (in file `path`) imports, anywhere in the file."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    # A folder without __init__.py (bench/) holds scripts, which run with their folder on sys.path.
    script_dir = package if package and not (path.parent / "__init__.py").is_file() else None
    found: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(_resolve(alias.name, modules, script_dir) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:  # relative: from the package, `level - 1` packages up
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*parent, *([node.module] if node.module else [])])
            for alias in node.names:
                whole = f"{source}.{alias.name}" if source else alias.name
                found.add(whole if whole in modules else _resolve(source, modules, script_dir))
        elif (is_package and isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "iter_modules"):  # imports every module of its folder
            found.update(m for m in modules if m.rpartition(".")[0] == name)
    return {m for m in found if m and m != name}


def import_graph(root: Path = ROOT) -> tuple[dict[str, Path], dict[str, set[str]]]:
    modules = project_modules(root)
    return modules, {name: imports(name, path, modules) for name, path in modules.items()}


def _where(modules: dict[str, Path], name: str, root: Path) -> str:
    return modules[name].relative_to(root).as_posix()


def layer_violations(root: Path = ROOT) -> list[str]:
    """One line per module without a layer and per import that points up the layer order or out
    of the foundation, naming both files."""
    modules, graph = import_graph(root)
    found = []
    for name in sorted(graph):
        where = _where(modules, name, root)
        top = name.split(".")[0]
        if top not in RANK:
            found.append(f"{where} is in no layer: add {top!r} to LAYERS in tests/test_layers.py")
            continue
        for target in sorted(graph[name]):
            there = _where(modules, target, root)
            if name in FOUNDATION:
                if target not in FOUNDATION:
                    found.append(f"{where} imports {there}: the foundation may import only itself")
            elif target not in FOUNDATION and RANK.get(target.split(".")[0], RANK[top]) < RANK[top]:
                found.append(f"{where} imports {there}: layer {_layer(target)} is above {_layer(name)}")
    return found


def _layer(name: str) -> str:
    return LAYERS[RANK[name.split(".")[0]]][0]


def is_script(name: str, path: Path) -> bool:
    """train.py, inference.py, tune.py, and a bench/ file that runs (has a __main__ block)."""
    top = name.split(".")[0]
    return top in SCRIPTS and (top != "bench" or '__name__ == "__main__"' in path.read_text(encoding="utf-8"))


def script_imports(root: Path = ROOT) -> list[str]:
    """One line per import of a script, naming both files."""
    modules, graph = import_graph(root)
    return [f"{_where(modules, name, root)} imports {_where(modules, target, root)}: nothing imports a script; "
            "what it needs of one belongs below the scripts (or in a bench/ helper without a __main__ block)"
            for name in sorted(graph) for target in sorted(graph[name]) if is_script(target, modules[target])]


def cycles(root: Path = ROOT) -> list[str]:
    """One line per circle of imports (per strongly connected group of modules): the files round it."""
    modules, graph = import_graph(root)
    found = []
    for group in _strongly_connected(graph):
        if len(group) > 1:
            circle = _circle(graph, group)
            found.append(" -> ".join(_where(modules, m, root) for m in circle)
                         + f"  ({len(group)} modules in this circle: "
                         + ", ".join(_where(modules, m, root) for m in sorted(group)) + ")")
    return sorted(found)


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, without recursion."""
    index, low, on_stack, stack, groups = {}, {}, set(), [], []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    groups.append(group)
            elif target not in index:
                index[target] = low[target] = len(index)
                stack.append(target)
                on_stack.add(target)
                work.append((target, iter(sorted(graph[target]))))
            elif target in on_stack:
                low[node] = min(low[node], index[target])
    return groups


def _circle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest path inside `group` from its first module back to itself."""
    start = min(group)
    previous, frontier = {start: None}, [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & group):
                if target == start:
                    path = [node]
                    while previous[path[-1]] is not None:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if target not in previous:
                    previous[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"no circle through {start}")


def test_every_import_points_down_the_layers():
    violations = layer_violations()
    assert not violations, "imports against the layer order:\n" + "\n".join(violations)


def test_no_modules_import_each_other():
    found = cycles()
    assert not found, "import circles:\n" + "\n".join(found)


def test_nothing_imports_a_script():
    found = script_imports()
    assert not found, "imports of a script:\n" + "\n".join(found)


def test_base_trainer_stays_small():
    lines = len((ROOT / "base" / "base_trainer.py").read_text(encoding="utf-8").splitlines())
    assert lines <= BASE_TRAINER_LINES, (
        f"base/base_trainer.py has {lines} lines, more than {BASE_TRAINER_LINES}: a new feature lands beside "
        "BaseTrainer, not in it. Put it in a base/ module of its own, named for it (as base/evaluation.py, "
        "base/epoch_metrics.py, base/weight_average.py), and keep only its hook or call in the class.")


def test_the_check_sees_an_upward_import_a_circle_a_discovered_module_and_an_imported_script(tmp_path):
    files = {
        "base/__init__.py": "",
        "base/errors.py": "",
        "base/engine.py": "def f():\n    from trainer import get_trainer\n",  # up, inside a function
        "trainer/__init__.py": "import pkgutil\nfor m in pkgutil.iter_modules(__path__):\n    pass\n",
        "trainer/mine.py": "from trainer import register_trainer\nfrom base.errors import UserError\n",
        "model/__init__.py": "",
        "model/a.py": "from model import b\n",
        "model/b.py": "import model.a\n",
        "train.py": "",
        "tune.py": "import train\nfrom tuning import space\n",  # a script imports its machinery, not a script
        "tuning/__init__.py": "",
        "tuning/space.py": "",
        "bench/variants.py": "def compare():\n    pass\n",  # a helper: no __main__ block
        "bench/presets.py": "if __name__ == \"__main__\":\n    pass\n",
        "bench/compare.py": "from variants import compare\nfrom presets import run\n",  # bench/ is on sys.path
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert layer_violations(tmp_path) == ["base/engine.py imports trainer/__init__.py: layer trainer is above base"]
    assert [line.split("  (")[0] for line in cycles(tmp_path)] == [
        "model/a.py -> model/b.py -> model/a.py", "trainer/__init__.py -> trainer/mine.py -> trainer/__init__.py"]
    assert [line.split(":")[0] for line in script_imports(tmp_path)] == [
        "bench/compare.py imports bench/presets.py", "tune.py imports train.py"]


if __name__ == "__main__":
    root = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT
    lines = layer_violations(root) + [f"circle: {c}" for c in cycles(root)] + script_imports(root)
    print("\n".join(lines) if lines else "every import points down; no circles; no script imported")
    sys.exit(1 if lines else 0)
