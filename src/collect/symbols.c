#include "symbols.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libiberty/demangle.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sample.h"

struct sym_file {
	char *path;
	Dwfl *dwfl;               /* NULL when the file cannot be used: see fail */
	Dwfl_Module *mod;
	GElf_Addr bias;           /* libdwfl's address of ELF virtual address 0 */
	char build_id[129];       /* hex, "" when the file has none */
	const char *fail;
	bool stripped;            /* no .symtab and no debug information found */
	uint64_t used;            /* the cache's clock at the last lookup */
};

struct symbols {
	struct sym_file files[SYMBOLS_CACHE_MAX];
	int nfiles;
	uint64_t clock;
};

static int no_find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
		       char **file_name, Elf **elfp)
{
	return -1;   /* every module is reported with its own descriptor */
}

/* The separate debug file by build-id under /usr/lib/debug, where Debian's -dbgsym packages put
 * them. Not libdwfl's standard search: that asks a debuginfod server when DEBUGINFOD_URLS is set,
 * and a report must not reach the network. */
static int find_debuginfo_local(Dwfl_Module *mod, void **userdata, const char *modname, GElf_Addr base,
				const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
				char **debuginfo_file_name)
{
	const unsigned char *bits;
	GElf_Addr vaddr;
	int len = dwfl_module_build_id(mod, &bits, &vaddr);
	if (len < 2 || len > 64)
		return -1;
	char path[256];
	int o = snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%02x/", bits[0]);
	for (int i = 1; i < len; i++)
		o += snprintf(path + o, sizeof(path) - (size_t)o, "%02x", bits[i]);
	snprintf(path + o, sizeof(path) - (size_t)o, ".debug");
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -1;
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return -1;
	}
	*debuginfo_file_name = strdup(path);   /* libdwfl frees it; NULL only loses the name */
	return fd;
}

static const Dwfl_Callbacks callbacks = {
	.find_elf = no_find_elf,
	.find_debuginfo = find_debuginfo_local,
	.section_address = dwfl_offline_section_address,
};

int symbols_open(struct symbols **out)
{
	struct symbols *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*out = s;
	return 0;
}

static void file_drop(struct sym_file *f)
{
	if (f->dwfl)
		dwfl_end(f->dwfl);
	free(f->path);
	memset(f, 0, sizeof(*f));
}

void symbols_close(struct symbols *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nfiles; i++)
		file_drop(&s->files[i]);
	free(s);
}

static bool has_symtab(Elf *elf)
{
	Elf_Scn *scn = NULL;
	while (elf && (scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB)
			return true;
	}
	return false;
}

/* Open path into f. Returns 0 (f->fail says when the file cannot be used) or -ENOMEM. */
static int file_load(struct sym_file *f, const char *path)
{
	f->path = strdup(path);
	if (!f->path)
		return -ENOMEM;
	/* O_NONBLOCK: a FIFO planted at a module's path must not hang the report */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		f->fail = "missing file";
		return 0;
	}
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		f->fail = "not a regular file";
		return 0;
	}
	f->dwfl = dwfl_begin(&callbacks);
	if (!f->dwfl) {
		close(fd);
		return -ENOMEM;
	}
	dwfl_report_begin(f->dwfl);
	/* base 0 relative to p_vaddr: the module sits at its own virtual addresses */
	f->mod = dwfl_report_elf(f->dwfl, "module", path, fd, 0, true);
	if (!f->mod) {
		close(fd);   /* libdwfl consumes the descriptor only on success */
		dwfl_end(f->dwfl);
		f->dwfl = NULL;
		f->fail = "not an ELF file";
		return 0;
	}
	dwfl_report_end(f->dwfl, NULL, NULL);
	const unsigned char *bits;
	GElf_Addr vaddr;
	int len = dwfl_module_build_id(f->mod, &bits, &vaddr);
	for (int i = 0; i < len && i < 64; i++)
		snprintf(f->build_id + 2 * i, 3, "%02x", bits[i]);
	Elf *elf = dwfl_module_getelf(f->mod, &f->bias);
	GElf_Addr dbias;
	f->stripped = !has_symtab(elf) && dwfl_module_getdwarf(f->mod, &dbias) == NULL;
	return 0;
}

