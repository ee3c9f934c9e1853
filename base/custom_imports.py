"""The `custom_imports` knob: modules of your own, imported whenever a configuration is built.

Their `register` decorators then make what they register (a trainer, a loss, a callback, ...)
known before any name of the configuration is looked up, in every process that builds it:
train.py, --resume from a run's config.json, inference.py, tune.py and its workers, and the other
processes under torchrun (a Config sent to them imports them on arrival). An entry is a module
name importable from sys.path (the project's folder, PYTHONPATH), or the path of a .py file (~
expanded, relative to the current folder; base/config.py keeps it absolute), imported under its
file name. A module imports once per process. What fails is one line naming the entry.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path

from base.errors import UserError

KNOB = "config knob 'custom_imports'"
_FILES: dict[str, str] = {}  # a .py entry imported by this process -> its module's name


def import_all(entries: Iterable[str], where: str) -> None:
    """Import every entry (a module name, or a .py file's path); `where` names the config's source."""
    for entry in entries:
        if entry.endswith(".py"):
            if _FILES.get(entry) not in sys.modules:  # once per process, even if the current folder changes
                _FILES[entry] = _import_file(entry, where)
        elif entry not in sys.modules:
            _import_module(entry, where)


def _import_module(name: str, where: str) -> None:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name and (name == err.name or name.startswith(f"{err.name}.")):
            raise UserError(f"{where}: {KNOB}: no module {name!r} on the Python path; add the folder that holds "
                            f"it to PYTHONPATH (PYTHONPATH=/path/to/folder python ...), or give its .py file's "
                            "path") from None
        raise _failed(name, err, where) from None
    except Exception as err:  # the module's own code failed: a typo, a name registered twice
        raise _failed(name, err, where) from None


def _import_file(entry: str, where: str) -> str:
    """Import the file `entry` as the module named after it, and return that name."""
    path = Path(entry).expanduser()
    if not path.is_file():
        raise UserError(f"{where}: {KNOB}: {entry} not found (a relative path starts at the current folder, "
                        f"{Path.cwd()}); give the .py file's path, or a module name on PYTHONPATH")
    name, resolved = path.stem, path.resolve()
    loaded = sys.modules.get(name)
    if loaded is not None:
        if getattr(loaded, "__file__", None) and Path(loaded.__file__).resolve() == resolved:
            return name  # imported already, by this path or by its name
        raise UserError(f"{where}: {KNOB}: {entry} would be module {name!r}, but a module of that name is "
                        f"imported already ({getattr(loaded, '__file__', None) or 'built in'}); rename the file")
    spec = importlib.util.spec_from_file_location(name, resolved)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as an import by name would: pickling and a later `import name` find it
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        del sys.modules[name]
        raise _failed(entry, err, where) from None
    return name


def _failed(entry: str, err: Exception, where: str) -> UserError:
    reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}".rstrip(": ")
    hint = f"; add the folder of {err.name!r} to PYTHONPATH" if isinstance(err, ModuleNotFoundError) and err.name \
        else "; fix it, or leave it out"
    return UserError(f"{where}: {KNOB}: importing {entry} failed ({reason}){hint}")
