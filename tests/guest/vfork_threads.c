/* vfork_threads: vfork suspends only the calling thread (vfork(2): "the
 * calling thread is suspended"; the process's other threads run on). Thread
 * B counts while thread A's vfork child waits for B's count to move on the
 * memory it shares with the parent, then ends by _exit ("exit") or by
 * execve ("exec"). Only facts are printed, so the output does not depend on
 * timing: the child waits up to 10 s, B ticks every millisecond. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int ticks;
static volatile int stop;
static volatile int child_saw;

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void *counter(void *arg)
{
	(void)arg;
	while (!stop) {
		ticks++;
		nap_ms(1);
	}
	return NULL;
}

static void run(int do_exec, char *self)
{
	pthread_t b;
	pthread_create(&b, NULL, counter, NULL);
	while (ticks < 3)
		nap_ms(1);
	pid_t c = vfork();
	if (c == 0) {
		/* The child: the parent's memory, the parent's thread B. */
		int from = ticks;
		for (int i = 0; i < 10000 && ticks < from + 20; i++)
			nap_ms(1);
		child_saw = ticks >= from + 20;
		if (do_exec) {
			char *argv[] = {self, "exit0", NULL};
			execve("/proc/self/exe", argv, NULL);
			_exit(127);
		}
		_exit(7);
	}
	int st;
	waitpid(c, &st, 0);
	stop = 1;
	pthread_join(b, NULL);
	printf("%s: thread B ran while the vfork child waited: %d\n", do_exec ? "exec" : "exit",
	       child_saw);
	printf("%s: child status %d\n", do_exec ? "exec" : "exit", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "exit0"))
			return 0;
		stop = 0;
		ticks = 0;
		child_saw = 0;
		if (!strcmp(argv[i], "exit"))
			run(0, argv[0]);
		else if (!strcmp(argv[i], "exec"))
			run(1, argv[0]);
	}
	return 0;
}
