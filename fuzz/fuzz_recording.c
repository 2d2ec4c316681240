/* fuzz_recording: a recording file as `headroom report FILE` reads it — the checks of
 * record_open() (SQLite, the run row, events, load rows, sample columns), the analysis of
 * analyze_file(), then the text and JSON reports. A recording may come from anyone (attached to a
 * ticket, copied from another machine), so the file is hostile. The input is the file's bytes,
 * opened in memory with record_open_image() (the same checks as record_open after the file is
 * open; a file per input cost a third of the time in create/unlink). The text report must carry
 * no terminal control character (ESC and the like): strings of the recording (the command, the
 * heap status, event details) reach a terminal. Seeds are small real recordings
 * (fuzz/corpus/recording/README). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "record.h"
#include "report.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s\n", #cond); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct recording *rec = NULL;
	struct analysis *a = NULL;
	int rc = record_open_image(data, size, "fuzz.db", analyze_columns, &rec);
	if (rc == 0) {
		a = malloc(sizeof(*a));
		CHECK(a);
		rc = analyze_recording(rec, NULL, a);   /* as analyze_file() */
	}
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
