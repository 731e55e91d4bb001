/* A workload for `pyruntime trace`: system calls made only by threads, a ptrace() of its own
 * (refused: the process is traced already) and a thread that dies in the middle of a call.
 * Built static by the test, so it runs in the busybox bundle. */
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/ptrace.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static void *only_in_a_thread(void *arg) {
    struct sysinfo si;
    struct utsname u;
    (void)arg;
    sysinfo(&si); /* made by this thread only */
    uname(&u);
    return NULL;
}

static volatile long sleeper_tid;

static void *sleeper(void *arg) {
    (void)arg;
    struct timespec ts = {1000, 0};
    sleeper_tid = syscall(SYS_gettid);
    nanosleep(&ts, NULL); /* still in it when the process exits */
    return NULL;
}

/* until the sleeper is asleep (its state 'S': nanosleep is the only call it makes after gettid) */
static void wait_until_asleep(void) {
    char path[64], state = 0;
    while (!sleeper_tid)
        ;
    snprintf(path, sizeof path, "/proc/self/task/%ld/stat", sleeper_tid);
    while (state != 'S') {
        FILE *f = fopen(path, "r");
        if (f) {
            if (fscanf(f, "%*d %*s %c", &state) != 1)
                state = 0;
            fclose(f);
        }
    }
}

int main(void) {
    pthread_t a, b;
    pthread_create(&a, NULL, only_in_a_thread, NULL);
    pthread_join(a, NULL);
    pthread_create(&b, NULL, sleeper, NULL);
    wait_until_asleep();
    long traced = ptrace(PTRACE_TRACEME, 0, NULL, NULL);
    printf("threads done, ptrace %s\n", traced == -1 ? "refused" : "allowed");
    fflush(stdout);
    return 7;
}
