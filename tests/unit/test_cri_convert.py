"""The CRI -> OCI conversion (cri_adapter.convert): pure, every case checked by pyruntime's own validator
and planner, so a config the adapter writes is one pyruntime accepts."""
from __future__ import annotations

import pytest

from cri_adapter._proto import cri_pb2 as pb
from cri_adapter.convert import ContainerInputs, PodContext, container_spec, pod_files
from cri_adapter.errors import InvalidArgument
from pyruntime.cgroups.layout import Layout
from pyruntime.lifecycle.plan import CreateOptions, HostFacts, make_plan
from pyruntime.model import spec_from_dict

HOST = HostFacts(Layout("hybrid", {c: f"/sys/fs/cgroup/{c}" for c in ("memory", "cpu", "cpuset", "pids", "devices")},
                        "/sys/fs/cgroup/unified"), 40)
PASSWD = "root:x:0:0:root:/root:/bin/sh\nweb:x:1000:1000::/home/web:/bin/sh\nbroken line\nevil:x:abc:0::/:/bin/sh\n"
GROUP = "root:x:0:\nweb:x:1000:\nwheel:x:10:web,other\naudio:x:29:web\n"
IMAGE = {"Entrypoint": ["/entry"], "Cmd": ["--serve"], "Env": ["PATH=/bin", "A=image"], "WorkingDir": "/srv"}
POD = PodContext(pod_id="p" * 64, pod_name="web", pod_namespace="default", pod_uid="uid1", hostname="web",
                 netns="/run/pins/net", ipcns="/run/pins/ipc", utsns="/run/pins/uts", pidns=None,
                 etc_files={"/etc/hosts": "/pods/p/hosts", "/etc/resolv.conf": "/pods/p/resolv.conf"},
                 cgroup_parent="/kubepods/pod1", sysctls={"net.ipv4.ip_forward": "1"})


def inputs(**kw) -> ContainerInputs:
    base = dict(container_id="c" * 64, rootfs="/bundle/rootfs",
                image_name="busybox:latest", image_config=IMAGE, passwd=PASSWD, group=GROUP)
    base.update(kw)
    return ContainerInputs(**base)


def convert(config=None, sandbox=None, pod=POD, **kw) -> dict:
    config = config or pb.ContainerConfig(metadata=pb.ContainerMetadata(name="c"))
    doc = container_spec(config, sandbox or pb.PodSandboxConfig(), pod, inputs(**kw))
    # the adapter's output is a config pyruntime validates and plans without complaint
    make_plan(spec_from_dict(doc), CreateOptions(id="c1", bundle="/bundle", console_provided=True), HOST)
    return doc


def container(**fields) -> pb.ContainerConfig:
    config = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="c"))
    for key, value in fields.items():
        if isinstance(value, list):
            getattr(config, key).extend(value)
        else:
            setattr(config, key, value)
    return config


def secure(**fields) -> pb.ContainerConfig:
    config = container()
    ctx = config.linux.security_context
    for key, value in fields.items():
        if key in ("run_as_user", "run_as_group"):
            getattr(ctx, key).value = value
        elif isinstance(value, list):
            getattr(ctx, key).extend(value)
        else:
            setattr(ctx, key, value)
    return config


@pytest.mark.parametrize("command,args,expected", [
    ([], [], ["/entry", "--serve"]),            # the image's Entrypoint + Cmd
    ([], ["--debug"], ["/entry", "--debug"]),   # args replace Cmd
    (["/bin/sh"], [], ["/bin/sh"]),             # command replaces Entrypoint and drops Cmd
    (["/bin/sh"], ["-c", "x"], ["/bin/sh", "-c", "x"]),
])
def test_command_and_args_merge_as_kubernetes_does(command, args, expected):
    assert convert(container(command=command, args=args))["process"]["args"] == expected


def test_no_command_anywhere_is_refused():
    with pytest.raises(InvalidArgument, match="command"):
        convert(image_config={})


def test_env_request_overrides_image_in_place_and_path_is_kept():
    config = container(envs=[pb.KeyValue(key="A", value=b"mine"), pb.KeyValue(key="B", value=b"2")])
    assert convert(config)["process"]["env"] == ["PATH=/bin", "A=mine", "B=2"]
    assert any(e.startswith("PATH=") for e in convert(image_config={"Cmd": ["x"]})["process"]["env"])


def test_working_dir_from_request_then_image_then_root():
    assert convert(container(working_dir="/work"))["process"]["cwd"] == "/work"
    assert convert()["process"]["cwd"] == "/srv"
    assert convert(image_config={"Cmd": ["x"]})["process"]["cwd"] == "/"
    with pytest.raises(InvalidArgument, match="working_dir"):
        convert(container(working_dir="relative"))


