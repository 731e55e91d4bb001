# setup.cfg holds the metadata; this file exists only because cffi_modules
# (the compiled kernel-call and libseccomp bindings) can be declared only here.
from setuptools import setup

setup(cffi_modules=[
    "pyruntime/_build_kernel.py:ffi",
    "pyruntime/seccomp/_build.py:ffi",
])
