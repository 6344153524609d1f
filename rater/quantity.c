#include "rater/quantity.h"

void quantity_acc_init(struct quantity_acc *a)
{
	mpz_init(a->sum);
	mpz_init(a->dur_ns);
	a->max = INT64_MIN;
	a->frames = 0;
}

void quantity_acc_clear(struct quantity_acc *a)
{
	mpz_clear(a->sum);
	mpz_clear(a->dur_ns);
}

/* int64 to mpz without going through long's width assumptions. */
static void mpz_add_i64(mpz_t z, int64_t v)
{
	mpz_t t;

	mpz_init(t);
	mpz_import(t, 1, 1, sizeof(uint64_t), 0, 0,
		   &(uint64_t){ v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v });
	if (v < 0)
		mpz_sub(z, z, t);
	else
		mpz_add(z, z, t);
	mpz_clear(t);
}

void quantity_acc_add(struct quantity_acc *a, int64_t sum, int64_t max, uint64_t frames,
		      int64_t dur_ns)
{
	mpz_add_i64(a->sum, sum);
	mpz_add_i64(a->dur_ns, dur_ns);
	if (frames && max > a->max)
		a->max = max;
	a->frames += frames;
}

void quantity_acc_merge(struct quantity_acc *dst, const struct quantity_acc *src)
{
	mpz_add(dst->sum, dst->sum, src->sum);
	mpz_add(dst->dur_ns, dst->dur_ns, src->dur_ns);
	if (src->frames && src->max > dst->max)
		dst->max = src->max;
	dst->frames += src->frames;
}

void quantity_raw(const struct metrics_service *s, const struct quantity_acc *a, mpq_t out)
{
	mpz_t den;

	mpz_init(den);
	switch (s->aggregate) {
	case METRICS_AGG_DURATION:
		mpz_set(mpq_numref(out), a->dur_ns);
		mpz_ui_pow_ui(den, 10, 9);
		break;
	case METRICS_AGG_MAX:
		mpz_set_ui(mpq_numref(out), 0);
		if (a->frames)
			mpz_add_i64(mpq_numref(out), a->max);
		mpz_ui_pow_ui(den, 10, s->def->scale);
		break;
	case METRICS_AGG_SUM:
	default:
		mpz_set(mpq_numref(out), a->sum);
		mpz_ui_pow_ui(den, 10, s->def->scale);
		break;
	}
	mpz_set(mpq_denref(out), den);
	mpq_canonicalize(out);
	mpz_clear(den);
}

int quantity_compute(const struct metrics_service *s, const struct quantity_acc *a,
		     struct decimal *qty)
{
	mpq_t q;
	mpz_t z;
	int err;

	mpq_init(q);
	mpz_init(z);
	quantity_raw(s, a, q);
	mpq_mul(q, q, s->factor);
	mpq_add(q, q, s->offset);
	/* CloudKitty mutates after the conversion; so does this */
	switch (s->mutate) {
	case METRICS_MUTATE_CEIL:
		mpz_cdiv_q(z, mpq_numref(q), mpq_denref(q));
		mpq_set_z(q, z);
		break;
	case METRICS_MUTATE_FLOOR:
		mpz_fdiv_q(z, mpq_numref(q), mpq_denref(q));
		mpq_set_z(q, z);
		break;
	case METRICS_MUTATE_NUMBOOL:
		mpq_set_ui(q, mpq_sgn(q) != 0, 1);
		break;
	case METRICS_MUTATE_NOTNUMBOOL:
		mpq_set_ui(q, mpq_sgn(q) == 0, 1);
		break;
	case METRICS_MUTATE_NONE:
	default:
		break;
	}
	err = decimal_set_mpq(qty, q);
	mpz_clear(z);
	mpq_clear(q);
	return err;
}
