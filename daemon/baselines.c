#include "daemon/agent.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void baseline_set_free(struct baseline_set *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Binary search: index of @key, or of where it would be inserted. */
static size_t find_pos(const struct baseline_set *s, const char *key, bool *found)
{
	size_t lo = 0, hi = s->n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->v[mid].b.key, key);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct baseline_entry *baseline_set_get(struct baseline_set *s, const char *key)
{
	bool found;
	size_t pos = find_pos(s, key, &found);
	struct baseline_entry *e;

	if (found)
		return &s->v[pos];
	if (strlen(key) >= STORE_KEY_MAX)
		return NULL;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct baseline_entry *nv = realloc(s->v, cap * sizeof(*nv));

		if (!nv)
			return NULL;
		s->v = nv;
		s->cap = cap;
	}
	memmove(&s->v[pos + 1], &s->v[pos], (s->n - pos) * sizeof(*s->v));
	s->n++;
	e = &s->v[pos];
	memset(e, 0, sizeof(*e));
	strcpy(e->b.key, key);
	e->is_new = true;
	return e;
}

void baseline_set_remove(struct baseline_set *s, const char *key)
{
	bool found;
	size_t pos = find_pos(s, key, &found);

	if (!found)
		return;
	memmove(&s->v[pos], &s->v[pos + 1], (s->n - pos - 1) * sizeof(*s->v));
	s->n--;
}

static int load_one(const struct baseline *b, void *arg)
{
	struct baseline_set *s = arg;
	struct baseline_entry *e = baseline_set_get(s, b->key);

	if (!e)
		return -ENOMEM;
	e->b = *b;
	e->is_new = false;
	return 0;
}

int baseline_set_load(struct baseline_set *s, struct store *st)
{
	return store_baselines_foreach(st, load_one, s);
}

int64_t baseline_advance(struct baseline_entry *e, uint64_t epoch, uint64_t value,
			 int64_t time_ns, uint64_t div)
{
	uint64_t old = e->b.value;
	int64_t delta;

	/* invariant 4: a new life of the counter counts from zero */
	if (e->is_new || e->b.epoch != epoch || value < old)
		old = 0;
	delta = (int64_t)(value / div - old / div);
	if (e->is_new || e->b.epoch != epoch || e->b.value != value || e->b.time_ns != time_ns)
		e->dirty = true;
	e->b.epoch = epoch;
	e->b.value = value;
	e->b.time_ns = time_ns;
	e->is_new = false;
	e->touched = true;
	return delta;
}
