/* Runs every registered test in its own child process; see test.h. */
#include "test.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int ferry_test_failures;
static struct ferry_test *tests;

void ferry_test_register(struct ferry_test *t)
{
	t->next = tests;
	tests = t;
}

/* Registration order is reversed by the constructors; run in name order for stable output. */
static int by_name(const void *a, const void *b)
{
	return strcmp((*(struct ferry_test *const *)a)->name, (*(struct ferry_test *const *)b)->name);
}

/* FERRY_TEST_TIMEOUT seconds per test (default 120): generous, since tests run under ASan on
 * shared 2-core machines; it only exists to turn a hang into a failure. */
static unsigned test_timeout_seconds(void)
{
	const char *v = getenv("FERRY_TEST_TIMEOUT");
	unsigned long t = v ? strtoul(v, NULL, 10) : 0;
	return t ? (unsigned)t : 120;
}

int main(void)
{
	const char *filter = getenv("FERRY_TEST_FILTER");
	size_t n = 0, i;
	for (struct ferry_test *t = tests; t; t = t->next)
		n++;
	struct ferry_test **all = calloc(n ? n : 1, sizeof *all);
	if (!all)
		return 2;
	i = 0;
	for (struct ferry_test *t = tests; t; t = t->next)
		all[i++] = t;
	qsort(all, n, sizeof *all, by_name);

	int passed = 0, failed = 0;
	for (i = 0; i < n; i++) {
		if (filter && !strstr(all[i]->name, filter))
			continue;
		fflush(stdout);
		fflush(stderr);
		pid_t pid = fork();
		if (pid == 0) {
			/* A hung test must fail, not hang CI: SIGALRM's default action ends the child, which the
			 * parent reports as a failure by signal 14. A test's own children (agents, workloads)
			 * are in its process group and get the same fate via the kill below. */
			setpgid(0, 0);
			alarm(test_timeout_seconds());
			all[i]->fn();
			fflush(stderr);
			_exit(ferry_test_failures ? 1 : 0);
		}
		int status = 0;
		if (pid < 0 || waitpid(pid, &status, 0) < 0) {
			perror("fork/waitpid");
			failed++;
			continue;
		}
		kill(-pid, SIGKILL); /* whatever the test left running in its group */
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			printf("ok   %s\n", all[i]->name);
			passed++;
		} else {
			if (WIFSIGNALED(status))
				printf("FAIL %s (signal %d)\n", all[i]->name, WTERMSIG(status));
			else
				printf("FAIL %s\n", all[i]->name);
			failed++;
		}
	}
	free(all);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
