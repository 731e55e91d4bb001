"""cffi builder for ``pyruntime._kernel``: every kernel call the runtime makes.

Out-of-line API mode: this file runs once, at install, and produces a compiled
extension; nothing here is parsed at run time. Calls that glibc does not wrap
(or wraps only in newer versions) go through ``syscall(2)`` with our own struct
layouts, so the module builds the same against any glibc of the last decade.
Declarations are grouped by area; pyruntime.kernel.* holds one thin Python
wrapper per call.
"""
from cffi import FFI

NAMESPACES = """
int unshare(int flags);
int setns(int fd, int nstype);
#define CLONE_NEWNS ...
#define CLONE_NEWUTS ...
#define CLONE_NEWIPC ...
#define CLONE_NEWUSER ...
#define CLONE_NEWPID ...
#define CLONE_NEWNET ...
#define CLONE_NEWCGROUP ...
#define CLONE_NEWTIME ...
#define CLONE_INTO_CGROUP ...
#define CLONE_PIDFD ...
#define CLONE_PARENT ...
long pyrt_clone3_fork(unsigned long long flags, int cgroup_fd, int *pidfd);
"""

MOUNTS = """
int mount(const char *source, const char *target, const char *fstype,
          unsigned long flags, const void *data);
int umount2(const char *target, int flags);
int pyrt_pivot_root(const char *new_root, const char *put_old);
int pyrt_open_tree(int dfd, const char *path, unsigned int flags);
int pyrt_move_mount(int from_dfd, const char *from_path, int to_dfd,
                    const char *to_path, unsigned int flags);
int pyrt_mount_setattr(int dfd, const char *path, unsigned int flags,
                       unsigned long long attr_set, unsigned long long attr_clr,
                       unsigned long long propagation, unsigned long long userns_fd);
int pyrt_fsopen(const char *fsname, unsigned int flags);
int pyrt_fsconfig(int fd, unsigned int cmd, const char *key, const void *value, int aux);
int pyrt_fsmount(int fd, unsigned int flags, unsigned int attr_flags);
#define MS_RDONLY ...
#define MS_NOSUID ...
#define MS_NODEV ...
#define MS_NOEXEC ...
#define MS_SYNCHRONOUS ...
#define MS_REMOUNT ...
#define MS_MANDLOCK ...
#define MS_DIRSYNC ...
#define MS_NOSYMFOLLOW ...
#define MS_NOATIME ...
#define MS_NODIRATIME ...
#define MS_BIND ...
#define MS_MOVE ...
#define MS_REC ...
#define MS_SILENT ...
#define MS_UNBINDABLE ...
#define MS_PRIVATE ...
#define MS_SLAVE ...
#define MS_SHARED ...
#define MS_RELATIME ...
#define MS_STRICTATIME ...
#define MS_LAZYTIME ...
#define MS_I_VERSION ...
#define MNT_DETACH ...
#define MNT_FORCE ...
#define UMOUNT_NOFOLLOW ...
#define OPEN_TREE_CLONE ...
#define OPEN_TREE_CLOEXEC ...
#define AT_RECURSIVE ...
#define AT_EMPTY_PATH ...
#define AT_SYMLINK_NOFOLLOW ...
#define MOVE_MOUNT_F_EMPTY_PATH ...
#define MOVE_MOUNT_T_EMPTY_PATH ...
#define MOUNT_ATTR_RDONLY ...
#define MOUNT_ATTR_NOSUID ...
#define MOUNT_ATTR_NODEV ...
#define MOUNT_ATTR_NOEXEC ...
#define MOUNT_ATTR__ATIME ...
#define MOUNT_ATTR_RELATIME ...
#define MOUNT_ATTR_NOATIME ...
#define MOUNT_ATTR_STRICTATIME ...
#define MOUNT_ATTR_NODIRATIME ...
#define MOUNT_ATTR_IDMAP ...
#define MOUNT_ATTR_NOSYMFOLLOW ...
#define FSOPEN_CLOEXEC ...
#define FSMOUNT_CLOEXEC ...
#define FSCONFIG_SET_FLAG ...
#define FSCONFIG_SET_STRING ...
#define FSCONFIG_CMD_CREATE ...
"""

