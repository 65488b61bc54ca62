/* fileio: sequential file I/O of 64 MiB in 64 KiB write(2)s or read(2)s.
 *
 * usage: fileio write|read [DIR [MIB]]   (DIR default /tmp, MIB default 64)
 *
 * `write` times creating DIR/fileio.dat and writing it, close included;
 * `read` writes the file first (untimed) and times reading it back. The file
 * is unlinked at the end. Prints "ms <float>" for the timed part. */
#include <fcntl.h>
#include <unistd.h>
#include "bench.h"

static char buf[64 << 10];

static void write_file(const char *path, long mib)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		bench_die(path);
	for (long i = 0; i < mib * 16; i++) {
		buf[0] = (char)i;
		if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
			bench_die("write");
	}
	if (close(fd) != 0)
		bench_die("close");
}

int main(int argc, char **argv)
{
	if (argc < 2 || (strcmp(argv[1], "write") && strcmp(argv[1], "read"))) {
		fprintf(stderr, "usage: fileio write|read [DIR [MIB]]\n");
		return 2;
	}
	const char *dir = argc > 2 ? argv[2] : "/tmp";
	long mib = argc > 3 ? atol(argv[3]) : 64;
	char path[4096];
	snprintf(path, sizeof path, "%s/fileio.dat", dir);
	memset(buf, 'a', sizeof buf);
	double t0, t1;
	if (argv[1][0] == 'w') {
		t0 = bench_now_ns();
		write_file(path, mib);
		t1 = bench_now_ns();
	} else {
		write_file(path, mib);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			bench_die(path);
		long total = 0;
		ssize_t r;
		t0 = bench_now_ns();
		while ((r = read(fd, buf, sizeof buf)) > 0)
			total += r;
		t1 = bench_now_ns();
		if (r < 0)
			bench_die("read");
		close(fd);
		if (total != mib << 20) {
			fprintf(stderr, "error: read %ld bytes, wrote %ld\n", total, mib << 20);
			return 1;
		}
	}
	unlink(path);
	printf("ms %.3f\n", (t1 - t0) / 1e6);
	return 0;
}