def test_user_by_uid_gets_the_groups_the_image_gives_that_user():
    user = convert(secure(run_as_user=1000))["process"]["user"]
    assert user == {"uid": 1000, "gid": 1000, "additionalGids": [10, 29]}


def test_user_by_name_and_group_override_and_supplemental_groups():
    user = convert(secure(run_as_username="web", run_as_group=5, supplemental_groups=[77]))["process"]["user"]
    assert user == {"uid": 1000, "gid": 5, "additionalGids": [10, 29, 77]}


def test_a_group_without_a_user_is_refused():
    with pytest.raises(InvalidArgument, match="run_as_group"):
        convert(secure(run_as_group=5))


def test_selinux_relabel_is_a_no_op_without_selinux():
    doc = convert(container(mounts=[pb.Mount(container_path="/d", host_path="/x", selinux_relabel=True)]))
    assert {m["destination"]: m["options"] for m in doc["mounts"]}["/d"] == ["rbind", "rprivate", "rw"]
    with pytest.raises(InvalidArgument, match="not supported"):
        convert(container(mounts=[pb.Mount(container_path="/d", host_path="/x", selinux_relabel=True)]),
                selinux=True)


def test_image_user_forms():
    assert convert(image_config=dict(IMAGE, User="web"))["process"]["user"]["uid"] == 1000
    assert convert(image_config=dict(IMAGE, User="web:wheel"))["process"]["user"]["gid"] == 10
    assert convert(image_config=dict(IMAGE, User="4242:4243"))["process"]["user"] == {"uid": 4242, "gid": 4243}


def test_unknown_user_names_are_refused_and_bad_lines_are_not_trusted():
    with pytest.raises(InvalidArgument, match="'nobody' is not in the image's /etc/passwd"):
        convert(secure(run_as_username="nobody"))
    with pytest.raises(InvalidArgument, match="evil"):
        convert(secure(run_as_username="evil"))  # its uid field is not a number


def test_default_capabilities_and_add_drop():
    caps = convert()["process"]["capabilities"]["bounding"]
    assert "CAP_NET_RAW" in caps and "CAP_SYS_ADMIN" not in caps
    config = secure()
    config.linux.security_context.capabilities.add_capabilities.append("NET_ADMIN")
    config.linux.security_context.capabilities.drop_capabilities.append("CAP_NET_RAW")
    caps = convert(config)["process"]["capabilities"]["effective"]
    assert "CAP_NET_ADMIN" in caps and "CAP_NET_RAW" not in caps


def test_drop_all_then_add():
    config = secure()
    config.linux.security_context.capabilities.drop_capabilities.append("ALL")
    config.linux.security_context.capabilities.add_capabilities.append("CHOWN")
    assert convert(config)["process"]["capabilities"]["permitted"] == ["CAP_CHOWN"]


def test_unknown_capability_is_refused():
    config = secure()
    config.linux.security_context.capabilities.add_capabilities.append("CAP_TELEPORT")
    with pytest.raises(InvalidArgument, match="CAP_TELEPORT"):
        convert(config)


def test_privileged_needs_a_privileged_pod_and_gets_everything():
    with pytest.raises(InvalidArgument, match="pod is not privileged"):
        convert(secure(privileged=True))
    sandbox = pb.PodSandboxConfig()
    sandbox.linux.security_context.privileged = True
    doc = convert(secure(privileged=True), sandbox, host_devices={"/dev/null": ("c", 1, 3, 0o666)})
    assert len(doc["process"]["capabilities"]["bounding"]) > 40
    assert doc["linux"]["maskedPaths"] == [] and "seccomp" not in doc["linux"]
    assert {"allow": True, "access": "rwm"} in doc["linux"]["resources"]["devices"]


def test_masked_and_readonly_paths_default_or_as_kubelet_sends():
    doc = convert()
    assert "/proc/kcore" in doc["linux"]["maskedPaths"] and "/proc/sys" in doc["linux"]["readonlyPaths"]
    doc = convert(secure(masked_paths=["/proc/x"], readonly_paths=["/proc/y"]))
    assert doc["linux"]["maskedPaths"] == ["/proc/x"] and doc["linux"]["readonlyPaths"] == ["/proc/y"]


def _denied(doc) -> set[str]:
    return {n for rule in doc["linux"]["seccomp"]["syscalls"] if "args" not in rule for n in rule["names"]}


