"""Root, mounts, /dev, masked and read-only paths, sysctl, propagation: each
checked from inside the container (mountinfo, stat, writes that must fail)."""
from __future__ import annotations

import os
import subprocess

import pytest

from helpers import run_container
from test_namespaces import USERNS


def inside(runtime, bundle, script: str) -> str:
    code, out, err = run_container(runtime, bundle, "sh", "-c", script)
    assert code == 0, err
    return out


def add_mount(bundle, **mount):
    bundle.edit(lambda c: c["mounts"].append(mount))


def mount_line(out: str, target: str) -> tuple[list[str], str, list[str]]:
    """(per-mount options, optional fields, super options) of target in mountinfo output."""
    for line in out.splitlines():
        parts = line.split()
        if len(parts) > 4 and parts[4] == target:
            sep = parts.index("-")
            return parts[5].split(","), " ".join(parts[6:sep]), parts[sep + 3].split(",")
    raise AssertionError(f"{target} not mounted:\n{out}")


def test_readonly_root(runtime, bundle):
    bundle.edit(lambda c: c["root"].update(readonly=True))
    code, _, err = run_container(runtime, bundle, "touch", "/newfile")
    assert code == 1 and "Read-only file system" in err
    out = inside(runtime, bundle, "cat /proc/self/mountinfo")
    assert "ro" in mount_line(out, "/")[0]


@pytest.mark.parametrize("option,flag", [("ro", "ro"), ("nosuid", "nosuid"), ("nodev", "nodev"),
                                         ("noexec", "noexec"), ("noatime", "noatime"),
                                         ("strictatime", None), ("nodiratime", "nodiratime")])
def test_tmpfs_flags(runtime, bundle, option, flag):
    add_mount(bundle, destination="/mnt/t", type="tmpfs", source="tmpfs", options=[option, "size=1m", "mode=700"])
    out = inside(runtime, bundle, "cat /proc/self/mountinfo; stat -c %a /mnt/t")
    opts, _, sopts = mount_line(out, "/mnt/t")
    assert out.split()[-1] == "700" and "size=1024k" in sopts
    if flag:
        assert flag in opts
    else:
        assert "relatime" not in opts and "noatime" not in opts  # strictatime shows as neither


def test_noexec_really_blocks_exec(runtime, bundle):
    add_mount(bundle, destination="/mnt/x", type="tmpfs", source="tmpfs", options=["noexec"])
    code, out, err = run_container(runtime, bundle, "sh", "-c", "cp /bin/busybox /mnt/x/b && /mnt/x/b true")
    assert code != 0 and "Permission denied" in err


def test_bind_file_and_missing_destinations(runtime, bundle, tmp_path):
    src = tmp_path / "hostfile"
    src.write_text("from host\n")
    add_mount(bundle, destination="/deep/new/file.txt", type="bind", source=str(src), options=["bind", "ro"])
    add_mount(bundle, destination="/deep/dir", type="tmpfs", source="tmpfs")
    out = inside(runtime, bundle, "cat /deep/new/file.txt; test -d /deep/dir && echo dir; echo x > /deep/new/file.txt || echo ro")
    assert out.split("\n")[:2] == ["from host", "dir"] and "ro" in out


def test_recursive_options(runtime, bundle, tmp_path):
    """rro / rnosuid reach a submount of an rbind source; plain ro does not."""
    src = tmp_path / "vol"
    (src / "sub").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(src / "sub")], check=True)
    try:
        add_mount(bundle, destination="/r", type="bind", source=str(src), options=["rbind", "rro", "rnosuid"])
        add_mount(bundle, destination="/p", type="bind", source=str(src), options=["rbind", "ro"])
        out = inside(runtime, bundle, "cat /proc/self/mountinfo")
        assert {"ro", "nosuid"} <= set(mount_line(out, "/r/sub")[0])
        assert "ro" in mount_line(out, "/p")[0] and "ro" not in mount_line(out, "/p/sub")[0]
    finally:
        subprocess.run(["umount", "-l", str(src / "sub")], check=True)


@pytest.mark.parametrize("prop,expect", [("rshared", "shared:"), ("rslave", "master:"),
                                         ("rprivate", ""), ("runbindable", "unbindable")])
