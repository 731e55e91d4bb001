/*
 * launcher.c - /usr/local/bin/pyruntime: start the runtime's Python on an executable no
 * container can write (CVE-2019-5736 class).
 *
 * Every process of the runtime, and any container process that execs /proc/self/exe of
 * one (`#!/proc/self/exe` as a container's program), runs the interpreter this launcher
 * executes. So that interpreter is
 *  - a private copy (install.sh makes the venv with --copies), never the host's shared
 *    /usr/bin/python3, and
 *  - executed from a detached, read-only clone of its directory (open_tree +
 *    mount_setattr): /proc/<pid>/exe then names a file on a read-only mount that is in no
 *    mount namespace, so no one can remount it and an open for writing fails with EROFS.
 *    runc 1.2 seals its binary the same way (with an overlay; a bind clone is enough here
 *    because the mount is never attached anywhere). It costs ~0.05 ms.
 * A caller the kernel does not let clone mounts (an unprivileged user: rootless) runs the
 * copy by path, but only when it cannot write the file itself; otherwise it refuses.
 *
 * It also raises the soft RLIMIT_NOFILE to the hard limit, as Go does at start (and so
 * runc): a caller's low soft limit must not fail a create half-way, nor Python's own
 * imports. The caller's soft limit goes on in PYRUNTIME_CALLER_NOFILE, and the
 * container's process gets it back unless its config sets one (process/rlimits.py).
 *
 * Built by install.sh with INTERPRETER (the copy) and SCRIPT (the Python entry) defined.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/mount.h>

#ifndef INTERPRETER
#error "build with -DINTERPRETER=\"/path/to/venv/bin/python3\""
#endif
#ifndef SCRIPT
#error "build with -DSCRIPT=\"/path/to/launcher.py\""
#endif

extern char **environ;

static int die(const char *what, int err)
{
    fprintf(stderr, "pyruntime: %s %s: %s\n", what, INTERPRETER, strerror(err));
    return 255;
}

/* An O_PATH fd of the interpreter on a detached read-only mount; -1 with errno set. */
static int open_sealed(void)
{
    char dir[] = INTERPRETER, name[] = INTERPRETER;
    int tree = syscall(SYS_open_tree, AT_FDCWD, dirname(dir), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0)
        return -1;
    struct mount_attr attr = {
        .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
    };
    int fd = -1;
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) == 0)
        fd = openat(tree, basename(name), O_PATH | O_CLOEXEC);
    int saved = errno;
    close(tree);  /* the mount lives on through fd, in no namespace */
    errno = saved;
    return fd;
}

static void raise_nofile(void)
{
    struct rlimit lim;
    char caller[24];
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        snprintf(caller, sizeof caller, "%llu", (unsigned long long)lim.rlim_cur);
        lim.rlim_cur = lim.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &lim) == 0)
            setenv("PYRUNTIME_CALLER_NOFILE", caller, 1);
    }
}

int main(int argc, char **argv)
{
    raise_nofile();
    int exe = open_sealed();
    if (exe < 0) {
        if (errno != EPERM)
            return die("sealing", errno);
        /* unprivileged: acceptable only if we could not write the interpreter anyway */
        if (faccessat(AT_FDCWD, INTERPRETER, W_OK, AT_EACCESS) == 0)
            return die("cannot seal, and the caller may write", EPERM);
        exe = open(INTERPRETER, O_PATH | O_CLOEXEC);
        if (exe < 0)
            return die("opening", errno);
    }
    char **args = calloc(argc + 4, sizeof *args);
    if (args == NULL)
        return die("starting", ENOMEM);
    args[0] = INTERPRETER;  /* Python finds its prefix and the venv from argv[0] */
    args[1] = "-IS";        /* isolated, no site: nothing in the environment changes the code */
    args[2] = SCRIPT;
    for (int i = 1; i < argc; i++)
        args[i + 2] = argv[i];
    syscall(SYS_execveat, exe, "", args, environ, AT_EMPTY_PATH);
    return die("executing", errno);
}
