/* sigrecord: signal dispositions and masks are recorded and read back. No
 * signal is delivered; delivery comes with fork and kill in a later stage.
 * SA_RESTORER is masked out of the flags because libcs add it themselves. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "common.h"

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

static void handler(int sig)
{
	(void)sig;
}

static void show_mask(const char *what, const sigset_t *s)
{
	printf("%s:", what);
	for (int sig = 1; sig < 32; sig++)
		if (sigismember(s, sig))
			printf(" %d", sig);
	printf("\n");
}

int main(void)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	check("sigaction(SIGUSR1, handler)", sigaction(SIGUSR1, &sa, &old));
	printf("old SIGUSR1 is SIG_DFL: %s\n", old.sa_handler == SIG_DFL ? "yes" : "no");

	memset(&old, 0, sizeof old);
	check("sigaction(SIGUSR1, NULL)", sigaction(SIGUSR1, NULL, &old));
	printf("SIGUSR1 handler matches: %s\n", old.sa_handler == handler ? "yes" : "no");
	printf("SIGUSR1 flags: %#lx\n", (unsigned long)old.sa_flags & ~(unsigned long)SA_RESTORER);
	show_mask("SIGUSR1 sa_mask", &old.sa_mask);

	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigemptyset(&sa.sa_mask);
	check("sigaction(SIGTERM, SIG_IGN)", sigaction(SIGTERM, &sa, NULL));
	check("sigaction(SIGTERM, NULL)", sigaction(SIGTERM, NULL, &old));
	printf("SIGTERM is SIG_IGN: %s\n", old.sa_handler == SIG_IGN ? "yes" : "no");

	errno = 0;
	check("sigaction(SIGKILL, SIG_IGN)", sigaction(SIGKILL, &sa, NULL));
	check("sigaction(SIGSTOP, SIG_IGN)", sigaction(SIGSTOP, &sa, NULL));

	sigset_t set, oldset;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGINT);
	check("sigprocmask(SIG_BLOCK, USR1|INT)", sigprocmask(SIG_BLOCK, &set, &oldset));
	show_mask("old mask", &oldset);
	sigemptyset(&set);
	sigaddset(&set, SIGKILL);
	sigaddset(&set, SIGSTOP);
	sigaddset(&set, SIGHUP);
	check("sigprocmask(SIG_BLOCK, KILL|STOP|HUP)", sigprocmask(SIG_BLOCK, &set, NULL));
	sigprocmask(SIG_SETMASK, NULL, &oldset);
	show_mask("mask (KILL and STOP cannot be blocked)", &oldset);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	check("sigprocmask(SIG_UNBLOCK, INT)", sigprocmask(SIG_UNBLOCK, &set, NULL));
	sigprocmask(SIG_SETMASK, NULL, &oldset);
	show_mask("mask", &oldset);
	check("sigprocmask(99, ...)", sigprocmask(99, &set, NULL));
	return 0;
}