def test_bind_propagation(runtime, bundle, tmp_path, prop, expect):
    # the source is a shared host mount, so that a slave copy has a master to follow
    src = tmp_path / "p"
    src.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "--make-shared", "tmpfs", str(src)], check=True)
    try:
        bundle.edit(lambda c: c["linux"].update(rootfsPropagation="shared"))
        add_mount(bundle, destination="/prop", type="bind", source=str(src), options=["rbind", prop])
        _, optional, _ = mount_line(inside(runtime, bundle, "cat /proc/self/mountinfo"), "/prop")
    finally:
        subprocess.run(["umount", str(src)], check=True)
    if expect:
        assert expect in optional
    else:
        assert "shared:" not in optional and "master:" not in optional


def test_rootfs_propagation(runtime, bundle):
    bundle.edit(lambda c: c["linux"].update(rootfsPropagation="private"))
    _, optional, _ = mount_line(inside(runtime, bundle, "cat /proc/self/mountinfo"), "/")
    assert "shared:" not in optional and "master:" not in optional


def test_tmpcopyup(runtime, bundle):
    os.makedirs(os.path.join(bundle.rootfs, "data"), exist_ok=True)
    with open(os.path.join(bundle.rootfs, "data", "seed"), "w") as f:
        f.write("seeded\n")
    add_mount(bundle, destination="/data", type="tmpfs", source="tmpfs", options=["tmpcopyup", "mode=755"])
    out = inside(runtime, bundle, "cat /data/seed; echo new > /data/seed; cat /data/seed; grep ' /data ' /proc/self/mountinfo | cut -d' ' -f9")
    assert out.split() == ["seeded", "new", "tmpfs"]
    assert open(os.path.join(bundle.rootfs, "data", "seed")).read() == "seeded\n"  # the image is untouched


def test_overlay_and_mqueue(runtime, bundle, tmp_path):
    for d in ("lower", "upper", "work"):
        (tmp_path / d).mkdir()
    (tmp_path / "lower" / "l").write_text("lower\n")
    add_mount(bundle, destination="/ov", type="overlay", source="overlay",
              options=[f"lowerdir={tmp_path / 'lower'}", f"upperdir={tmp_path / 'upper'}", f"workdir={tmp_path / 'work'}"])
    out = inside(runtime, bundle, "cat /ov/l; echo up > /ov/u; grep -c ' /dev/mqueue ' /proc/self/mountinfo")
    assert out.split() == ["lower", "1"]
    assert (tmp_path / "upper" / "u").read_text() == "up\n"


def test_default_devices_and_symlinks(runtime, bundle):
    out = inside(runtime, bundle, "for d in null zero full tty random urandom; do stat -c '%n %F %t:%T %a' /dev/$d; done; "
                 "for l in fd stdin stdout stderr core ptmx; do echo $l $(readlink /dev/$l); done; stat -c %a /dev/pts/ptmx")
    lines = out.splitlines()
    expected = {"null": "1:3", "zero": "1:5", "full": "1:7", "tty": "5:0", "random": "1:8", "urandom": "1:9"}
    for line in lines[:6]:
        name, numbers, mode = line.rsplit(" ", 3)[0], line.split()[-2], line.split()[-1]
        dev = name.split("/")[-1].split()[0]
        assert "character special file" in line and numbers == expected[dev] and mode == "666", line
    links = dict(line.split() for line in lines[6:12])
    assert links == {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
                     "stderr": "/proc/self/fd/2", "core": "/proc/kcore", "ptmx": "pts/ptmx"}
    assert lines[12] == "666"


def test_config_devices(runtime, bundle):
    bundle.edit(lambda c: c["linux"].update(devices=[
        {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o620, "uid": 1000, "gid": 0},
        {"path": "/dev/sub/fifo", "type": "p"}]))
    out = inside(runtime, bundle, "stat -c '%F %t:%T %a %u %g' /dev/mynull; stat -c %F /dev/sub/fifo; echo x > /dev/mynull && echo writable")
    lines = out.splitlines()
    assert lines[0] == "character special file 1:3 620 1000 0"
    assert lines[1] == "fifo" and lines[2] == "writable"


