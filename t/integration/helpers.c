#include "helpers.h"

#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Integration tests run one at a time: they measure rates and timeouts
 * against real servers, which tests running beside them would skew, and
 * Criterion 2.4's runner leaks a little when tests end together (a report
 * under LeakSanitizer). CRITERION_JOBS from the environment still wins. */
__attribute__((constructor)) static void one_test_at_a_time(void) { setenv("CRITERION_JOBS", "1", 0); }

int upstream_start(upstream *u) { return upstream_start_args(u, NULL); }

int upstream_start_args(upstream *u, const char *const *args) {
  const char *path = getenv("MESH_TEST_UPSTREAM");
  if (!path) path = "./t/mesh-test-upstream";
  int fds[2];
  if (pipe(fds) < 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    const char *argv[32] = {path, "--port", "0"};
    int n = 3;
    for (; args && *args && n < 31; args++) argv[n++] = *args;
    argv[n] = NULL;
    execv(path, (char *const *)argv);
    perror(path);
    _exit(127);
  }
  close(fds[1]);
  char line[64] = {0};
  size_t n = 0;
  while (n < sizeof line - 1) {
    ssize_t r = read(fds[0], line + n, 1);
    if (r <= 0) break;
    if (line[n] == '\n') break;
    n++;
  }
  close(fds[0]);
  if (strncmp(line, "port=", 5) != 0) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
  }
  u->pid = pid;
  u->port = atoi(line + 5);
  snprintf(u->base, sizeof u->base, "http://127.0.0.1:%d", u->port);
  return 0;
}

void upstream_stop(upstream *u) {
  if (u->pid > 0) {
    kill(u->pid, SIGTERM);
    waitpid(u->pid, NULL, 0);
    u->pid = 0;
  }
}

const char *upstream_url(const upstream *u, const char *path, char *buf, size_t len) {
  snprintf(buf, len, "%s%s", u->base, path);
  return buf;
}

int closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  socklen_t l = sizeof a;
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, (struct sockaddr *)&a, sizeof a);
  getsockname(fd, (struct sockaddr *)&a, &l);
  close(fd); /* bound, never listened: connects are refused */
  return ntohs(a.sin_port);
}

int count_fds(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  while (readdir(d)) n++;
  closedir(d);
  return n - 3; /* ".", "..", and the DIR's own fd */
}

void write_file_atomic(const char *path, const char *text) {
  char tmp[512];
  snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  fputs(text, f);
  fclose(f);
  rename(tmp, path);
}

void mkdir_p(const char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
  if (system(cmd) != 0) perror(cmd);
}

void count_log(int level, const char *message, void *user_data) {
  if (level >= 2) {
    (*(int *)user_data)++;
    fprintf(stderr, "libmesh log: %s\n", message);
  }
}
