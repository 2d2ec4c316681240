/* peakfd: shows how a cgroup v2 memory.peak behaves when written through one open file.
 *
 *   peakfd PATH/memory.peak
 *
 * Opens the file once read-write, reads it, writes "reset" through the same file, reads it
 * again through that file and through a freshly opened one, and prints
 *   peakfd: before=N write=ok|<errno name> after_same_fd=N after_new_fd=N
 * Since 6.12 the write resets the peak for reads through that file only (after_same_fd drops
 * to about memory.current while after_new_fd keeps the old peak); before 6.12 the write fails
 * with EINVAL. Exit 0 when every read worked, 1 otherwise.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long long read_at0(int fd)
{
	char buf[64];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: peakfd PATH/memory.peak\n");
		return 2;
	}
	int fd = open(argv[1], O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "peakfd: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	long long before = read_at0(fd);
	const char *w = "ok";
	if (write(fd, "reset\n", 6) < 0)
		w = strerrorname_np(errno);
	long long after = read_at0(fd);
	int fd2 = open(argv[1], O_RDONLY | O_CLOEXEC);
	long long fresh = fd2 < 0 ? -1 : read_at0(fd2);
	if (fd2 >= 0)
		close(fd2);
	close(fd);
	printf("peakfd: before=%lld write=%s after_same_fd=%lld after_new_fd=%lld\n", before, w, after, fresh);
	return before < 0 || after < 0 || fresh < 0;
}
