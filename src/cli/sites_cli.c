/* sites_cli: naming the heap-site frames of a recording, shared by `run --heap sites` (at the end
 * of the run) and `report` (before any view reads the recording). */
#include "cli.h"
#include "record.h"
#include "symbols.h"

/* Heap-site frames the run could not name (the recorder was stopped, the report runs on another
 * machine with the binaries) are named now and stored, so every view below reads the names.
 * Quiet: a recording without sites, a read-only one, a binary gone are all fine here. */
void cli_name_sites(const char *file)
{
	static const char *const no_columns[] = {NULL};
	struct recording *rec;
	char note[256];
	if (record_open(file, no_columns, &rec) < 0)
		return;
	/* a recording still being written (a run in progress) is not touched: the views name its
	 * frames in memory */
	if (rec->run.finished)
		(void)symbols_resolve_recording(rec, note, sizeof(note));
	recording_free(rec);
}
