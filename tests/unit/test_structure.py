"""Rules about the code itself: layering, start-up imports, generated files, docstrings."""
from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PKG = os.path.join(REPO, "pyruntime")

# Lower layers never import higher ones, and modules of one layer never import each other's
# packages (no sideways imports). Infrastructure, then the spec model, then one package per
# concern, then the lifecycle that orchestrates them, then the CLI. Two concerns build on
# others, so they sit half a layer up: rootfs (idmapped mounts make a user namespace; the
# cgroup mount follows the host's cgroup layout) and process (launching loads the seccomp
# filter last, and joins the resctrl group).
LAYERS = {
    "startup": 0, "errors": 0, "fileio": 0, "fdpass": 0, "log": 0, "kernel": 0, "_kernel": 0,
    "linux": 0, "safefs": 0,
    "_seccomp": 0, "__init__": 0,
    "model": 1,
    "state": 2, "namespaces": 2, "cgroups": 2, "seccomp": 2, "resctrl": 2, "trace": 2,
    "rootfs": 2.5, "process": 2.5,
    "lifecycle": 3,
    "cli": 4,
}
CONCERNS = {name for name, layer in LAYERS.items() if 2 <= layer < 3}


def modules():
    for root, _, files in os.walk(PKG):
        for name in files:
            if name.endswith(".py") and not name.startswith("_build") and "_build" not in root:
                path = os.path.join(root, name)
                rel = os.path.relpath(path, PKG)
                yield rel, path


def layer_of(rel: str) -> int:
    top = rel.split(os.sep)[0].removesuffix(".py")
    return LAYERS[top]


def imported(path: str):
    tree = ast.parse(open(path).read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pyruntime"):
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            yield node.module if node.module != "pyruntime" else names[1]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("pyruntime"):
                    yield alias.name


def test_layers_never_import_upward():
    wrong = []
    for rel, path in modules():
        mine = layer_of(rel)
        for target in imported(path):
            parts = target.split(".")
            top = parts[1] if len(parts) > 1 else "__init__"
            if top not in LAYERS:
                continue  # e.g. `from pyruntime import SPEC_VERSION`
            if LAYERS[top] > mine:
                wrong.append(f"{rel} imports {target}")
    assert wrong == []


def test_concerns_never_import_each_other_sideways():
    wrong = []
    for rel, path in modules():
        mine = rel.split(os.sep)[0].removesuffix(".py")
        if mine not in CONCERNS:
            continue
        for target in imported(path):
            other = (target.split(".") + [""])[1]
            if other in CONCERNS and other != mine and LAYERS[other] == LAYERS[mine]:
                wrong.append(f"{rel} imports {target}")
    assert wrong == []


# the pure planning modules: decisions only, testable without root (item 5 of issue 14)
PLANS = ("lifecycle/plan.py", "namespaces/plan.py", "rootfs/plan.py", "rootfs/options.py", "process/plan.py",
         "cgroups/path.py",
         "cgroups/resources.py", "cgroups/devices.py", "cgroups/systemd_props.py")


def test_plans_never_import_the_kernel_calls():
    """Plans take Linux's numbers from pyruntime.linux, never the kernel-call wrappers (which load the
    compiled module), nor the runtime's CLI."""
    wrong = [(rel, target) for rel in PLANS for target in imported(os.path.join(PKG, rel))
             if target.split(".")[1:2] in (["kernel"], ["_kernel"], ["cli"])]
    assert wrong == []


def test_planning_loads_no_kernel_call_and_no_compiled_module():
    """Transitively: the plans take decisions from the model and Linux's numbers alone, so they
    run anywhere without root (the capability plan once pulled in the kernel-call wrappers)."""
    code = "; ".join(f"import pyruntime.{rel[:-3].replace(os.sep, '.')}" for rel in PLANS)
    loaded = imports_after(code)
    assert not {m for m in loaded if m.split(".")[:2] in (["pyruntime", "kernel"], ["pyruntime", "_kernel"],
                                                           ["pyruntime", "_seccomp"], ["pyruntime", "cli"])}


def test_the_cli_leaves_status_checks_to_the_lifecycle():
    """Which status allows which verb is decided in lifecycle/ (require), never in cli/."""
    wrong = [rel for rel, path in modules() if rel.startswith("cli" + os.sep)
             and any(isinstance(n, ast.ImportFrom) and n.module == "pyruntime.state.status"
                     and any(a.name == "require" for a in n.names) for n in ast.walk(ast.parse(open(path).read())))]
    assert wrong == []


def test_nothing_imports_the_cli():
    wrong = [(rel, target) for rel, path in modules() if not rel.startswith("cli" + os.sep)
             for target in imported(path) if target.split(".")[1:2] == ["cli"]]
    assert wrong == []


def test_every_dataclass_has_a_docstring():
    """The model is read by people more than by code: every class says what it holds."""
    missing = []
    for rel, path in modules():
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.ClassDef) and any(
                    "dataclass" in ast.unparse(d) for d in node.decorator_list):
                if not ast.get_docstring(node):
                    missing.append(f"{rel}:{node.name}")
    assert missing == []


