#include "heap_sites.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heap.h"
#include "sample.h"

#define KNOWN_SLOTS (HEAP_SITES_KNOWN_MAX * 2)   /* open addressing, at most half full */
#define CANDIDATES_MAX 8192                      /* sites considered per collection */
#define MAPS_MAX 65536                           /* lines of /proc/PID/maps read */
#define MODULES_MAX 256                          /* ELF files remembered */
#define PHDRS_MAX 128
#define NOTE_READ_MAX 8192

struct known {
	bool used;
	pid_t pid;
	uint64_t ino;
	uint32_t index;
	uint64_t hash;
	int64_t id;               /* recording site id, 0 until first pushed */
	int64_t last_alloc;       /* alloc_bytes at the previous collection, -1 never seen */
};

struct candidate {
	struct known *k;
	int64_t live_bytes, live_objects, alloc_bytes, alloc_objects;
	int nframes;
	uint64_t pc[HEAP_SITE_FRAMES];
};

struct map {
	uint64_t start, end, off, ino;
	char *path;               /* NULL: anonymous or a pseudo-file ([vdso], [heap]) */
};

struct load_seg {
	uint64_t off, filesz, vaddr;
};

struct module {
	char *path;
	uint64_t ino;
	pid_t pid;                /* whose map_files/root it was read through */
	bool elf;                 /* program headers read */
	char build_id[129];
	int nloads;
	struct load_seg loads[16];
};

struct heap_sites {
	int64_t last_ns;
	bool collected;
	struct known *known;
	size_t nknown;
	int64_t next_id;
	struct candidate *cand;
	size_t ncand;
	int64_t cand_dropped;
	struct module mods[MODULES_MAX];
	int nmods;
	/* the maps of one process, read once per collection when it has new sites */
	pid_t maps_pid;
	struct map *maps;
	size_t nmaps;
	/* for the note */
	struct heap_sites_info info;
	int64_t frames, frames_anon, frames_no_offset, known_full;
	int64_t interval;
};

int heap_sites_new(struct heap_sites **ret)
{
	struct heap_sites *hs = calloc(1, sizeof(*hs));
	if (!hs)
		return -ENOMEM;
	hs->known = calloc(KNOWN_SLOTS, sizeof(*hs->known));
	hs->cand = malloc(CANDIDATES_MAX * sizeof(*hs->cand));
	if (!hs->known || !hs->cand) {
		heap_sites_free(hs);
		return -ENOMEM;
	}
	hs->next_id = 1;
	*ret = hs;
	return 0;
}

static void maps_clear(struct heap_sites *hs)
{
	for (size_t i = 0; i < hs->nmaps; i++)
		free(hs->maps[i].path);
	free(hs->maps);
	hs->maps = NULL;
	hs->nmaps = 0;
	hs->maps_pid = 0;
}

void heap_sites_free(struct heap_sites *hs)
{
	if (!hs)
		return;
	maps_clear(hs);
	for (int i = 0; i < hs->nmods; i++)
		free(hs->mods[i].path);
	free(hs->known);
	free(hs->cand);
	free(hs);
}

