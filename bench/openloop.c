/* Open-loop HTTP/1.1 load for `scripts/bench --rush` (bench/rush.py builds and runs it).
 *
 * Why C: on this 2-core machine the generator shares the cores with the server it measures.
 * The asyncio generator it replaces spent ~0.3 ms of Python per request; at 5× the capacity
 * of POST /vote (1,500 arrivals/s) that was a third of a core taken from the server.  Here a
 * request costs its system calls.
 *
 *   openloop HOST PORT RATE PATIENCE_S NEEDLE REQUESTS OUT
 *   openloop HOST PORT 0 PATIENCE_S NEEDLE REQUESTS OUT CONCURRENCY DURATION_S
 *
 * REQUESTS: the prepared requests, each a 4-byte little-endian length and its bytes.
 * Request i leaves at start + i / RATE on a connection of its own, whatever the server
 * does (as voters arrive); it is given up PATIENCE_S after its due time (the voter
 * leaves).  With RATE 0 the loop is closed instead (the capacity): CONCURRENCY requests
 * in flight, the next leaving as one ends, for DURATION_S; the elapsed seconds, from
 * the first departure to the last answer, are printed on stdout.  OUT gets one line per request, in no particular order:
 *
 *   i outcome latency_us status needle location
 *
 * outcome 0: answered (read to the server's close); 1: given up; 2: refused or reset.
 * latency counts from the due time, so a generator falling behind shows as latency.
 * needle is 1 when NEEDLE occurs in the answer; location is the Location header or "-".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CAP (64 * 1024) /* bytes of an answer kept: the head and the start of the page */

typedef struct {
    const char *req;
    uint32_t len, sent;
    int fd;
    char *buf;
    uint32_t got;
    int64_t due;  /* µs */
    int done;
} Conn;

static int64_t now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static FILE *out;
static const char *needle;
static int epfd;
static long active;

static void finish(Conn *c, long i, int outcome, int64_t at) {
    int status = 0, found = 0;
    char location[512] = "-";
    if (c->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
        active--;
    }
    if (outcome == 0 && c->got >= 12 && memcmp(c->buf, "HTTP/1.", 7) == 0) {
        status = atoi(c->buf + 9);
        found = memmem(c->buf, c->got, needle, strlen(needle)) != NULL;
        char *head_end = memmem(c->buf, c->got, "\r\n\r\n", 4);
        size_t head = head_end ? (size_t)(head_end - c->buf) : c->got;
        for (char *p = c->buf; p < c->buf + head;) {
            char *eol = memmem(p, c->buf + head - p, "\r\n", 2);
            char *line_end = eol ? eol : c->buf + head;
            if (line_end - p > 9 && strncasecmp(p, "location:", 9) == 0) {
                char *v = p + 9;
                while (v < line_end && *v == ' ') v++;
                size_t n = (size_t)(line_end - v) < sizeof location ? (size_t)(line_end - v) : sizeof location - 1;
                memcpy(location, v, n);
                location[n] = 0;
                for (char *s = location; *s; s++) if (*s == ' ') *s = '+';
                break;
            }
            p = line_end + 2;
        }
    } else if (outcome == 0) {
        outcome = 2; /* closed without an answer */
    }
    fprintf(out, "%ld %d %lld %d %d %s\n", i, outcome, (long long)(at - c->due), status, found, location);
    free(c->buf);
    c->buf = NULL;
    c->done = 1;
}

