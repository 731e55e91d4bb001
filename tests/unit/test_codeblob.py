"""pyruntime.startup.codeblob: modules come from the one code file, and never stale."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pyruntime

# The copy of the package the tests run against (site-packages after ./run-tests, the checkout when editable):
# a clean checkout has no compiled cffi modules, so the checkout itself cannot import the container path.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(pyruntime.__file__)))


def python(code: str, *path: str) -> str:
    """Run code the way the launcher starts Python (-I -S), with ``path`` first on sys.path."""
    site = [p for p in sys.path if p.endswith("site-packages")]
    script = f"import sys; sys.path[:0] = {list(path)!r}; sys.path += {site!r}\n" + textwrap.dedent(code)
    out = subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_container_path_is_served_from_the_file(tmp_path):
    blob = str(tmp_path / "modules.marshal")
    python(f"from pyruntime.startup import codeblob; codeblob.build({os.path.join(ROOT, 'pyruntime')!r}, {blob!r})",
           ROOT)
    out = python(f"""
        import builtins
        compiled, real_compile = [], builtins.compile
        def counting_compile(source, filename, *args, **kwargs):
            compiled.append(filename)
            return real_compile(source, filename, *args, **kwargs)
        builtins.compile = counting_compile
        from pyruntime.startup import codeblob
        assert codeblob.install({blob!r})
        import pyruntime.lifecycle.create as m, pyruntime.model.config as c
        print(m.__spec__.loader.__name__)
        print(m.__file__)
        print(len(codeblob.dataclass_codes("pyruntime.model.config")))
        print(c.User(uid=5) == c.User(uid=5), repr(c.User(uid=5)).startswith("User(uid=5,"))
        print([f for f in compiled if str(f).startswith("<dataclass")])
        """, ROOT).split("\n")
    assert out[0] == "_Loader"
    assert out[1] == os.path.join(ROOT, "pyruntime", "lifecycle", "create.py")
    assert int(out[2]) > 5  # the model's dataclass __init__s came compiled too
    assert out[3] == "True True"
    assert out[4] == "[]"  # the lean dataclass compiled none itself: install() told it where they are


def test_a_changed_source_is_imported_from_the_source(tmp_path):
    pkg = tmp_path / "blobby"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text("VALUE = 'old'\n")
    blob = str(tmp_path / "modules.marshal")
    python(f"from pyruntime.startup import codeblob; codeblob.build({str(pkg)!r}, {blob!r})", ROOT, str(tmp_path))
    check = f"""
        from pyruntime.startup import codeblob
        codeblob.install({blob!r}, "blobby")
        import blobby.mod
        print(blobby.mod.VALUE, blobby.mod.__spec__.loader is codeblob._Loader)
        """
    assert python(check, ROOT, str(tmp_path)).split() == ["old", "True"]
    (pkg / "mod.py").write_text("VALUE = 'newer'\n")
    assert python(check, ROOT, str(tmp_path)).split() == ["newer", "False"]


def test_a_file_made_for_another_copy_is_not_used(tmp_path):
    other = tmp_path / "elsewhere"
    (other / "pyruntime").mkdir(parents=True)
    (other / "pyruntime" / "__init__.py").write_text("")
    blob = str(tmp_path / "modules.marshal")
    python(f"from pyruntime.startup import codeblob; codeblob.build({str(other / 'pyruntime')!r}, {blob!r})", ROOT)
    out = python(f"""
        from pyruntime.startup import codeblob
        print(codeblob.install({blob!r}))
        """, ROOT)
    assert out.split() == ["False"]


def test_a_truncated_file_is_not_used(tmp_path):
    blob = tmp_path / "modules.marshal"
    python(f"from pyruntime.startup import codeblob; codeblob.build({os.path.join(ROOT, 'pyruntime')!r}, {str(blob)!r})",
           ROOT)
    data = blob.read_bytes()
    blob.write_bytes(data[:-100])
    assert python(f"from pyruntime.startup import codeblob; print(codeblob.install({str(blob)!r}))", ROOT).split() == ["False"]


def test_an_unreadable_file_changes_nothing(tmp_path):
    out = python(f"""
        import sys
        from pyruntime.startup import codeblob
        before = list(sys.meta_path)
        print(codeblob.install({str(tmp_path / 'missing')!r}), sys.meta_path == before)
        """, ROOT)
    assert out.split() == ["False", "True"]