static uint64_t mix(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

/* The entry of (process image, table index, stack); NULL when the table is full. A slot reused
 * by the shim for another stack (it never is, but the segment may say anything) is another site. */
static struct known *known_get(struct heap_sites *hs, const struct heap_site_read *r)
{
	uint64_t h = mix((uint64_t)r->pid ^ mix(r->ino) ^ mix(r->index) ^ r->hash);
	for (size_t i = 0; i < KNOWN_SLOTS; i++) {
		struct known *k = &hs->known[(h + i) % KNOWN_SLOTS];
		if (!k->used) {
			if (hs->nknown >= HEAP_SITES_KNOWN_MAX)
				return NULL;
			*k = (struct known){.used = true, .pid = r->pid, .ino = r->ino, .index = r->index,
					    .hash = r->hash, .last_alloc = -1};
			hs->nknown++;
			return k;
		}
		if (k->pid == r->pid && k->ino == r->ino && k->index == r->index && k->hash == r->hash)
			return k;
	}
	return NULL;
}

static void on_site(void *ctx, const struct heap_site_read *r)
{
	struct heap_sites *hs = ctx;
	struct known *k = known_get(hs, r);
	if (!k) {
		hs->known_full++;
		return;
	}
	bool changed = r->alloc_bytes != k->last_alloc;
	k->last_alloc = r->alloc_bytes;
	if (r->live_bytes <= 0 && !changed)
		return;
	if (hs->ncand >= CANDIDATES_MAX) {
		hs->cand_dropped++;
		return;
	}
	struct candidate *c = &hs->cand[hs->ncand++];
	c->k = k;
	c->live_bytes = r->live_bytes;
	c->live_objects = r->live_objects;
	c->alloc_bytes = r->alloc_bytes;
	c->alloc_objects = r->alloc_objects;
	c->nframes = r->nframes;
	memcpy(c->pc, r->pc, (size_t)r->nframes * sizeof(c->pc[0]));
}

static int cmp_live_desc(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;
	if (x->live_bytes != y->live_bytes)
		return x->live_bytes > y->live_bytes ? -1 : 1;
	return x->alloc_bytes > y->alloc_bytes ? -1 : x->alloc_bytes < y->alloc_bytes;
}

/* /proc/PID/maps, bounded; 0 or -errno */
static int maps_read(struct heap_sites *hs, pid_t pid)
{
	if (hs->maps_pid == pid)
		return 0;
	maps_clear(hs);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	size_t cap = 256;
	hs->maps = malloc(cap * sizeof(*hs->maps));
	char line[4608];
	int rc = hs->maps ? 0 : -ENOMEM;
	while (rc == 0 && hs->nmaps < MAPS_MAX && fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);
		if (len && line[len - 1] != '\n' && !feof(f)) {
			int ch;   /* a line longer than the buffer: skip its rest, keep nothing of it */
			while ((ch = fgetc(f)) != EOF && ch != '\n')
				;
			continue;
		}
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		unsigned long long start, end, off, ino;
		int name_at = 0;
		if (sscanf(line, "%llx-%llx %*4s %llx %*x:%*x %llu %n", &start, &end, &off, &ino, &name_at) < 4 ||
		    end <= start)
			continue;
		if (hs->nmaps == cap) {
			struct map *m = realloc(hs->maps, cap * 2 * sizeof(*m));
			if (!m) {
				rc = -ENOMEM;
				break;
			}
			hs->maps = m;
			cap *= 2;
		}
		const char *name = name_at > 0 && (size_t)name_at <= len ? line + name_at : "";
		char *p = NULL;
		if (name[0] == '/') {
			p = strdup(name);
			char *del = p ? strstr(p, " (deleted)") : NULL;
			if (del && del[10] == '\0')
				*del = '\0';
		}
		hs->maps[hs->nmaps++] = (struct map){.start = start, .end = end, .off = off, .ino = ino, .path = p};
	}
	fclose(f);
	hs->maps_pid = rc == 0 ? pid : 0;
	return rc;
}

static const struct map *maps_find(const struct heap_sites *hs, uint64_t pc)
{
	size_t lo = 0, hi = hs->nmaps;   /* maps are in address order */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (pc < hs->maps[mid].start)
			hi = mid;
		else if (pc >= hs->maps[mid].end)
			lo = mid + 1;
		else
			return &hs->maps[mid];
	}
	return NULL;
}

static bool read_at(int fd, void *buf, size_t n, uint64_t off)
{
	return off <= INT64_MAX && pread(fd, buf, n, (off_t)off) == (ssize_t)n;
}

/* The GNU build-id in a PT_NOTE segment's notes, as hex; false when there is none. */
static bool note_build_id(const unsigned char *p, size_t n, char *hex, size_t hexlen)
{
	size_t at = 0;
	while (at + 12 <= n) {
		uint32_t namesz, descsz, type;
		memcpy(&namesz, p + at, 4);
		memcpy(&descsz, p + at + 4, 4);
		memcpy(&type, p + at + 8, 4);
		size_t name_at = at + 12;
		size_t desc_at = name_at + (((size_t)namesz + 3) & ~(size_t)3);
		size_t next = desc_at + (((size_t)descsz + 3) & ~(size_t)3);
		if (namesz > n || descsz > n || desc_at > n || next > n || next <= at)
			return false;
		if (type == NT_GNU_BUILD_ID && namesz == 4 && memcmp(p + name_at, "GNU", 4) == 0 && descsz > 0 &&
		    descsz * 2 < hexlen) {
			for (uint32_t i = 0; i < descsz; i++)
				snprintf(hex + 2 * i, 3, "%02x", p[desc_at + i]);
			return true;
		}
		at = next;
	}
	return false;
}