def test_seccomp_runtime_default_unconfined_and_localhost():
    assert "seccomp" not in convert()["linux"]  # unset: unconfined, as kubelet's default
    config = secure()
    config.linux.security_context.seccomp.profile_type = pb.SecurityProfile.RuntimeDefault
    assert {"mount", "keyctl", "unshare", "clone3"} <= _denied(convert(config))
    config.linux.security_context.capabilities.add_capabilities.append("SYS_ADMIN")
    assert "mount" not in _denied(convert(config)) and "keyctl" in _denied(convert(config))
    config.linux.security_context.seccomp.profile_type = pb.SecurityProfile.Unconfined
    assert "seccomp" not in convert(config)["linux"]
    config.linux.security_context.seccomp.profile_type = pb.SecurityProfile.Localhost
    config.linux.security_context.seccomp.localhost_ref = "/profiles/p.json"
    docker = '{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"architecture": "SCMP_ARCH_X86_64"}],' \
             ' "syscalls": [{"name": "read", "action": "SCMP_ACT_ALLOW"}]}'
    profile = convert(config, seccomp_localhost=docker)["linux"]["seccomp"]
    assert profile["architectures"] == ["SCMP_ARCH_X86_64"] and profile["syscalls"][0]["names"] == ["read"]
    with pytest.raises(InvalidArgument, match="not a seccomp profile"):
        convert(config, seccomp_localhost="[]")


def test_mounts_propagation_readonly_and_pod_files():
    config = container(mounts=[
        pb.Mount(container_path="/data", host_path="/srv/data", readonly=True),
        pb.Mount(container_path="/shared", host_path="/srv/s", propagation=pb.PROPAGATION_BIDIRECTIONAL),
        pb.Mount(container_path="/etc/hosts", host_path="/kubelet/hosts"),
    ])
    mounts = {m["destination"]: m for m in convert(config)["mounts"]}
    assert mounts["/data"]["options"] == ["rbind", "rprivate", "ro"]
    assert mounts["/shared"]["options"] == ["rbind", "rshared", "rw"]
    assert mounts["/etc/hosts"]["source"] == "/kubelet/hosts"  # the request's own wins over the pod's
    assert mounts["/etc/resolv.conf"]["source"] == "/pods/p/resolv.conf"
    assert convert(config)["linux"]["rootfsPropagation"] == "rshared"  # else the root cuts propagation off
    slave = container(mounts=[pb.Mount(container_path="/s", host_path="/s", propagation=pb.PROPAGATION_HOST_TO_CONTAINER)])
    assert convert(slave)["linux"]["rootfsPropagation"] == "rslave"
    assert "rootfsPropagation" not in convert()["linux"]


def test_an_image_volume_binds_the_directory_made_for_it():
    config = container(mounts=[pb.Mount(container_path="/x", host_path="/x"),
                               pb.Mount(container_path="/img", image=pb.ImageSpec(image="busybox"), readonly=True)])
    mounts = {m["destination"]: m for m in convert(config, image_volumes={1: "/bundle/image-volumes/1/etc"})["mounts"]}
    assert mounts["/img"] == {"destination": "/img", "type": "bind", "source": "/bundle/image-volumes/1/etc",
                              "options": ["rbind", "rprivate", "ro"]}


@pytest.mark.parametrize("mount,message", [
    (pb.Mount(container_path="data", host_path="/x"), "not absolute"),
    (pb.Mount(container_path="/d", host_path=""), "host_path: empty"),
    (pb.Mount(container_path="/d", host_path="/x", recursive_read_only=True), "needs readonly"),
    (pb.Mount(container_path="/d", image=pb.ImageSpec(image="busybox")), "readonly: an image volume is read-only"),
    (pb.Mount(container_path="/d", image=pb.ImageSpec(image="busybox"), readonly=True), "not available as a volume"),
])
def test_bad_mounts_are_refused_naming_the_field(mount, message):
    with pytest.raises(InvalidArgument, match=message):
        convert(container(mounts=[mount]))


