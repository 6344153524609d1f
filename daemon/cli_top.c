/*
 * hvmeter top — `hvmeter status` redrawn every few seconds, the VMs sorted
 * by CPU, like top(1). Plain ANSI (clear, home) on a terminal; on a pipe
 * each refresh is printed after a blank line, for scripts (-n).
 *
 * The store is opened read-only for each refresh: nothing is held between
 * two, so the agent's compactions and restarts never meet a stale reader.
 */
#include "daemon/cli.h"
#include "daemon/config.h"
#include "store/store.h"
#include "wire/timefmt.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t top_stop;

static void on_stop(int sig)
{
	top_stop = sig;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: hvmeter top --store DIR [-d SECONDS] [-n ITERATIONS]\n"
		     "  -d SECONDS     refresh period (0.1..3600, default 2)\n"
		     "  -n ITERATIONS  stop after that many refreshes (default: until q or Ctrl-C)\n"
		     "  keys: q quits, any other key refreshes now\n");
}

struct top_opts {
	const char *dir;
	double delay;
	unsigned long iterations; /* 0: until stopped */
};

static int parse_args(int argc, char **argv, struct top_opts *o)
{
	static const struct option opts[] = { { "store", required_argument, NULL, 's' },
					      { "help", no_argument, NULL, 'h' }, { 0 } };
	char *end;
	int opt;

	o->dir = NULL;
	o->delay = 2;
	o->iterations = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "d:n:h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			o->dir = optarg;
			break;
		case 'd':
			o->delay = strtod(optarg, &end);
			if (*end || end == optarg || !(o->delay >= 0.1 && o->delay <= 3600)) {
				fprintf(stderr, "hvmeter top: -d: a number of seconds in 0.1..3600: '%s'\n", optarg);
				return 2;
			}
			break;
		case 'n': {
			uint64_t n;

			if (parse_u64(optarg, 1, 1000000, 0, &n)) {
				fprintf(stderr, "hvmeter top: -n: a count in 1..1000000: '%s'\n", optarg);
				return 2;
			}
			o->iterations = (unsigned long)n;
			break;
		}
		case 'h':
			usage(stdout);
			return -1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!o->dir || optind != argc) {
		usage(stderr);
		return 2;
	}
	return 0;
}

/* One screen: a title, then what `hvmeter status` says, cut to the terminal.
 * Returns 0, or the store's error (shown on the screen too). */
static int draw(const struct top_opts *o, bool tty)
{
	struct store_opts so = { .read_only = true };
	struct winsize ws = { .ws_row = 0 };
	struct store *st = NULL;
	char *text = NULL, now[RFC3339_LEN];
	size_t len = 0, rows = 0, cols = 0;
	FILE *mem = open_memstream(&text, &len);
	struct timespec ts;
	int err;

	if (!mem)
		return -ENOMEM;
	clock_gettime(CLOCK_REALTIME, &ts);
	rfc3339_format((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, now, sizeof(now));
	/* seconds are enough on screen */
	now[19] = 'Z';
	now[20] = '\0';
	fprintf(mem, "hvmeter top - %s - every %.1f s - q quits\n\n", now, o->delay);
	err = store_open(&st, o->dir, &so);
	if (!err)
		err = status_print(st, o->dir, true, mem);
	if (err)
		fprintf(mem, "cannot read store %s: %s (retrying)\n", o->dir, store_strerror(err));
	store_close(st);
	if (fclose(mem) != 0) {
		free(text);
		return -ENOMEM;
	}
	if (tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) {
		rows = ws.ws_row;
		cols = ws.ws_col;
	}
	fputs(tty ? "\033[H\033[2J" : "\n", stdout);
	/* cut lines to the width and the screen to the height: no wrap, no scroll */
	for (const char *line = text; *line && (!rows || rows > 1); rows -= rows ? 1 : 0) {
		size_t n = strcspn(line, "\n");

		printf("%.*s\n", (int)(cols && n > cols ? cols : n), line);
		line += n + (line[n] == '\n');
	}
	fflush(stdout);
	free(text);
	return err;
}

/* Waits the refresh period; true when a key or signal says to stop. */
static bool wait_key(double delay, bool keys)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	int ms = (int)(delay * 1000);
	char c;

	if (top_stop)
		return true;
	if (poll(&p, keys ? 1 : 0, ms) > 0 && keys && read(STDIN_FILENO, &c, 1) == 1)
		return c == 'q' || c == 'Q';
	return top_stop != 0;
}

int cli_top(int argc, char **argv)
{
	struct top_opts o;
	struct termios saved, raw;
	struct sigaction sa = { .sa_handler = on_stop };
	bool tty = isatty(STDOUT_FILENO), keys = isatty(STDIN_FILENO), restore = false;
	int rc = parse_args(argc, argv, &o);

	if (rc)
		return rc < 0 ? 0 : rc;
	/* no SA_RESTART: a signal must cut the wait short */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (keys && tcgetattr(STDIN_FILENO, &saved) == 0) {
		/* keys arrive one by one and unechoed; Ctrl-C still signals */
		raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		restore = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	for (unsigned long i = 1;; i++) {
		rc = draw(&o, tty);
		if ((o.iterations && i >= o.iterations) || wait_key(o.delay, keys))
			break;
	}
	if (restore)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	/* for scripts: the last screen could not read the store */
	return rc ? 1 : 0;
}