/* The program headers (PT_LOAD) and build-id of a 64-bit ELF file; false when it is not one. */
static bool elf_read(int fd, struct module *m)
{
	Elf64_Ehdr eh;
	if (!read_at(fd, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    eh.e_phnum > PHDRS_MAX)
		return false;
	Elf64_Phdr ph[PHDRS_MAX];
	if (!read_at(fd, ph, eh.e_phnum * sizeof(Elf64_Phdr), eh.e_phoff))
		return false;
	unsigned char *note = NULL;
	for (int i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && m->nloads < (int)(sizeof(m->loads) / sizeof(m->loads[0])))
			m->loads[m->nloads++] = (struct load_seg){ph[i].p_offset, ph[i].p_filesz, ph[i].p_vaddr};
		if (ph[i].p_type == PT_NOTE && !m->build_id[0] && ph[i].p_filesz >= 12) {
			size_t n = ph[i].p_filesz < NOTE_READ_MAX ? (size_t)ph[i].p_filesz : NOTE_READ_MAX;
			if (!note)
				note = malloc(NOTE_READ_MAX);
			if (note && read_at(fd, note, n, ph[i].p_offset))
				note_build_id(note, n, m->build_id, sizeof(m->build_id));
		}
	}
	free(note);
	return m->nloads > 0;
}

/* The module of mapping mp, read once per file (by path and inode). Opened through
 * /proc/PID/map_files (the very file mapped, even if replaced or deleted since; root), else the
 * path as the process sees it (/proc/PID/root/...). NULL only when out of memory. */
static struct module *module_get(struct heap_sites *hs, pid_t pid, const struct map *mp)
{
	for (int i = 0; i < hs->nmods; i++)
		if (hs->mods[i].ino == mp->ino && strcmp(hs->mods[i].path, mp->path) == 0)
			return &hs->mods[i];
	if (hs->nmods == MODULES_MAX) {
		for (int i = 0; i < hs->nmods; i++)
			free(hs->mods[i].path);
		hs->nmods = 0;   /* forget them all: a run with that many libraries is rare */
	}
	struct module *m = &hs->mods[hs->nmods];
	memset(m, 0, sizeof(*m));
	m->path = strdup(mp->path);
	if (!m->path)
		return NULL;
	m->ino = mp->ino;
	m->pid = pid;
	hs->nmods++;
	char path[4200];
	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid, mp->start, mp->end);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(path, sizeof(path), "/proc/%d/root%s", (int)pid, mp->path);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	}
	if (fd >= 0) {
		struct stat st;
		/* a regular file only: a FIFO or a device planted under the path must not block us */
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
			m->elf = elf_read(fd, m);
		close(fd);
	}
	return m;
}

static void frame_resolve(struct heap_sites *hs, pid_t pid, uint64_t pc, struct record_new_frame *f)
{
	f->pc = (int64_t)(pc > INT64_MAX ? INT64_MAX : pc);
	f->offset = HR_UNKNOWN;
	f->module = f->build_id = NULL;
	hs->frames++;
	const struct map *mp = hs->maps_pid == pid ? maps_find(hs, pc) : NULL;
	if (!mp || !mp->path) {
		hs->frames_anon++;
		return;
	}
	f->module = mp->path;
	struct module *m = module_get(hs, pid, mp);
	if (!m || !m->elf) {
		hs->frames_no_offset++;
		return;
	}
	f->build_id = m->build_id[0] ? m->build_id : NULL;
	uint64_t fo = pc - mp->start + mp->off;
	for (int i = 0; i < m->nloads; i++) {
		const struct load_seg *l = &m->loads[i];
		if (fo >= l->off && fo - l->off < l->filesz) {
			uint64_t v = fo - l->off + l->vaddr;
			f->offset = v <= INT64_MAX ? (int64_t)v : HR_UNKNOWN;
			return;
		}
	}
	hs->frames_no_offset++;
}

