"""Image layers are hostile: cri_adapter's unpacker keeps every entry and link inside the layer.

Each tar below is built by hand the way an attacker would (tar-slip with `..`, absolute
names, symlinked parents planted by an earlier entry, hard links to host files,
overlayfs xattrs, a layer that would fill the disk); the host directory next to the
layer must be untouched afterwards.
"""
from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile

import pytest

from cri_adapter.images import unpack


def entry(name: str, kind=tarfile.REGTYPE, data: bytes = b"", **attrs) -> tuple:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.mode = attrs.pop("mode", 0o644)
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def layer(tmp_path, *entries, compress: bool = True) -> str:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    path = tmp_path / "layer.tar.gz"
    path.write_bytes(gzip.compress(raw.getvalue()) if compress else raw.getvalue())
    return str(path)


@pytest.fixture
def host(tmp_path):
    """A directory outside the layer that a hostile layer tries to write into."""
    d = tmp_path / "host"
    d.mkdir()
    (d / "secret").write_text("host secret\n")
    return d


def unpacked(tmp_path, *entries, **kw) -> str:
    dest = str(tmp_path / "layer")
    unpack.unpack(layer(tmp_path, *entries, **kw), dest, unpack.Budget())
    return dest


def test_dotdot_entries_are_refused(tmp_path, host):
    with pytest.raises(unpack.LayerError, match="leaves the layer"):
        unpacked(tmp_path, entry("../host/evil", data=b"x"))
    assert sorted(os.listdir(host)) == ["secret"]


def test_absolute_names_land_inside(tmp_path, host):
    dest = unpacked(tmp_path, entry(f"{host}/evil", data=b"x"))
    assert os.path.isfile(dest + f"{host}/evil") and sorted(os.listdir(host)) == ["secret"]


@pytest.mark.parametrize("target", ["ABS", "../../../../../../../..", "/"])
def test_a_planted_symlink_parent_resolves_inside_the_layer(tmp_path, host, target):
    overwrite = [entry("link/secret", data=b"overwritten")] if target == "ABS" else []
    target = str(host) if target == "ABS" else target
    name = f"pyruntime-escape-{os.getpid()}-{tmp_path.name}"  # where an escape would land: host dir or /
    try:
        dest = unpacked(tmp_path, entry("link", tarfile.SYMTYPE, linkname=target),
                        entry(f"link/{name}", data=b"x"), *overwrite)
        assert os.path.islink(os.path.join(dest, "link"))  # kept as a symlink, as the image wrote it
    finally:
        escaped = [p for p in (f"/{name}", f"{host}/{name}") if os.path.exists(p)]
        for p in escaped:
            os.unlink(p)
    assert escaped == [] and (host / "secret").read_text() == "host secret\n"


def test_hard_links_to_host_files_are_refused(tmp_path, host):
    before = os.stat(host / "secret").st_nlink
    for linkname in (f"{host}/secret", "../host/secret"):
        with pytest.raises(unpack.LayerError):
            unpacked(tmp_path, entry("h", tarfile.LNKTYPE, linkname=linkname))
        os.system(f"rm -rf {tmp_path}/layer")
    with pytest.raises(unpack.LayerError):  # through a symlinked parent planted first
        unpacked(tmp_path, entry("l", tarfile.SYMTYPE, linkname=str(host)),
                 entry("h", tarfile.LNKTYPE, linkname="l/secret"))
    assert os.stat(host / "secret").st_nlink == before


def test_hard_links_inside_the_layer_work(tmp_path):
    dest = unpacked(tmp_path, entry("bin/busybox", data=b"elf", mode=0o755),
                    entry("bin/sh", tarfile.LNKTYPE, linkname="bin/busybox"))
    assert os.stat(dest + "/bin/sh").st_ino == os.stat(dest + "/bin/busybox").st_ino


def test_whiteouts_become_overlayfs_whiteouts(tmp_path):
    dest = unpacked(tmp_path, entry("etc", tarfile.DIRTYPE, mode=0o755), entry("etc/.wh.motd"),
                    entry("var", tarfile.DIRTYPE, mode=0o755), entry("var/.wh..wh..opq"))
    st = os.lstat(dest + "/etc/motd")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(dest + "/var", "trusted.overlay.opaque") == b"y"


