/* fuzz_recording: a recording file as `headroom report FILE` reads it — record_open() through
 * analyze_file() (SQLite, the run row, events, load rows, sample columns; then the analysis),
 * then the text and JSON reports. A recording may come from anyone (attached to a ticket,
 * copied from another machine), so the file is hostile. The input is written to a temporary
 * file per iteration. The text report must carry no terminal control character (ESC and the
 * like): strings of the recording (the command, the heap status, event details) reach a
 * terminal. Seeds are small real recordings (fuzz/corpus/recording/README). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze.h"
#include "record.h"
#include "report.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s\n", #cond); abort(); } } while (0)

static char path[256];

static void remove_files(void)
{
	char side[300];
	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-journal", path);
	unlink(side);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!path[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(path, sizeof(path), "%s/fuzz_recording.%d.db", tmp && *tmp ? tmp : "/tmp", (int)getpid());
		atexit(remove_files);
	}
	remove_files();
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, data, size) == (ssize_t)size);
	close(fd);

	struct recording *rec;
	struct analysis *a;
	int rc = analyze_file(path, &rec, &a);
	if (rc == 0) {
		char *text = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&text, &len);
		CHECK(out);
		(void)report_print_text(out, rec, a);
		fclose(out);
		for (size_t i = 0; i < len; i++)
			CHECK(text[i] == '\n' || text[i] == '\t' || ((unsigned char)text[i] >= 0x20 && text[i] != 0x7f));
		free(text);
		out = fopen("/dev/null", "w");
		CHECK(out);
		(void)report_print_json(out, rec, a);
		fclose(out);
	}
	if (rec || a)
		analyze_file_free(rec, a);
	return 0;
}