static void site_push(struct heap_sites *hs, struct record *rec, struct candidate *c)
{
	c->k->id = hs->next_id++;
	struct record_new_frame fr[HEAP_SITE_FRAMES];
	if (c->nframes > 0)
		maps_read(hs, c->k->pid);
	for (int i = 0; i < c->nframes; i++)
		frame_resolve(hs, c->k->pid, c->pc[i], &fr[i]);
	record_push_site(rec, c->k->id, c->k->pid, c->nframes, fr);
}

void heap_sites_collect(struct heap_sites *hs, struct record *rec, int64_t t_ns, bool force)
{
	if (!hs || !rec)
		return;
	if (hs->collected && (t_ns <= hs->last_ns || (!force && t_ns - hs->last_ns < HEAP_SITES_PERIOD_NS * 9 / 10)))
		return;   /* one snapshot per instant: its rows are told apart by their t_ns */
	hs->collected = true;
	hs->last_ns = t_ns;
	hs->ncand = 0;
	struct heap_sites_info info;
	if (heap_sites_read(on_site, hs, &info) < 0)
		return;
	if (info.nsegments > 0) {
		hs->info = info;
		if (!hs->interval)
			hs->interval = info.interval;
	}
	qsort(hs->cand, hs->ncand, sizeof(*hs->cand), cmp_live_desc);
	size_t n = hs->ncand < HEAP_SITES_ROWS_MAX ? hs->ncand : HEAP_SITES_ROWS_MAX;
	for (size_t i = 0; i < n; i++) {
		struct candidate *c = &hs->cand[i];
		if (c->k->id == 0)
			site_push(hs, rec, c);
		struct record_site_sample row = {.t_ns = t_ns, .site = c->k->id, .live_bytes = c->live_bytes,
						 .live_objects = c->live_objects, .alloc_bytes = c->alloc_bytes,
						 .alloc_objects = c->alloc_objects};
		record_push_site_sample(rec, &row);
	}
	maps_clear(hs);   /* the next collection reads them fresh: libraries come and go */
}

void heap_sites_finish(struct heap_sites *hs, struct record *rec)
{
	if (!hs || !rec || hs->next_id == 1)
		return;
	char note[256] = "";
	size_t off = 0;
	const struct heap_sites_info *in = &hs->info;
	if (in->samples > 0 && in->unwalkable * 100 >= in->samples)
		off += (size_t)snprintf(note + off, sizeof(note) - off, "%sstack not walkable in %lld %% of samples",
					off ? "; " : "", (long long)(in->unwalkable * 100 / in->samples));
	if (in->other > 0 && off < sizeof(note))
		off += (size_t)snprintf(note + off, sizeof(note) - off, "%ssite table full: %lld samples counted as other",
					off ? "; " : "", (long long)in->other);
	if (in->untracked > 0 && off < sizeof(note))
		off += (size_t)snprintf(note + off, sizeof(note) - off,
					"%s%lld sampled blocks not counted as live, their sites read low (live "
					"table full: raise --heap-interval)", off ? "; " : "", (long long)in->untracked);
	if (hs->frames_anon > 0 && hs->frames_anon * 20 >= hs->frames && off < sizeof(note))
		off += (size_t)snprintf(note + off, sizeof(note) - off, "%s%lld %% of frames in anonymous memory (JIT?)",
					off ? "; " : "", (long long)(hs->frames_anon * 100 / (hs->frames ? hs->frames : 1)));
	if (hs->known_full > 0 && off < sizeof(note))
		snprintf(note + off, sizeof(note) - off, "%smore than %d sites: the rest are not recorded",
			 off ? "; " : "", HEAP_SITES_KNOWN_MAX);
	record_set_sites_meta(rec, hs->interval ? hs->interval : HEAP_SITE_INTERVAL_DEFAULT, note);
}
