/*
 * A hostile image's ELF interpreter (CVE-2019-5736). The image's program is
 * "#!/proc/self/exe", so the kernel runs the runtime's own executable with this
 * file (/lib64/ld-linux-x86-64.so.2 of the image) as its loader: it runs as a
 * container process whose /proc/self/exe is the runtime's interpreter. It writes
 * /exe-report: what that file is (dev, ino), whether its mount is read-only, and
 * the errno of opening it for writing (the attack's first step; the original
 * exploit keeps the O_PATH fd and retries once the runtime has exited).
 *
 * Freestanding (x86-64 syscalls, no libc): as an interpreter, the auxiliary vector
 * describes the main program, which a libc's own start-up would take for ours.
 * Build: gcc -static-pie -nostdlib -fno-stack-protector -O2
 */
typedef unsigned long u64;

static long sys(long n, long a, long b, long c, long d)
{
    long ret;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}

enum { SYS_write = 1, SYS_open = 2, SYS_close = 3, SYS_fstat = 5, SYS_exit = 60, SYS_fstatfs = 138 };
#define O_WRONLY 01
#define O_CREAT 0100
#define O_APPEND 02000
#define O_PATH 010000000
#define ST_RDONLY 1

struct kstat { u64 dev, ino, nlink; unsigned mode, uid, gid, pad; u64 rdev; long size, blksize, blocks;
               u64 times[6]; long unused[3]; };
struct kstatfs { long type, bsize; u64 blocks, bfree, bavail, files, ffree; int fsid[2];
                 long namelen, frsize, flags, spare[4]; };

static char *put(char *p, const char *s) { while (*s) *p++ = *s++; return p; }

static char *num(char *p, u64 v)
{
    char tmp[24];
    int n = 0;
    do { tmp[n++] = '0' + v % 10; v /= 10; } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

void __attribute__((noreturn)) entry(void)
{
    struct kstat st;
    struct kstatfs fs;
    char line[160], path[32], *p;
    long fd = sys(SYS_open, (long)"/proc/self/exe", O_PATH, 0, 0);
    if (fd < 0 || sys(SYS_fstat, fd, (long)&st, 0, 0) || sys(SYS_fstatfs, fd, (long)&fs, 0, 0))
        sys(SYS_exit, 101, 0, 0, 0);
    p = num(put(path, "/proc/self/fd/"), fd);
    *p = 0;
    long w = sys(SYS_open, (long)path, O_WRONLY, 0, 0);
    p = num(put(line, "dev="), st.dev);
    p = num(put(p, " ino="), st.ino);
    p = num(put(p, " readonly="), fs.flags & ST_RDONLY ? 1 : 0);
    p = num(put(p, " write_errno="), w < 0 ? -w : 0);
    p = put(p, "\n");
    long out = sys(SYS_open, (long)"/exe-report", O_WRONLY | O_CREAT | O_APPEND, 0644, 0);
    if (out < 0)
        sys(SYS_exit, 102, 0, 0, 0);
    sys(SYS_write, out, (long)line, p - line, 0);
    sys(SYS_exit, w < 0 ? 0 : 103, 0, 0, 0);
    for (;;) {}
}

__asm__(".globl _start\n_start:\n and $-16, %rsp\n call entry\n");