int main(int argc, char **argv) {
    if (argc != 8 && argc != 10) {
        fprintf(stderr, "usage: openloop HOST PORT RATE PATIENCE_S NEEDLE REQUESTS OUT [CONCURRENCY DURATION_S]\n");
        return 2;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        fprintf(stderr, "openloop: bad address %s\n", argv[1]);
        return 2;
    }
    double rate = atof(argv[3]);
    int64_t patience = (int64_t)(atof(argv[4]) * 1e6);
    needle = argv[5];
    FILE *in = fopen(argv[6], "rb");
    out = fopen(argv[7], "w");
    long concurrency = argc == 10 ? atol(argv[8]) : 0;
    int64_t duration = argc == 10 ? (int64_t)(atof(argv[9]) * 1e6) : 0;
    if (!in || !out || (rate <= 0 && (concurrency <= 0 || duration <= 0))) {
        perror("openloop");
        return 2;
    }
    struct rlimit lim;
    getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);

    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    rewind(in);
    char *data = malloc(size ? size : 1);
    if (fread(data, 1, size, in) != (size_t)size) {
        perror("openloop: read");
        return 2;
    }
    long count = 0, cap = 1024;
    Conn *conns = calloc(cap, sizeof *conns);
    for (long off = 0; off + 4 <= size;) {
        uint32_t len;
        memcpy(&len, data + off, 4);
        if (count == cap) conns = realloc(conns, (cap *= 2) * sizeof *conns);
        conns[count++] = (Conn){.req = data + off + 4, .len = len, .fd = -1};
        off += 4 + len;
    }
    epfd = epoll_create1(0);
    int64_t start = now_us() + 200000;
    if (rate > 0)
        for (long i = 0; i < count; i++) conns[i].due = start + (int64_t)(i * 1e6 / rate);
    int64_t end = start + duration;

    long next = 0, oldest = 0;
    struct epoll_event events[512];
    char chunk[65536];
    while (oldest < count) {
        int64_t t = now_us();
        if (rate <= 0 && t >= end) count = next; /* closed loop: no departure after DURATION_S */
        /* Arrivals: every request due by now leaves, on its own connection (closed loop: while
         * fewer than CONCURRENCY are in flight). */
        while (next < count && (rate > 0 ? conns[next].due <= t : t >= start && active < concurrency)) {
            Conn *c = &conns[next];
            if (rate <= 0) c->due = t;
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (c->fd < 0) {
                finish(c, next++, 2, t);
                continue;
            }
            active++;
            int one = 1;
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
                finish(c, next++, 2, t);
                continue;
            }
            struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u64 = (uint64_t)next};
            epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
            next++;
        }
        /* Patience: requests leave in order, so the oldest unfinished one is the first to give up. */
        while (oldest < next && (conns[oldest].done || conns[oldest].due + patience <= t)) {
            if (!conns[oldest].done) finish(&conns[oldest], oldest, 1, t);
            oldest++;
        }
        if (oldest == count) break;
        int64_t wake = next >= count ? INT64_MAX : rate > 0 ? conns[next].due : t < start ? start : end;
        if (oldest < next && conns[oldest].due + patience < wake) wake = conns[oldest].due + patience;
        int timeout = wake == INT64_MAX ? 1000 : (int)((wake - t + 999) / 1000);
        int n = epoll_wait(epfd, events, 512, timeout < 0 ? 0 : timeout);
        for (int k = 0; k < n; k++) {
            long i = (long)events[k].data.u64;
            Conn *c = &conns[i];
            if (c->done) continue;
            if (c->sent < c->len && (events[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
                ssize_t w = send(c->fd, c->req + c->sent, c->len - c->sent, MSG_NOSIGNAL);
                if (w < 0 && errno != EAGAIN) {
                    finish(c, i, 2, now_us());
                    continue;
                }
                if (w > 0 && (c->sent += (uint32_t)w) == c->len) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
                    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
                }
                continue;
            }
            if (events[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                ssize_t r;
                while ((r = recv(c->fd, chunk, sizeof chunk, 0)) > 0) {
                    if (!c->buf) c->buf = malloc(CAP);
                    uint32_t keep = c->got + r > CAP ? CAP - c->got : (uint32_t)r;
                    memcpy(c->buf + c->got, chunk, keep);
                    c->got += keep;
                }
                if (r == 0) finish(c, i, 0, now_us());
                else if (errno != EAGAIN) finish(c, i, 2, now_us());
            }
        }
    }
    fclose(out);
    if (rate <= 0) printf("%.6f\n", (now_us() - start) / 1e6);
    return 0;
}
