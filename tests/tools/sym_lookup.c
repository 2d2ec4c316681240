/* sym_lookup: one symbols_lookup() per argument triple, for tests/it_sites_pprof.sh.
 *
 *   sym_lookup MODULE BUILD_ID|- OFFSET [MODULE BUILD_ID|- OFFSET ...]
 *
 * OFFSET is an ELF virtual address (hex with 0x, or decimal), taken as a return address. One line
 * per lookup: rc <TAB> function <TAB> file <TAB> line <TAB> note.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbols.h"

int main(int argc, char **argv)
{
	if (argc < 4 || (argc - 1) % 3 != 0) {
		fprintf(stderr, "usage: sym_lookup MODULE BUILD_ID|- OFFSET [...]\n");
		return 2;
	}
	struct symbols *s;
	if (symbols_open(&s) < 0)
		return 1;
	for (int i = 1; i + 2 < argc; i += 3) {
		struct symbol sym;
		const char *bid = strcmp(argv[i + 1], "-") == 0 ? NULL : argv[i + 1];
		int rc = symbols_lookup(s, argv[i], bid, strtoull(argv[i + 2], NULL, 0), &sym);
		printf("%d\t%s\t%s\t%lld\t%s\n", rc, sym.function, sym.file, (long long)sym.line, sym.note);
	}
	symbols_close(s);
	return 0;
}