static struct sym_file *file_get(struct symbols *s, const char *path, int *err)
{
	*err = 0;
	for (int i = 0; i < s->nfiles; i++)
		if (s->files[i].path && strcmp(s->files[i].path, path) == 0) {
			s->files[i].used = ++s->clock;
			return &s->files[i];
		}
	struct sym_file *f;
	if (s->nfiles < SYMBOLS_CACHE_MAX) {
		f = &s->files[s->nfiles++];
	} else {
		f = &s->files[0];
		for (int i = 1; i < s->nfiles; i++)
			if (s->files[i].used < f->used)
				f = &s->files[i];
		file_drop(f);
	}
	*err = file_load(f, path);
	if (*err < 0) {
		file_drop(f);   /* an empty slot matches no path and is reused first */
		return NULL;
	}
	f->used = ++s->clock;
	return f;
}

/* The first DIE of `tag` under parent whose ranges hold pc, looking through the scopes that can
 * own one without holding code themselves (namespaces, types) and, when `through_blocks`, the
 * lexical blocks that hold pc. Not dwarf_getscopes(): it gives up on rustc's DWARF ("no address
 * value") where this walk finds the function. *budget bounds the DIEs visited (a hostile or
 * huge CU), depth the nesting. */
static bool die_find(Dwarf_Die *parent, Dwarf_Addr pc, int tag, bool through_blocks, Dwarf_Die *out, int depth,
		     long *budget)
{
	Dwarf_Die child;
	if (depth > 32 || dwarf_child(parent, &child) != 0)
		return false;
	do {
		if (--*budget < 0)
			return false;
		int t = dwarf_tag(&child);
		if (t == tag && dwarf_haspc(&child, pc) == 1) {
			*out = child;
			return true;
		}
		bool owner = t == DW_TAG_namespace || t == DW_TAG_module || t == DW_TAG_class_type ||
			     t == DW_TAG_structure_type || t == DW_TAG_union_type;
		if (through_blocks && t == DW_TAG_lexical_block)
			owner = dwarf_haspc(&child, pc) == 1;
		if (owner && die_find(&child, pc, tag, through_blocks, out, depth + 1, budget))
			return true;
	} while (dwarf_siblingof(&child, &child) == 0);
	return false;
}

/* Where the symbol's own function is at addr: when the code there was inlined into it (Rust's
 * Vec, C++ containers), the line table names the inlined callee's source; the call site of the
 * outermost inlined scope is the line in the function the frame is named by. */
static int outer_call_site(Dwfl_Module *mod, GElf_Addr addr, const char **ret_file, int *ret_line)
{
	Dwarf_Addr dbias;
	Dwarf_Die *cu = dwfl_module_addrdie(mod, addr, &dbias);
	if (!cu)
		return -ENOENT;
	Dwarf_Addr pc = addr - dbias;
	Dwarf_Die fn, inl;
	long budget = 200000;
	if (!die_find(cu, pc, DW_TAG_subprogram, false, &fn, 0, &budget) ||
	    !die_find(&fn, pc, DW_TAG_inlined_subroutine, true, &inl, 0, &budget))
		return -ENOENT;
	Dwarf_Attribute at;
	Dwarf_Word file, line;
	Dwarf_Files *files;
	size_t nfiles;
	if (dwarf_formudata(dwarf_attr(&inl, DW_AT_call_file, &at), &file) != 0 ||
	    dwarf_formudata(dwarf_attr(&inl, DW_AT_call_line, &at), &line) != 0 || line == 0 || line > INT32_MAX ||
	    dwarf_getsrcfiles(cu, &files, &nfiles) != 0 || file >= nfiles)
		return -ENOENT;
	const char *name = dwarf_filesrc(files, file, NULL, NULL);
	if (!name)
		return -ENOENT;
	*ret_file = name;
	*ret_line = (int)line;
	return 0;
}