def test_devices_known_unknown_and_permissions():
    config = container(devices=[pb.Device(container_path="/dev/fuse", host_path="/dev/fuse", permissions="rw")])
    doc = convert(config, devices={"/dev/fuse": ("c", 10, 229, 0o666)})
    assert doc["linux"]["devices"][0] == {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                                          "fileMode": 0o666, "uid": 0, "gid": 0}
    assert {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"} in doc["linux"]["resources"]["devices"]
    with pytest.raises(InvalidArgument, match="not a device node"):
        convert(config)
    config.devices[0].permissions = "rwx"
    with pytest.raises(InvalidArgument, match="permissions"):
        convert(config, devices={"/dev/fuse": ("c", 10, 229, 0o666)})


def _namespaces(doc) -> dict:
    return {n["type"]: n.get("path") for n in doc["linux"]["namespaces"]}


def test_namespace_modes():
    assert _namespaces(convert()) == {"mount": None, "network": "/run/pins/net", "ipc": "/run/pins/ipc",
                                      "uts": "/run/pins/uts", "pid": None, "cgroup": None}
    config = secure()
    opts = config.linux.security_context.namespace_options
    opts.pid = pb.CONTAINER
    assert _namespaces(convert(config, pod=PodContext(**{**POD.__dict__, "pidns": "/proc/9/ns/pid"})))["pid"] is None
    assert _namespaces(convert(pod=PodContext(**{**POD.__dict__, "pidns": "/proc/9/ns/pid"})))["pid"] == "/proc/9/ns/pid"
    opts.pid, opts.network, opts.ipc = pb.NODE, pb.NODE, pb.NODE
    host = PodContext(**{**POD.__dict__, "netns": None, "ipcns": None, "utsns": None, "sysctls": {}})
    assert _namespaces(convert(config, pod=host)) == {"mount": None, "cgroup": None}
    opts.pid = pb.TARGET
    with pytest.raises(InvalidArgument, match="target"):
        convert(config, pod=host)
    assert _namespaces(convert(config, pod=host, target_pidns="/proc/7/ns/pid"))["pid"] == "/proc/7/ns/pid"


def test_resources_and_cgroups_path():
    config = container()
    r = config.linux.resources
    r.cpu_shares, r.cpu_quota, r.cpu_period, r.memory_limit_in_bytes = 512, 50000, 100000, 64 << 20
    r.cpuset_cpus, r.oom_score_adj = "0", 500
    doc = convert(config)
    res = doc["linux"]["resources"]
    assert res["cpu"] == {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"}
    assert res["memory"] == {"limit": 64 << 20} and doc["process"]["oomScoreAdj"] == 500
    assert doc["linux"]["cgroupsPath"] == "/kubepods/pod1/" + "c" * 64
    slice_pod = PodContext(**{**POD.__dict__, "cgroup_parent": "kubepods-besteffort-pod1.slice"})
    assert convert(pod=slice_pod)["linux"]["cgroupsPath"] == "kubepods-besteffort-pod1.slice:pyruntime-cri:" + "c" * 64


def test_pod_sysctls_annotations_readonly_rootfs_tty():
    config = secure(readonly_rootfs=True, no_new_privs=True)
    config.tty = True
    config.annotations["team"] = "a"
    doc = convert(config)
    assert doc["linux"]["sysctl"] == {"net.ipv4.ip_forward": "1"}
    assert doc["root"] == {"path": "/bundle/rootfs", "readonly": True}
    assert doc["process"]["terminal"] is True and doc["process"]["noNewPrivileges"] is True
    assert doc["annotations"]["team"] == "a"
    assert doc["annotations"]["io.kubernetes.cri.sandbox-id"] == "p" * 64


def test_pod_files():
    sandbox = pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(name="web"), hostname="web-0")
    sandbox.dns_config.servers.append("10.0.0.10")
    sandbox.dns_config.searches.append("default.svc.cluster.local")
    sandbox.dns_config.options.append("ndots:5")
    files = pod_files.files(sandbox, "node1", "nameserver 1.1.1.1\n", "127.0.0.1 localhost\n")
    assert files["/etc/hostname"] == "web-0\n" and "127.0.1.1\tweb-0" in files["/etc/hosts"]
    assert files["/etc/resolv.conf"] == \
        "search default.svc.cluster.local\nnameserver 10.0.0.10\noptions ndots:5\n"
    plain = pod_files.files(pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(name="p")), "node1",
                            "nameserver 1.1.1.1\n", "")
    assert plain["/etc/resolv.conf"] == "nameserver 1.1.1.1\n" and plain["/etc/hostname"] == "node1\n"
    host = pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(name="p"))
    host.linux.security_context.namespace_options.network = pb.NODE
    assert pod_files.files(host, "node1", "", "127.0.0.1 localhost\n")["/etc/hostname"] == "node1\n"


def test_apparmor_profiles():
    config = secure()
    config.linux.security_context.apparmor.profile_type = pb.SecurityProfile.Localhost
    config.linux.security_context.apparmor.localhost_ref = "k8s-nginx"
    with pytest.raises(InvalidArgument, match="no AppArmor"):
        convert(config)
    assert convert(config, apparmor=True)["process"]["apparmorProfile"] == "k8s-nginx"
    config.linux.security_context.apparmor.profile_type = pb.SecurityProfile.RuntimeDefault
    assert "apparmorProfile" not in convert(config)["process"]  # nothing to apply where AppArmor is off
    with pytest.raises(InvalidArgument, match="RuntimeDefault"):
        convert(config, apparmor=True)
    legacy = secure(apparmor_profile="localhost/old-style")
    assert convert(legacy, apparmor=True)["process"]["apparmorProfile"] == "old-style"