def test_devices_in_user_namespace_are_bind_mounted(runtime, bundle):
    bundle.edit(lambda c: (c["linux"].update(namespaces=c["linux"]["namespaces"] + [{"type": "user"}], **USERNS),
                           [m.update(options=[o for o in m.get("options", []) if o != "gid=5"])
                            for m in c["mounts"] if m["type"] == "devpts"]))
    out = inside(runtime, bundle, "stat -c '%t:%T' /dev/null; grep ' /dev/null ' /proc/self/mountinfo | wc -l; echo ok > /dev/null && echo w")
    assert out.split() == ["1:3", "1", "w"]


def test_masked_paths(runtime, bundle):
    os.makedirs(os.path.join(bundle.rootfs, "secret-dir"))
    with open(os.path.join(bundle.rootfs, "secret-dir", "key"), "w") as f:
        f.write("k")
    with open(os.path.join(bundle.rootfs, "secret-file"), "w") as f:
        f.write("s")
    bundle.edit(lambda c: c["linux"].update(maskedPaths=["/secret-dir", "/secret-file", "/proc/keys", "/nonexistent"]))
    out = inside(runtime, bundle, "ls -A /secret-dir | wc -l; wc -c < /secret-file; stat -c %t:%T /proc/keys; "
                 "touch /secret-dir/x 2>/dev/null || echo dir-ro; echo x > /secret-file 2>/dev/null; wc -c < /secret-file")
    assert out.split() == ["0", "0", "1:3", "dir-ro", "0"]


def test_readonly_paths_keep_flags(runtime, bundle):
    bundle.edit(lambda c: [m.update(options=["nosuid", "nodev", "noexec"]) for m in c["mounts"] if m["type"] == "proc"])
    out = inside(runtime, bundle, "cat /proc/self/mountinfo; echo 1 > /proc/sys/kernel/domainname 2>&1 || echo refused")
    opts, _, _ = mount_line(out, "/proc/sys")
    assert {"ro", "nosuid", "nodev", "noexec"} <= set(opts)
    assert "refused" in out


def test_sysctl(runtime, bundle):
    bundle.edit(lambda c: c["linux"].update(sysctl={"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234",
                                                     "fs.mqueue.msg_max": "42"}))
    with open("/proc/sys/kernel/shmmni") as f:
        host_shmmni = f.read()
    out = inside(runtime, bundle, "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni /proc/sys/fs/mqueue/msg_max")
    assert out.split() == ["1", "1234", "42"]
    with open("/proc/sys/kernel/shmmni") as f:
        assert f.read() == host_shmmni


def test_cgroup_mount_is_readonly_and_own(runtime, bundle):
    out = inside(runtime, bundle, "cat /proc/self/mountinfo; ls /sys/fs/cgroup/pids; touch /sys/fs/cgroup/x 2>&1 || true")
    assert "ro" in mount_line(out, "/sys/fs/cgroup/pids")[0]
    assert "pids.max" in out and "Read-only file system" in out


def test_no_pivot(runtime, bundle):
    bundle.set_args("sh", "-c", "ls /; cat /proc/self/mountinfo | wc -l")
    cid = runtime.new_id()
    proc = runtime.run("run", "--no-pivot", "--bundle", bundle.path, cid)
    assert proc.returncode == 0, proc.stderr
    assert "bin" in proc.stdout.decode().split()


def test_idmapped_mounts(runtime, bundle, tmp_path):
    src = tmp_path / "vol"
    src.mkdir()
    (src / "f").write_text("x")
    os.chown(src / "f", 0, 0)
    add_mount(bundle, destination="/shifted", type="bind", source=str(src), options=["bind", "idmap"],
              uidMappings=[{"containerID": 0, "hostID": 1000, "size": 1}],
              gidMappings=[{"containerID": 0, "hostID": 2000, "size": 1}])
    out = inside(runtime, bundle, "stat -c '%u %g' /shifted/f; grep ' /shifted ' /proc/self/mountinfo")
    assert out.splitlines()[0] == "1000 2000" and "idmapped" in out