/* Text from a hostile ELF file reaches terminals and pages: bounded, no control bytes. */
static void copy_clean(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
	for (char *c = dst; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

static void note_set(struct symbol *out, const char *note)
{
	snprintf(out->note, sizeof(out->note), "%s", note);
}

int symbols_lookup(struct symbols *s, const char *module, const char *build_id, uint64_t offset,
		   struct symbol *out)
{
	memset(out, 0, sizeof(*out));
	if (!module || !*module) {
		note_set(out, "anonymous or JIT code");
		return module ? -ENOENT : -EINVAL;
	}
	int err;
	struct sym_file *f = file_get(s, module, &err);
	if (!f)
		return err;
	if (!f->dwfl) {
		note_set(out, f->fail);
		return -ENOENT;
	}
	if (build_id && strcasecmp(build_id, f->build_id) != 0) {
		note_set(out, "build-id differs");
		return -ENOENT;
	}
	/* a return address: the call is the byte before it (it may be the caller's last byte) */
	GElf_Addr addr = offset + f->bias - (offset > 0);
	GElf_Off off = 0;
	GElf_Sym sym;
	const char *name = dwfl_module_addrinfo(f->mod, addr, &off, &sym, NULL, NULL, NULL);
	int type = name ? GELF_ST_TYPE(sym.st_info) : STT_NOTYPE;
	/* a sized symbol must cover the address; a sizeless one (an assembler label) is the nearest
	 * name only when the full symbol table is there, else it is some unrelated export */
	bool ok = name && *name && (type == STT_FUNC || type == STT_GNU_IFUNC || type == STT_NOTYPE) &&
		  (sym.st_size ? off < sym.st_size : !f->stripped);
	if (!ok) {
		note_set(out, f->stripped ? "stripped: addresses only" : "no symbol");
		return -ENOENT;
	}
	/* a versioned .dynsym name ("__libc_start_main@@GLIBC_2.34"): the version is not the function */
	char plain[1024];
	const char *at = strchr(name, '@');
	if (at && at > name && (size_t)(at - name) < sizeof(plain)) {
		snprintf(plain, sizeof(plain), "%.*s", (int)(at - name), name);
		name = plain;
	}
	char *dm = cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI);
	copy_clean(out->function, sizeof(out->function), dm ? dm : name);
	free(dm);
	Dwfl_Line *ln = dwfl_module_getsrc(f->mod, addr);
	int lineno = 0;
	const char *src = ln ? dwfl_lineinfo(ln, NULL, &lineno, NULL, NULL, NULL) : NULL;
	if (src)
		(void)outer_call_site(f->mod, addr, &src, &lineno);
	if (src && lineno > 0) {
		copy_clean(out->file, sizeof(out->file), src);
		out->line = lineno;
	}
	return 0;
}

/* ---- a recording's frames ---- */

#define NOTE_KINDS 6
#define NOTE_NAMES 3

struct note_acc {
	char kind[NOTE_KINDS][sizeof(((struct symbol *)0)->note)];   /* copies: a lookup reuses its note */
	const char *names[NOTE_KINDS][NOTE_NAMES];   /* module paths, owned by the frames */
	int nnames[NOTE_KINDS];
	int more[NOTE_KINDS];
	int nkinds;
};

static void note_add(struct note_acc *a, const char *kind, const char *module)
{
	int k = 0;
	while (k < a->nkinds && strcmp(a->kind[k], kind) != 0)
		k++;
	if (k == a->nkinds) {
		if (a->nkinds == NOTE_KINDS)
			return;
		snprintf(a->kind[a->nkinds++], sizeof(a->kind[0]), "%s", kind);
	}
	if (!module)
		return;
	for (int i = 0; i < a->nnames[k]; i++)
		if (strcmp(a->names[k][i], module) == 0)
			return;
	if (a->nnames[k] < NOTE_NAMES)
		a->names[k][a->nnames[k]++] = module;
	else
		a->more[k]++;
}

static void note_format(const struct note_acc *a, char *note, size_t len)
{
	size_t o = 0;
	note[0] = '\0';
	for (int k = 0; k < a->nkinds && o < len; k++) {
		o += (size_t)snprintf(note + o, len - o, "%s%s", k ? "; " : "", a->kind[k]);
		for (int i = 0; i < a->nnames[k] && o < len; i++) {
			const char *base = strrchr(a->names[k][i], '/');
			o += (size_t)snprintf(note + o, len - o, "%s%s", i ? ", " : " (", base ? base + 1 : a->names[k][i]);
		}
		if (a->more[k] && o < len)
			o += (size_t)snprintf(note + o, len - o, " and %d more", a->more[k]);
		if (a->nnames[k] && o < len)
			o += (size_t)snprintf(note + o, len - o, ")");
	}
}

static uint64_t frame_hash(const struct record_site_row *f)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)f->module; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	for (const unsigned char *p = (const unsigned char *)(f->build_id ? f->build_id : ""); *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (h ^ (uint64_t)f->offset) * 0x9e3779b97f4a7c15ULL;
}