FILES = """
int pyrt_openat2(int dirfd, const char *path, unsigned long long flags,
                 unsigned long long mode, unsigned long long resolve);
int pyrt_close_range(unsigned int first, unsigned int last, unsigned int flags);
int pyrt_unix_connect(const char *path);
int pyrt_memfd_create(const char *name, unsigned int flags);
long pyrt_fstatfs_type(int fd);
int socket(int domain, int type, int protocol);
int socketpair(int domain, int type, int protocol, int sv[2]);
#define AF_UNIX ...
#define AF_INET ...
#define SOCK_STREAM ...
#define SOCK_DGRAM ...
#define SOCK_SEQPACKET ...
#define SOCK_CLOEXEC ...
#define RESOLVE_NO_XDEV ...
#define RESOLVE_NO_MAGICLINKS ...
#define RESOLVE_NO_SYMLINKS ...
#define RESOLVE_BENEATH ...
#define RESOLVE_IN_ROOT ...
#define CLOSE_RANGE_CLOEXEC ...
#define MFD_CLOEXEC ...
#define MFD_ALLOW_SEALING ...
#define O_PATH ...
"""

PROCESS = """
int prctl(int option, unsigned long arg2, unsigned long arg3,
          unsigned long arg4, unsigned long arg5);
int pyrt_capget(unsigned int pid, unsigned int *data6);
int pyrt_capset(unsigned int pid, const unsigned int *data6);
int sethostname(const char *name, size_t len);
int setdomainname(const char *name, size_t len);
int personality(unsigned long persona);
int pyrt_sched_setattr(int pid, unsigned int policy, unsigned long long flags,
                       int nice, unsigned int priority, unsigned long long runtime,
                       unsigned long long deadline, unsigned long long period);
int pyrt_ioprio_set(int which, int who, int ioprio);
int pyrt_ioprio_get(int which, int who);
int pyrt_seccomp_load(unsigned int flags, const void *insns, unsigned short count);
int pyrt_seccomp(unsigned int op, unsigned int flags, void *args);
int pyrt_set_mempolicy(int mode, const unsigned long *nodemask, unsigned long maxnode);
int pyrt_get_mempolicy(int *mode, unsigned long *nodemask, unsigned long maxnode,
                       void *addr, unsigned long flags);
long pyrt_keyctl_join_session(const char *name);
int pyrt_prlimit(int resource, int set, unsigned long long soft, unsigned long long hard,
                 unsigned long long *old2);
#define PR_SET_PDEATHSIG ...
#define PR_SET_DUMPABLE ...
#define PR_GET_DUMPABLE ...
#define PR_SET_KEEPCAPS ...
#define PR_SET_NO_NEW_PRIVS ...
#define PR_GET_NO_NEW_PRIVS ...
#define PR_CAPBSET_READ ...
#define PR_CAPBSET_DROP ...
#define PR_CAP_AMBIENT ...
#define PR_CAP_AMBIENT_RAISE ...
#define PR_CAP_AMBIENT_CLEAR_ALL ...
#define PR_SET_CHILD_SUBREAPER ...
#define PR_SET_NAME ...
#define PR_SET_SECCOMP ...
#define PR_GET_SECCOMP ...
"""

BPF = """
long pyrt_bpf(int cmd, void *attr, unsigned int size);
"""

CDEF = NAMESPACES + MOUNTS + FILES + PROCESS + BPF