@pytest.mark.parametrize("option, sub_owner", [("idmap", "0 0"), ("ridmap", "1000 2000")])
def test_ridmap_reaches_submounts(runtime, bundle, tmp_path, option, sub_owner):
    """idmap maps the bind's top mount only; ridmap its submounts too (mount_setattr AT_RECURSIVE)."""
    src = tmp_path / "vol"
    (src / "sub").mkdir(parents=True)
    (src / "top").write_text("x")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(src / "sub")], check=True)
    try:
        (src / "sub" / "f").write_text("y")
        add_mount(bundle, destination="/shifted", type="bind", source=str(src), options=["rbind", option],
                  uidMappings=[{"containerID": 0, "hostID": 1000, "size": 1}],
                  gidMappings=[{"containerID": 0, "hostID": 2000, "size": 1}])
        out = inside(runtime, bundle, "stat -c '%u %g' /shifted/top /shifted/sub/f")
        assert out.splitlines() == ["1000 2000", sub_owner]
    finally:
        subprocess.run(["umount", str(src / "sub")], check=True)


def test_idmap_without_mappings_or_userns_is_refused(runtime, bundle, tmp_path):
    add_mount(bundle, destination="/x", type="bind", source=str(tmp_path), options=["bind", "idmap"])
    code, _, err = run_container(runtime, bundle, "true")
    assert code == 1 and "idmap needs uidMappings/gidMappings" in err and err.count("\n") == 1


@pytest.mark.parametrize("mount,message", [
    ({"destination": "/x", "type": "nosuchfs", "source": "none"}, "mount /x: no such device"),
    ({"destination": "/proc", "type": "tmpfs", "source": "tmpfs"}, "only a proc filesystem may be mounted on /proc"),
    ({"destination": "/proc/sys/net", "type": "tmpfs", "source": "t"}, "is inside /proc and cannot be mounted over"),
    ({"destination": "/x", "type": "bind", "source": "/no/such/source", "options": ["bind"]}, "open /no/such/source"),
])
def test_bad_mounts(runtime, bundle, mount, message):
    add_mount(bundle, **mount)
    cid = runtime.new_id()
    proc = runtime.run("create", "--bundle", bundle.path, cid)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and message in err and err.count("\n") == 1, err
    assert not os.path.exists(os.path.join(runtime.root, cid))


def test_bad_device_type(runtime, bundle):
    bundle.edit(lambda c: c["linux"].update(devices=[{"path": "/dev/x", "type": "z"}]))
    code, _, err = run_container(runtime, bundle, "true")
    assert code == 1 and "linux.devices[0].type: must match ^[cbup]$" in err


@pytest.mark.parametrize("prop", ["rshared", "rslave"])
def test_cri_volume_propagation(runtime, bundle, tmp_path, prop):
    """What containerd's CRI writes (runc's meaning, beyond runtime-spec's list): rootfsPropagation
    rshared with an rshared volume (Bidirectional): a mount made in the container reaches the host;
    rslave with an rslave volume (HostToContainer): a mount made on the host reaches the container."""
    src = tmp_path / "vol"
    src.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "--make-shared", "tmpfs", str(src)], check=True)
    try:
        def configure(c):
            c["linux"]["rootfsPropagation"] = prop
            for which in ("bounding", "effective", "permitted"):
                c["process"]["capabilities"][which].append("CAP_SYS_ADMIN")
        bundle.edit(configure)
        add_mount(bundle, destination="/vol", type="bind", source=str(src), options=["rbind", prop])
        if prop == "rshared":
            inside(runtime, bundle, "mkdir /vol/inner && mount -t tmpfs inner /vol/inner && touch /vol/inner/made")
            assert (src / "inner" / "made").exists()
            return
        bundle.set_args("sleep", "600")
        cid = runtime.new_id()
        runtime.run("run", "-d", "--bundle", bundle.path, cid, check=True)
        (src / "late").mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "late", str(src / "late")], check=True)
        (src / "late" / "made").write_text("")
        assert runtime.output("exec", cid, "ls", "/vol/late").split() == ["made"]
    finally:
        subprocess.run(["umount", "-R", "-l", str(src)], check=True)