static bool frame_same(const struct record_site_row *a, const struct record_site_row *b)
{
	return a->offset == b->offset && strcmp(a->module, b->module) == 0 &&
	       strcmp(a->build_id ? a->build_id : "", b->build_id ? b->build_id : "") == 0;
}

static int frame_copy(struct record_site_row *to, const struct record_site_row *from)
{
	to->function = strdup(from->function);
	if (!to->function)
		return -ENOMEM;
	if (from->file) {
		to->file = strdup(from->file);
		to->line = from->line;
	}
	return 0;
}

int symbols_resolve_frames(struct record_site_row *f, size_t n, char *note, size_t note_len)
{
	if (note && note_len)
		note[0] = '\0';
	struct symbols *s;
	int rc = symbols_open(&s);
	if (rc < 0)
		return rc;
	struct note_acc acc = {0};
	int named = 0;
	struct symbol *sym = malloc(sizeof(*sym));
	/* the same return address recurs in many stacks (main, the runtime, a hot caller): each
	 * distinct (module, build-id, offset) is looked up once; seen[] holds frame index + 1 */
	size_t cap = 64;
	while (cap < 2 * n && cap < ((size_t)1 << 22))
		cap *= 2;
	size_t *seen = calloc(cap, sizeof(*seen));
	if (!sym || !seen) {
		free(sym);
		free(seen);
		symbols_close(s);
		return -ENOMEM;
	}
	size_t nseen = 0;
	for (size_t i = 0; i < n; i++) {
		if (f[i].function)
			continue;
		if (!f[i].module || f[i].offset == HR_UNKNOWN) {
			note_add(&acc, "anonymous or JIT code: addresses only", NULL);
			continue;
		}
		size_t j = frame_hash(&f[i]) & (cap - 1);
		while (seen[j] && !frame_same(&f[seen[j] - 1], &f[i]))
			j = (j + 1) & (cap - 1);
		if (seen[j]) {
			const struct record_site_row *same = &f[seen[j] - 1];
			if (same->function) {
				if ((rc = frame_copy(&f[i], same)) < 0)
					break;
				named++;
			}
			continue;   /* unnamed: its note was taken the first time */
		}
		if (nseen * 2 < cap) {   /* a full table only stops remembering, never lookups */
			seen[j] = i + 1;
			nseen++;
		}
		rc = symbols_lookup(s, f[i].module, f[i].build_id, (uint64_t)f[i].offset, sym);
		if (rc == -ENOMEM)
			break;
		if (rc < 0) {
			note_add(&acc, sym->note, f[i].module);
			rc = 0;
			continue;
		}
		f[i].function = strdup(sym->function);
		if (!f[i].function) {
			rc = -ENOMEM;
			break;
		}
		if (sym->file[0]) {
			f[i].file = strdup(sym->file);   /* NULL: the name without its source, no harm */
			f[i].line = sym->line;
		}
		named++;
	}
	free(seen);
	free(sym);
	symbols_close(s);
	if (note && note_len)
		note_format(&acc, note, note_len);
	return rc < 0 ? rc : named;
}

int symbols_resolve_recording(struct recording *r, char *note, size_t note_len)
{
	if (note && note_len)
		note[0] = '\0';
	struct record_site_row *f;
	size_t n;
	int rc = record_site_rows_read(r->path, &f, &n);
	if (rc < 0)
		return rc;
	int named = symbols_resolve_frames(f, n, note, note_len);
	if (named > 0) {
		rc = record_site_rows_store(r->path, f, n);
		if (rc < 0)
			named = rc;
	}
	record_site_rows_free(f, n);
	return named;
}
