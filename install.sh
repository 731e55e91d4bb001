#!/bin/sh
# install.sh - install pyruntime on a Debian 12 machine (run as root).
#
#   ./install.sh            install (or reinstall) from this checkout
#   PYRUNTIME_EDITABLE=1 ./install.sh
#                           editable install: the checkout itself is what runs
#
# What it does:
#  1. apt: the compiler, Python headers and libseccomp-dev that the cffi
#     modules are built against, python3-venv, and busybox-static (demo rootfs);
#  2. a venv at $PREFIX (default /opt/pyruntime) made from Debian's
#     /usr/bin/python3, and `pip install .` into it (compiles the cffi modules);
#  3. /usr/local/bin/pyruntime: a small C launcher (tools/launcher.c) that runs
#     the venv's private copy of the interpreter from a read-only, detached
#     mount (no container can ever write the executable it sees as
#     /proc/self/exe), isolated and without the site machinery (-I -S): no
#     pyenv shim, no .pth processing, ~10 ms instead of ~50 ms, and nothing from
#     the caller's environment (PYTHONPATH...) changes the code a runtime runs
#     as root; $PREFIX/launcher.py is the Python side;
#  4. compiles every module into one code file read at start-up
#     (see pyruntime/startup/codeblob.py);
#  5. a demo bundle at /var/lib/pyruntime/demo (busybox rootfs).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PREFIX=${PREFIX:-/opt/pyruntime}
BIN=${BIN:-/usr/local/bin/pyruntime}
DEMO=${DEMO:-/var/lib/pyruntime/demo}
say() { printf 'install.sh: %s\n' "$*"; }

[ "$(id -u)" = 0 ] || { echo "install.sh: run as root" >&2; exit 1; }

need=""
for pkg in python3-venv python3-dev gcc libseccomp-dev libseccomp2 busybox-static; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need="$need $pkg"
done
if [ -n "$need" ]; then
  say "apt-get install$need"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

# --copies: the runtime's interpreter is its own file, not the host's shared
# /usr/bin/python3 (the launcher seals it read-only; see tools/launcher.c). A
# venv from before that links to the shared one: make it anew.
if [ -L "$PREFIX/venv/bin/python3" ]; then
  say "replacing $PREFIX/venv (it links to the shared interpreter)"
  rm -rf "$PREFIX/venv"
fi
if [ ! -x "$PREFIX/venv/bin/python3" ]; then
  say "creating $PREFIX/venv"
  /usr/bin/python3 -m venv --copies "$PREFIX/venv"
fi
py="$PREFIX/venv/bin/python3"
pip_log=$(mktemp)
pip() { "$py" -m pip install -q --disable-pip-version-check "$@" >>"$pip_log" 2>&1 || { cat "$pip_log" >&2; rm -f "$pip_log"; exit 1; }; }
pip --upgrade pip
if [ "${PYRUNTIME_EDITABLE:-}" = 1 ]; then
  say "pip install -e $here[cri]"
  pip -e "$here[cri]"
else
  say "pip install $here[cri]"
  pip --force-reinstall --no-deps "$here"
  pip "$here[cri]"
fi
rm -f "$pip_log"

# where the package landed (site-packages, or the checkout when editable),
# and where its dependencies are (_cffi_backend, python-ptrace, jeepney)
pkgdir=$(cd / && "$py" -c 'import os, pyruntime; print(os.path.dirname(os.path.dirname(pyruntime.__file__)))')
sitedir=$(cd / && "$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# the CRI adapter's gRPC modules, generated from our proto where the package landed
# (protoc names a module after the proto's path below -I: cri_adapter/_proto/cri.proto)
protodir=$(mktemp -d)
mkdir -p "$protodir/cri_adapter/_proto"
cp "$here/spec/cri.proto" "$protodir/cri_adapter/_proto/"
"$py" -m grpc_tools.protoc -I"$protodir" --python_out="$pkgdir" --grpc_python_out="$pkgdir" \
  "$protodir/cri_adapter/_proto/cri.proto"
# containerd's shim v2 task API and the messages it carries (containerd_shim/_proto/*_pb2.py)
mkdir -p "$protodir/containerd_shim/_proto"
cp "$here"/spec/shim/*.proto "$protodir/containerd_shim/_proto/"
"$py" -m grpc_tools.protoc -I"$protodir" --python_out="$pkgdir" "$protodir"/containerd_shim/_proto/*.proto
rm -rf "$protodir"
ln -sf "$PREFIX/venv/bin/pyruntime-cri" /usr/local/bin/pyruntime-cri
# containerd finds a shim by its runtime_type: io.containerd.pyruntime.v2 -> containerd-shim-pyruntime-v2.
# containerd waits for its `start` and `delete` on every container, so like the runtime's launcher it
# starts Python without site (-IS) and with the paths set here
shim=/usr/local/bin/containerd-shim-pyruntime-v2
cat > "$shim.tmp" <<SHIM
#!$py -IS
# containerd-shim-pyruntime-v2, written by install.sh
import sys
sys.path[:0] = ["$pkgdir"]$( [ "$pkgdir" = "$sitedir" ] || printf '\nsys.path.append("%s")' "$sitedir")
from containerd_shim.main import main
sys.exit(main())
SHIM
chmod 755 "$shim.tmp" && mv "$shim.tmp" "$shim"

cat > "$PREFIX/launcher.py.tmp" <<LAUNCHER
# pyruntime's Python entry, written by install.sh and run by the launcher $BIN
import gc, sys
gc.disable()  # a short-lived command: collections only cost start-up time
sys.path[:0] = ["$pkgdir"]$( [ "$pkgdir" = "$sitedir" ] || printf '\nsys.path.append("%s")' "$sitedir")
from pyruntime.startup import codeblob
codeblob.install()
from pyruntime.cli.main import entry
entry()
LAUNCHER
mv "$PREFIX/launcher.py.tmp" "$PREFIX/launcher.py"
gcc -O2 -Wall -Werror -o "$BIN.tmp" "$here/tools/launcher.c" \
  -DINTERPRETER="\"$py\"" -DSCRIPT="\"$PREFIX/launcher.py\""
chmod 755 "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
# -X no_debug_ranges: code without column positions (tracebacks keep their line numbers), a
# tenth less to read and unmarshal at every start
(cd / && "$py" -IS -X no_debug_ranges -c "import sys; sys.path[:0] = ['$pkgdir']; sys.path.append('$sitedir'); from pyruntime.startup import codeblob; codeblob.main()")
say "installed $BIN ($("$BIN" --version | sed -n 4p))"

if [ ! -e "$DEMO/config.json" ]; then
  mkdir -p "$DEMO"
  PYRUNTIME="$BIN" "$here/tools/busybox-bundle.sh" "$DEMO" sh -c \
    'echo "hello from $(hostname): pid $$ in new pid, mount, uts, ipc, network and cgroup namespaces"; ls /proc/self/ns | tr "\n" " "; echo'
  say "demo bundle at $DEMO"
fi
