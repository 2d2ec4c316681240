/* fuzz_elf: the executable `headroom run` is asked to start, as the heap reader inspects it
 * before the run to tell whether the shim can measure it (src/collect/heap.c,
 * heap_probe_binary: ELF header, program and section headers, .dynsym/.dynstr). The program
 * is whatever the user points at, often built by someone else, so its bytes are hostile. The
 * input is written to a temporary file per iteration (the reader maps the file). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heap.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s\n", #cond); abort(); } } while (0)

static char path[256];

static void remove_file(void)
{
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!path[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(path, sizeof(path), "%s/fuzz_elf.%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
		atexit(remove_file);
	}
	/* a "#!" line makes the reader follow the interpreter's path: not this file's bytes */
	if (size >= 2 && data[0] == '#' && data[1] == '!')
		return 0;
	unlink(path);
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0700);
	CHECK(fd >= 0);
	CHECK(write(fd, data, size) == (ssize_t)size);
	close(fd);
	char reason[256];
	reason[0] = '\0';
	int rc = heap_probe_binary(path, reason, sizeof(reason));
	CHECK(rc == 0 || rc == -ENOTSUP || rc == -ENOEXEC);
	CHECK(strlen(reason) < sizeof(reason));
	if (rc == -ENOTSUP)
		CHECK(reason[0]);
	return 0;
}