SOURCE = r"""
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/resource.h>

/* Values from the kernel uapi, for toolchains whose headers predate them. */
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif
#ifndef MS_LAZYTIME
#define MS_LAZYTIME (1 << 25)
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#define MOUNT_ATTR_NOEXEC 0x00000008
#define MOUNT_ATTR__ATIME 0x00000070
#define MOUNT_ATTR_RELATIME 0x00000000
#define MOUNT_ATTR_NOATIME 0x00000010
#define MOUNT_ATTR_STRICTATIME 0x00000020
#define MOUNT_ATTR_NODIRATIME 0x00000080
#endif
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif
#ifndef MOUNT_ATTR_NOSYMFOLLOW
#define MOUNT_ATTR_NOSYMFOLLOW 0x00200000
#endif
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x00000001
#endif
#ifndef FSCONFIG_SET_FLAG
#define FSCONFIG_SET_FLAG 0
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6
#endif
#ifndef RESOLVE_NO_XDEV
#define RESOLVE_NO_XDEV 0x01
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS 0x04
#define RESOLVE_BENEATH 0x08
#define RESOLVE_IN_ROOT 0x10
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef __NR_clone3
#define __NR_clone3 435
#endif
#ifndef __NR_open_tree
#define __NR_open_tree 428
#define __NR_move_mount 429
#define __NR_fsopen 430
#define __NR_fsconfig 431
#define __NR_fsmount 432
#endif
#ifndef __NR_openat2
#define __NR_openat2 437
#endif
#ifndef __NR_close_range
#define __NR_close_range 436
#endif
#ifndef __NR_mount_setattr
#define __NR_mount_setattr 442
#endif

struct pyrt_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size,
             tls, set_tid, set_tid_size, cgroup;
};
struct pyrt_open_how { uint64_t flags, mode, resolve; };
struct pyrt_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };
struct pyrt_cap_header { uint32_t version; int pid; };
struct pyrt_sched_attr {
    uint32_t size, sched_policy; uint64_t sched_flags; int32_t sched_nice;
    uint32_t sched_priority; uint64_t sched_runtime, sched_deadline, sched_period;
};

/* clone3 wrapped like os.fork(): the interpreter's fork hooks run around the
   raw syscall, so the child is a sound Python process (locks reset, threads
   state fixed up). cffi calls us without the GIL; take it for the hooks.
   The hooks are outside the limited C API that cffi compiles against. */
void PyOS_BeforeFork(void);
void PyOS_AfterFork_Parent(void);
void PyOS_AfterFork_Child(void);
long pyrt_clone3_fork(unsigned long long flags, int cgroup_fd, int *pidfd)
{
    struct pyrt_clone_args args;
    memset(&args, 0, sizeof(args));
    args.flags = flags;
    args.exit_signal = SIGCHLD;
    if (cgroup_fd >= 0) { args.flags |= CLONE_INTO_CGROUP; args.cgroup = (uint64_t)cgroup_fd; }
    if (pidfd) { args.flags |= CLONE_PIDFD; args.pidfd = (uint64_t)(uintptr_t)pidfd; }
    PyGILState_STATE gil = PyGILState_Ensure();
    PyOS_BeforeFork();
    long pid = syscall(__NR_clone3, &args, sizeof(args));
    int saved = errno;
    /* the child's first act: the directory fd is the host's, and a process of the container
       that may look at /proc/<pid>/fd (CAP_SYS_PTRACE) could walk up from it (CVE-2024-21626
       class); closed here, before the interpreter's fork hooks, it is held for the least time */
    if (pid == 0 && cgroup_fd >= 0) close(cgroup_fd);
    if (pid == 0) PyOS_AfterFork_Child(); else PyOS_AfterFork_Parent();
    PyGILState_Release(gil);
    errno = saved;
    return pid;
}

int pyrt_pivot_root(const char *new_root, const char *put_old)
{ return syscall(SYS_pivot_root, new_root, put_old); }
int pyrt_open_tree(int dfd, const char *path, unsigned int flags)
{ return syscall(__NR_open_tree, dfd, path, flags); }
int pyrt_move_mount(int from_dfd, const char *from_path, int to_dfd,
                    const char *to_path, unsigned int flags)
{ return syscall(__NR_move_mount, from_dfd, from_path, to_dfd, to_path, flags); }
int pyrt_mount_setattr(int dfd, const char *path, unsigned int flags,
                       unsigned long long attr_set, unsigned long long attr_clr,
                       unsigned long long propagation, unsigned long long userns_fd)
{
    struct pyrt_mount_attr attr = { attr_set, attr_clr, propagation, userns_fd };
    return syscall(__NR_mount_setattr, dfd, path, flags, &attr, sizeof(attr));
}
int pyrt_fsopen(const char *fsname, unsigned int flags)
{ return syscall(__NR_fsopen, fsname, flags); }
int pyrt_fsconfig(int fd, unsigned int cmd, const char *key, const void *value, int aux)
{ return syscall(__NR_fsconfig, fd, cmd, key, value, aux); }
int pyrt_fsmount(int fd, unsigned int flags, unsigned int attr_flags)
{ return syscall(__NR_fsmount, fd, flags, attr_flags); }

int pyrt_openat2(int dirfd, const char *path, unsigned long long flags,
                 unsigned long long mode, unsigned long long resolve)
{
    struct pyrt_open_how how = { flags, mode, resolve };
    return syscall(__NR_openat2, dirfd, path, &how, sizeof(how));
}
int pyrt_close_range(unsigned int first, unsigned int last, unsigned int flags)
{ return syscall(__NR_close_range, first, last, flags); }
/* A close-on-exec stream socket connected to the AF_UNIX socket at path. */
int pyrt_unix_connect(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(addr.sun_path)) { errno = ENAMETOOLONG; return -1; }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}
int pyrt_memfd_create(const char *name, unsigned int flags)
{ return syscall(SYS_memfd_create, name, flags); }

/* Capabilities use the v3 ABI: two 32-bit words per set (effective,
   permitted, inheritable), laid out as data6[set*2 + word]. */
int pyrt_capget(unsigned int pid, unsigned int *data6)
{
    struct pyrt_cap_header h = { 0x20080522, (int)pid };
    uint32_t d[6];
    int rc = syscall(SYS_capget, &h, d);
    if (rc == 0) {
        data6[0] = d[0]; data6[1] = d[3];   /* effective */
        data6[2] = d[1]; data6[3] = d[4];   /* permitted */
        data6[4] = d[2]; data6[5] = d[5];   /* inheritable */
    }
    return rc;
}
int pyrt_capset(unsigned int pid, const unsigned int *data6)
{
    struct pyrt_cap_header h = { 0x20080522, (int)pid };
    uint32_t d[6] = { data6[0], data6[2], data6[4], data6[1], data6[3], data6[5] };
    return syscall(SYS_capset, &h, d);
}
int pyrt_sched_setattr(int pid, unsigned int policy, unsigned long long flags,
                       int nice, unsigned int priority, unsigned long long runtime,
                       unsigned long long deadline, unsigned long long period)
{
    struct pyrt_sched_attr a;
    memset(&a, 0, sizeof(a));
    a.size = sizeof(a); a.sched_policy = policy; a.sched_flags = flags;
    a.sched_nice = nice; a.sched_priority = priority; a.sched_runtime = runtime;
    a.sched_deadline = deadline; a.sched_period = period;
    return syscall(SYS_sched_setattr, pid, &a, 0);
}
int pyrt_ioprio_set(int which, int who, int ioprio)
{ return syscall(SYS_ioprio_set, which, who, ioprio); }
int pyrt_ioprio_get(int which, int who)
{ return syscall(SYS_ioprio_get, which, who); }
int pyrt_seccomp(unsigned int op, unsigned int flags, void *args)
{ return syscall(SYS_seccomp, op, flags, args); }
/* SECCOMP_SET_MODE_FILTER with a program exported by libseccomp (8-byte insns). */
int pyrt_seccomp_load(unsigned int flags, const void *insns, unsigned short count)
{
    struct { unsigned short len; const void *filter; } prog = { count, insns };
    return syscall(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, flags, &prog);
}
int pyrt_set_mempolicy(int mode, const unsigned long *nodemask, unsigned long maxnode)
{ return syscall(SYS_set_mempolicy, mode, nodemask, maxnode); }
int pyrt_get_mempolicy(int *mode, unsigned long *nodemask, unsigned long maxnode,
                       void *addr, unsigned long flags)
{ return syscall(SYS_get_mempolicy, mode, nodemask, maxnode, addr, flags); }
/* f_type of the filesystem an fd is on (PROC_SUPER_MAGIC, ...); -1 on error. */
long pyrt_fstatfs_type(int fd)
{
    struct statfs st;
    if (fstatfs(fd, &st) < 0) return -1;
    return (long)st.f_type;
}
/* KEYCTL_JOIN_SESSION_KEYRING: a fresh session keyring named for the container. */
long pyrt_keyctl_join_session(const char *name)
{ return syscall(SYS_keyctl, 1, name); }
int pyrt_prlimit(int resource, int set, unsigned long long soft, unsigned long long hard,
                 unsigned long long *old2)
{
    struct rlimit new_limit = { (rlim_t)soft, (rlim_t)hard }, old_limit;
    int rc = prlimit(0, resource, set ? &new_limit : NULL, &old_limit);
    if (rc == 0 && old2) { old2[0] = old_limit.rlim_cur; old2[1] = old_limit.rlim_max; }
    return rc;
}
long pyrt_bpf(int cmd, void *attr, unsigned int size)
{ return syscall(SYS_bpf, cmd, attr, size); }
"""

ffi = FFI()
ffi.cdef(CDEF)
ffi.set_source("pyruntime._kernel", SOURCE)

if __name__ == "__main__":
    ffi.compile(verbose=True)