def test_only_harmless_xattrs_are_kept(tmp_path):
    info, data = entry("f", data=b"x")
    info.pax_headers = {"SCHILY.xattr.user.note": "kept", "SCHILY.xattr.trusted.overlay.redirect": "/etc",
                        "SCHILY.xattr.security.selinux": "system_u:object_r:shadow_t"}
    dest = unpacked(tmp_path, (info, data))
    assert os.listxattr(dest + "/f") == ["user.note"]


def test_modes_owners_devices_and_fifos(tmp_path):
    dest = unpacked(tmp_path, entry("bin/su", data=b"x", mode=0o4755, uid=0, gid=0),
                    entry("home/u/file", data=b"x", mode=0o600, uid=1000, gid=1000),
                    entry("dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
                    entry("run/fifo", tarfile.FIFOTYPE, mode=0o600))
    assert os.stat(dest + "/bin/su").st_mode & 0o7777 == 0o4755  # setuid survives the chown
    st = os.stat(dest + "/home/u/file")
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (1000, 1000, 0o600)
    st = os.lstat(dest + "/dev/null")
    assert stat.S_ISCHR(st.st_mode) and (os.major(st.st_rdev), os.minor(st.st_rdev)) == (1, 3)
    assert stat.S_ISFIFO(os.lstat(dest + "/run/fifo").st_mode)


def test_a_later_entry_replaces_an_earlier_one(tmp_path):
    dest = unpacked(tmp_path, entry("x", tarfile.SYMTYPE, linkname="/etc/passwd"), entry("x", data=b"plain"))
    assert not os.path.islink(dest + "/x") and open(dest + "/x").read() == "plain"


def test_the_budget_stops_a_layer_that_would_fill_the_disk(tmp_path):
    path = layer(tmp_path, *(entry(f"f{i}", data=b"x" * 1000) for i in range(20)))
    with pytest.raises(unpack.LayerError, match="more than"):
        unpack.unpack(path, str(tmp_path / "small"), unpack.Budget(bytes=5000, entries=100))
    with pytest.raises(unpack.LayerError, match="more than"):
        unpack.unpack(path, str(tmp_path / "few"), unpack.Budget(bytes=1 << 30, entries=5))


def test_plain_and_zstd_layers_and_a_truncated_stream(tmp_path):
    import zstandard
    assert os.path.isfile(unpacked(tmp_path, entry("a", data=b"x"), compress=False) + "/a")
    plain = layer(tmp_path, entry("z/file", data=b"zstd"), compress=False)
    with open(plain, "rb") as f:
        packed = zstandard.ZstdCompressor().compress(f.read())
    zstd = tmp_path / "z.tar.zst"
    zstd.write_bytes(packed)
    unpack.unpack(str(zstd), str(tmp_path / "zd"), unpack.Budget())
    assert open(tmp_path / "zd" / "z" / "file").read() == "zstd"
    for name, data in (("short.zst", packed[:len(packed) // 2]), ("garbage.zst", packed[:4] + b"\xff" * 64)):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(unpack.LayerError):
            unpack.unpack(str(tmp_path / name), str(tmp_path / (name + ".d")), unpack.Budget())
    gz = layer(tmp_path, *(entry(f"f{i}", data=os.urandom(4096)) for i in range(8)))
    with open(gz, "rb") as f:
        whole = f.read()
    (tmp_path / "short.gz").write_bytes(whole[:len(whole) // 2])
    with pytest.raises(unpack.LayerError):
        unpack.unpack(str(tmp_path / "short.gz"), str(tmp_path / "sg"), unpack.Budget())


def test_the_adapter_reads_an_images_passwd_inside_the_image_only(tmp_path, host):
    """/etc/passwd is read to resolve user names: a symlink out of the image, a fifo or a device node
    planted in its place is never followed or opened."""
    from cri_adapter import rootfs
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    os.symlink(f"../../../../../../{host}/secret", root / "etc" / "passwd")
    assert rootfs.read_file(str(root), "/etc/passwd") == ""  # resolved inside the image: nothing there
    os.unlink(root / "etc" / "passwd")
    os.mkfifo(root / "etc" / "passwd")  # opening it would hang: it must not be opened
    assert rootfs.read_file(str(root), "/etc/passwd") == ""
    os.unlink(root / "etc" / "passwd")
    os.mknod(root / "etc" / "passwd", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    assert rootfs.read_file(str(root), "/etc/passwd") == ""
    os.unlink(root / "etc" / "passwd")
    (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    assert rootfs.read_file(str(root), "/etc/passwd").startswith("root:x:0:0")
