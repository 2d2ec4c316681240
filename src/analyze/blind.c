/* stage_blind: what a dashboard scraping every 15/30/60 s would have shown of the basis, and what
 * KRR (every 75 s) and the VPA (every 60 s) would have seen of the request basis, each at the
 * worst and the best alignment of the polling with the recording. */
#include "analyze_stages.h"
#include "stats.h"

#define KRR_STEP_NS 75000000000LL   /* KRR queries with a 1.25 min step (FACTS.md) */
#define VPA_STEP_NS 60000000000LL   /* one point a minute stands in for the VPA's daily peak */

void stage_blind(struct series *s, struct analysis *a)
{
	const int64_t *t = s->t;
	size_t alive = s->alive;
	for (int i = 0; i < ANALYZE_NSCRAPES; i++) {
		struct stats_blind b;
		/* shorter than one scrape, some alignments see nothing at all: no answer */
		if (t[alive - 1] - t[0] >= a->blind[i].scrape_ns &&
		    stats_blind_spot(t, s->bi, alive, a->blind[i].scrape_ns, &b) == 0) {
			a->blind[i].best_bytes = b.best;
			a->blind[i].worst_bytes = b.worst;
			a->blind[i].scrapes = b.scrapes;
		}
	}
	const int64_t *ws = recording_column(s->rec, "cg_working_set");
	const int64_t *req = a->cgroup && ws && last_known(ws, s->n, NULL) >= 0 ? ws : s->rss;
	struct stats_blind pb;
	if (stats_blind_spot(t, req, alive, KRR_STEP_NS, &pb) == 0) {
		a->krr_max_bytes = pb.worst;
		a->krr_max_best_bytes = pb.best;
		a->krr_points = (size_t)((t[alive - 1] - t[0]) / KRR_STEP_NS) + 1;
	}
	if (stats_blind_spot(t, req, alive, VPA_STEP_NS, &pb) == 0) {
		a->vpa_peak_bytes = pb.worst;
		a->vpa_peak_best_bytes = pb.best;
	}
}
