#!/bin/sh
# busybox-bundle.sh DIR [ARGS...] - make an OCI bundle in DIR: a busybox rootfs
# built from Debian's busybox-static, and a config.json from `pyruntime spec`
# (terminal off; process.args set to ARGS when given).
# Used by install.sh (the demo bundle), the tests, bench/ and conformance/.
set -eu
dir=$1; shift
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || busybox=/usr/bin/busybox
"$busybox" --list >/dev/null 2>&1 || { echo "busybox-bundle: need busybox-static (apt-get install busybox-static)" >&2; exit 1; }
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/tmp" "$dir/rootfs/root" \
         "$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev"
chmod 1777 "$dir/rootfs/tmp"
cp "$busybox" "$dir/rootfs/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$dir/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$dir/rootfs/etc/passwd"
printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' > "$dir/rootfs/etc/group"
if [ ! -e "$dir/config.json" ]; then
  pyruntime="${PYRUNTIME:-pyruntime}"
  "$pyruntime" spec --bundle "$dir"
  python3 - "$dir/config.json" "$@" <<'PY'
import json, sys
path, args = sys.argv[1], sys.argv[2:]
spec = json.load(open(path))
spec["process"]["terminal"] = False
if args:
    spec["process"]["args"] = args
json.dump(spec, open(path, "w"), indent=2)
PY
fi
