"""The type stubs (imagor/__init__.pyi) against the module: every public
name has a stub and every stub a runtime name, with the same members and
parameters; then mypy's stubtest, when mypy is installed."""

import ast
import inspect
import os
import pathlib
import subprocess
import sys
import types

import pytest

import imagor

PKG = pathlib.Path(imagor.__file__).parent
STUB = ast.parse((PKG / "__init__.pyi").read_text())


def stub_names():
    names = {}
    for node in STUB.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    names[t.id] = node
    return {k: v for k, v in names.items() if not k.startswith("_") or k == "__version__"}


def runtime_names():
    return {k for k, v in vars(imagor).items()
            if (not k.startswith("_") or k == "__version__")
            and not isinstance(v, types.ModuleType)}


def test_same_public_names():
    assert set(stub_names()) == runtime_names()
    assert sorted(imagor.__all__) == sorted(runtime_names())
    stub_all = next(n for n in STUB.body if isinstance(n, ast.Assign)
                    and any(getattr(t, "id", "") == "__all__" for t in n.targets))
    assert sorted(ast.literal_eval(stub_all.value)) == sorted(imagor.__all__)


def _public_members(cls):
    own = set()
    for klass in cls.__mro__:
        if klass in (object, Exception, BaseException, ValueError, TimeoutError, OSError):
            break
        own.update(k for k in vars(klass) if not k.startswith("_"))
    return own


@pytest.mark.parametrize("name", sorted(k for k, v in stub_names().items()
                                        if isinstance(v, ast.ClassDef)))
def test_class_members(name):
    node = stub_names()[name]
    members = set()
    for item in node.body:
        if isinstance(item, ast.FunctionDef):
            members.add(item.name)
        elif isinstance(item, ast.AnnAssign):
            members.add(item.target.id)
    public = {m for m in members if not m.startswith("_")}
    cls = getattr(imagor, name)
    runtime = _public_members(cls)
    if issubclass(cls, imagor.ImagorError):
        # The stub declares .status, .code and .message on ImagorError (set
        # on every instance); each kind also has code/status on its class.
        assert runtime <= {"code", "status"}
        assert public == ({"code", "status", "message"} if cls is imagor.ImagorError else set())
        return
    assert public == runtime


@pytest.mark.parametrize("name", sorted(k for k, v in stub_names().items()
                                        if isinstance(v, ast.FunctionDef)))
def test_function_parameters(name):
    node = stub_names()[name]
    a = node.args
    stub = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
    if a.vararg:
        stub.append("*" + a.vararg.arg)
    if a.kwarg:
        stub.append("**" + a.kwarg.arg)
    params = inspect.signature(getattr(imagor, name)).parameters.values()
    runtime = [("*" if p.kind is p.VAR_POSITIONAL else "**" if p.kind is p.VAR_KEYWORD else "")
               + p.name for p in params]
    assert stub == runtime


def test_py_typed_is_shipped():
    assert (PKG / "py.typed").exists()


def test_stubtest():
    pytest.importorskip("mypy")
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="django_project.settings",
               PYTHONPATH=str(pathlib.Path(__file__).parent))
    config = pathlib.Path(__file__).parents[1] / "pyproject.toml"
    run = subprocess.run([sys.executable, "-m", "mypy.stubtest", "imagor",
                          "--mypy-config-file", str(config)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def test_options_typeddict_lists_every_option():
    """``_Options`` in the stub names exactly the options the core accepts."""
    options = next(n for n in STUB.body if isinstance(n, ast.ClassDef) and n.name == "_Options")
    declared = sorted(n.target.id for n in options.body if isinstance(n, ast.AnnAssign))
    assert declared == sorted(imagor.option_names())