HEAVY = {"jsonschema", "grpc", "pyroute2", "ptrace", "jeepney", "typing", "argparse", "logging", "inspect",
         "asyncio", "email", "http", "urllib", "socket", "pickle"}


def imports_after(code: str) -> set[str]:
    """sys.modules after running code the way the launcher starts Python (-I -S)."""
    import pyruntime  # the installed package: what the launcher runs
    installed = os.path.dirname(os.path.dirname(pyruntime.__file__))
    site = [p for p in sys.path if p.endswith("site-packages")]
    script = (f"import sys; sys.path[:0] = [{installed!r}]; sys.path += {site!r}\n{code}\n"
              "print(' '.join(sorted(m for m, mod in sys.modules.items()"
              " if type(mod).__name__ != '_DeferredModule')))")  # not loaded until used
    out = subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split()[-1000:])


@pytest.mark.parametrize("verb", ["start", "state", "kill", "delete", "pause"])
def test_quick_verbs_import_little(tmp_path, verb):
    loaded = imports_after(f"from pyruntime.cli.main import main; main(['--root', {str(tmp_path)!r}, {verb!r}, 'x'])")
    top = {m.split(".")[0] for m in loaded}
    assert not top & (HEAVY | {"dataclasses", "re", "json", "subprocess", "enum"}), sorted(top & (HEAVY | {"dataclasses", "re", "json", "subprocess", "enum"}))


def test_create_path_imports_no_heavy_modules(tmp_path):
    bundle = tmp_path / "b"
    (bundle / "rootfs").mkdir(parents=True)
    from pyruntime.cli.verb_spec import default_spec
    import json
    spec = default_spec()
    spec["process"]["terminal"] = False
    (bundle / "config.json").write_text(json.dumps(spec))
    loaded = imports_after(
        "from pyruntime.lifecycle.create import load_plan\n"
        "from pyruntime.lifecycle.plan import CreateOptions\n"
        "import pyruntime.lifecycle.start, pyruntime.cli.verb_run\n"
        f"plan, doc = load_plan(CreateOptions(id='x', bundle={str(bundle)!r}, console_provided=True))\n"
        "from pyruntime.lifecycle import boundary; boundary.preload_for_init(plan)")
    top = {m.split(".")[0] for m in loaded}
    # beyond the heavy ones: re (~5 ms with its compiler), dataclasses and contextlib (with
    # collections, functools, enum): pyruntime has lean stand-ins (model/patterns, startup/dataclass, lifecycle/undo)
    # and importlib (with warnings), _socket and struct: each a measurable share of a container start
    lean = HEAVY | {"re", "dataclasses", "contextlib", "collections", "functools", "enum", "copy",
                    "importlib", "warnings", "_socket", "struct"}
    assert not top & lean, sorted(top & lean)
    assert "pyruntime.model.limits" not in loaded and "pyruntime.model.seccomp" not in loaded


def _top_imports(path: str) -> set[str]:
    tree = ast.parse(open(path).read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
    return found


def test_the_runtime_never_imports_the_cri_adapter_or_its_libraries():
    """pyruntime's container path stays lean: grpc, protobuf, httpx, h11 belong to cri_adapter alone."""
    wrong = [(rel, sorted(_top_imports(path) & {"cri_adapter", "grpc", "google", "httpx", "h11", "pyroute2"}))
             for rel, path in modules()]
    assert [w for w in wrong if w[1]] == []


def test_the_cri_adapter_uses_pyruntime_only_below_its_cli():
    """The adapter drives containers through the runtime's CLI (gRPC threads and fork do not mix); it may
    share the model and the kernel-call wrappers, never the lifecycle or the CLI."""
    adapter = os.path.join(REPO, "cri_adapter")
    wrong = []
    for root, _, files in os.walk(adapter):
        for name in files:
            if name.endswith(".py") and "_proto" not in root:
                path = os.path.join(root, name)
                for target in imported(path):
                    parts = target.split(".")
                    if len(parts) > 1 and LAYERS.get(parts[1], 0) >= LAYERS["lifecycle"]:
                        wrong.append((os.path.relpath(path, REPO), target))
    assert wrong == []
