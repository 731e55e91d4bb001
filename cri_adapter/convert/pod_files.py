"""The files a pod gives each of its containers: /etc/hosts, /etc/resolv.conf, /etc/hostname."""
from __future__ import annotations

from ..errors import InvalidArgument


def hostname(config, host_name: str) -> str:
    """The pod's host name: the request's, or the node's when it names none (as containerd and CRI-O do)."""
    name = config.hostname or host_name
    if not name or len(name) > 64 or any(c in name for c in "\0/\n "):
        raise InvalidArgument(f"hostname: {name!r} is not a valid host name")
    return name


def _host_network(config) -> bool:
    ctx = config.linux.security_context
    return config.HasField("linux") and ctx.HasField("namespace_options") and ctx.namespace_options.network == 2


def resolv_conf(dns, host_resolv: str) -> str:
    """The pod's resolv.conf: DNSConfig when given, the host's otherwise (kubelet's "Default" policy)."""
    if not (dns.servers or dns.searches or dns.options):
        return host_resolv
    lines = []
    if dns.searches:
        lines.append("search " + " ".join(dns.searches))
    lines += [f"nameserver {s}" for s in dns.servers]
    if dns.options:
        lines.append("options " + " ".join(dns.options))
    for line in lines:
        if "\n" in line:
            raise InvalidArgument("dns_config: a value contains a newline")
    return "\n".join(lines) + "\n"


def hosts(name: str, host_hosts: str, host_network: bool) -> str:
    if host_network:
        return host_hosts
    return ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            "fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
            f"127.0.1.1\t{name}\n")


def files(config, host_name: str, host_resolv: str, host_hosts: str) -> dict[str, str]:
    """Container path -> content of the pod's files."""
    name = hostname(config, host_name)
    return {"/etc/hostname": name + "\n",
            "/etc/hosts": hosts(name, host_hosts, _host_network(config)),
            "/etc/resolv.conf": resolv_conf(config.dns_config, host_resolv)}
