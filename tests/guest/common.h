/* common.h: helpers shared by the guest test programs.
 *
 * The programs print errno by name, never with strerror(): musl and glibc word
 * their messages differently, and the outputs must match byte for byte across
 * both libcs, natively and under umbra. */
#ifndef UMBRA_GUEST_COMMON_H
#define UMBRA_GUEST_COMMON_H

#include <errno.h>
#include <stdio.h>

static const char *errname(int e)
{
	switch (e) {
	case 0: return "OK";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EBADF: return "EBADF";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EEXIST: return "EEXIST";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case ENOTTY: return "ENOTTY";
	case ENOSPC: return "ENOSPC";
	case ESPIPE: return "ESPIPE";
	case ENOMEM: return "ENOMEM";
	case ERANGE: return "ERANGE";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOSYS: return "ENOSYS";
	case ENOTEMPTY: return "ENOTEMPTY";
	case ELOOP: return "ELOOP";
	case EXDEV: return "EXDEV";
	default: return "E?";
	}
}

/* Prints "what: result" for a call that returns 0 or a count on success and
 * -1 with errno on failure. */
__attribute__((unused)) static long check(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, errname(errno));
	else
		printf("%s: %ld\n", what, r);
	return r;
}

#endif
