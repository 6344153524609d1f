/*
 * decimal.c — Python-compatible decimal arithmetic on GMP integers.
 *
 * The algorithms follow CPython's Lib/_pydecimal.py (the reference the C
 * implementation is tested against): __add__ with _normalize, __mul__,
 * _fix and __str__, restricted to finite numbers, ROUND_HALF_EVEN, prec 28,
 * clamp 0. Comments name the Python step each block reproduces.
 */
#include "rater/decimal.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DECIMAL_ETINY (DECIMAL_EMIN - DECIMAL_PREC + 1)
/* A written exponent beyond this is refused whatever the digits; CPython's refuses it too. */
#define EXP_TEXT_MAX 999999999999999999L

void decimal_init(struct decimal *d)
{
	mpz_init(d->coef);
	d->exp = 0;
	d->neg = false;
}

void decimal_clear(struct decimal *d)
{
	if (!d)
		return;
	mpz_clear(d->coef);
}

void decimal_copy(struct decimal *dst, const struct decimal *src)
{
	if (dst == src)
		return;
	mpz_set(dst->coef, src->coef);
	dst->exp = src->exp;
	dst->neg = src->neg;
}

void decimal_set_long(struct decimal *d, long v)
{
	mpz_set_si(d->coef, v);
	d->neg = v < 0;
	mpz_abs(d->coef, d->coef);
	d->exp = 0;
}

/* Exact number of decimal digits of @c (1 for 0); mpz_sizeinbase may be one too many. */
static unsigned long coef_digits(const mpz_t c)
{
	size_t n;
	mpz_t p;

	if (mpz_sgn(c) == 0)
		return 1;
	n = mpz_sizeinbase(c, 10);
	if (n > 1) {
		mpz_init(p);
		mpz_ui_pow_ui(p, 10, n - 1);
		if (mpz_cmp(c, p) < 0)
			n--;
		mpz_clear(p);
	}
	return n;
}

/* @c *= 10^@k, k >= 0. */
static void coef_shift(mpz_t c, unsigned long k)
{
	mpz_t p;

	if (k == 0 || mpz_sgn(c) == 0)
		return;
	mpz_init(p);
	mpz_ui_pow_ui(p, 10, k);
	mpz_mul(c, c, p);
	mpz_clear(p);
}

long decimal_adjusted(const struct decimal *d)
{
	if (mpz_sgn(d->coef) == 0)
		return d->exp;
	return d->exp + (long)coef_digits(d->coef) - 1;
}

int decimal_sign(const struct decimal *d)
{
	if (mpz_sgn(d->coef) == 0)
		return 0;
	return d->neg ? -1 : 1;
}

/*
 * Python's Decimal._fix for a finite number under our context: round the
 * coefficient to DECIMAL_PREC digits half-even, then check the exponent.
 * Zeros only get their exponent clamped, as Python does silently.
 */
static int decimal_fix(struct decimal *d)
{
	unsigned long n;
	long adj;

	if (mpz_sgn(d->coef) == 0) {
		if (d->exp < DECIMAL_ETINY)
			d->exp = DECIMAL_ETINY;
		if (d->exp > DECIMAL_EMAX)
			d->exp = DECIMAL_EMAX;
		return 0;
	}
	n = coef_digits(d->coef);
	if (n > DECIMAL_PREC) {
		unsigned long drop = n - DECIMAL_PREC;
		mpz_t p, q, r;
		int c;

		mpz_inits(p, q, r, NULL);
		mpz_ui_pow_ui(p, 10, drop);
		mpz_tdiv_qr(q, r, d->coef, p);
		/* half-even: compare the dropped part with half of 10^drop */
		mpz_mul_2exp(r, r, 1);
		c = mpz_cmp(r, p);
		if (c > 0 || (c == 0 && mpz_odd_p(q)))
			mpz_add_ui(q, q, 1);
		d->exp += (long)drop;
		/* 99..9 rounded up to 10^PREC has one digit too many: Python drops it */
		if (coef_digits(q) > DECIMAL_PREC) {
			mpz_divexact_ui(q, q, 10);
			d->exp += 1;
		}
		mpz_swap(d->coef, q);
		mpz_clears(p, q, r, NULL);
	}
	adj = decimal_adjusted(d);
	if (adj > DECIMAL_EMAX || adj < DECIMAL_EMIN)
		return -ERANGE;
	return 0;
}

/*
 * Parses the plain grammar on @s[0..@n). With @check_range, refuses what
 * the arithmetic cannot take (-ERANGE); without, only absurd exponents.
 */
static int parse_plain(struct decimal *d, const char *s, size_t n, bool check_range)
{
	const char *p = s, *end = s + n;
	bool neg = false, any = false;
	long frac = 0, e = 0;
	bool in_frac = false, e_neg = false, e_big = false;
	char *digits = NULL;
	size_t nd = 0;
	int err = -EINVAL;

	if (p < end && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	digits = malloc(n + 2);
	if (!digits)
		return -ENOMEM;
	for (; p < end; p++) {
		if (*p >= '0' && *p <= '9') {
			any = true;
			if (in_frac)
				frac++;
			/* leading zeros carry no value; keep one digit at least */
			if (nd > 0 || *p != '0')
				digits[nd++] = *p;
		} else if (*p == '.' && !in_frac) {
			in_frac = true;
		} else {
			break;
		}
	}
	if (!any)
		goto cleanup;
	if (p < end && (*p == 'e' || *p == 'E')) {
		bool e_any = false;

		p++;
		if (p < end && (*p == '+' || *p == '-'))
			e_neg = *p++ == '-';
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			e_any = true;
			if (e_big || e > (EXP_TEXT_MAX - (*p - '0')) / 10)
				e_big = true;
			else
				e = e * 10 + (*p - '0');
		}
		if (!e_any)
			goto cleanup;
	}
	if (p != end)
		goto cleanup;
	if (e_big) {
		err = -ERANGE;
		goto cleanup;
	}
	if (nd == 0)
		digits[nd++] = '0';
	digits[nd] = '\0';

	{
		long exp = (e_neg ? -e : e) - frac;
		long adj = digits[0] == '0' ? exp : exp + (long)nd - 1;

		if (check_range && (adj > DECIMAL_EMAX || adj < DECIMAL_EMIN)) {
			err = -ERANGE;
			goto cleanup;
		}
		if (mpz_set_str(d->coef, digits, 10) != 0)
			goto cleanup; /* cannot happen: only digits were kept */
		d->exp = exp;
		d->neg = neg;
	}
	err = 0;
cleanup:
	free(digits);
	return err;
}

int decimal_parse(struct decimal *d, const char *s)
{
	return parse_plain(d, s, strlen(s), true);
}

/*
 * Length of the white-space character Python's str.isspace() accepts at @p
 * (UTF-8), or 0.
 */
static size_t py_space_at(const unsigned char *p, const unsigned char *end)
{
	unsigned long cp;
	size_t len;

	if (p >= end)
		return 0;
	if (*p < 0x80)
		return (*p == ' ' || (*p >= '\t' && *p <= '\r') || (*p >= 0x1c && *p <= 0x1f)) ? 1 : 0;
	if ((*p & 0xe0) == 0xc0) {
		len = 2;
		cp = *p & 0x1f;
	} else if ((*p & 0xf0) == 0xe0) {
		len = 3;
		cp = *p & 0x0f;
	} else {
		return 0; /* no 4-byte code point is white space */
	}
	if ((size_t)(end - p) < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
	    cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000)
		return len;
	return 0;
}

/* Same, for the character that ends at @end (scanning backwards). */
static size_t py_space_before(const unsigned char *start, const unsigned char *end)
{
	for (size_t len = 1; len <= 3 && (size_t)(end - start) >= len; len++)
		if (py_space_at(end - len, end) == len)
			return len;
	return 0;
}

static bool ascii_ieq(const char *a, size_t n, const char *lower)
{
	if (strlen(lower) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = a[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lower[i])
			return false;
	}
	return true;
}

int decimal_parse_python(struct decimal *d, const char *s, enum decimal_class *cls)
{
	const unsigned char *b = (const unsigned char *)s, *e = b + strlen(s);
	char *t = NULL, *p;
	size_t n = 0, k;
	bool neg = false;
	int err = -EINVAL;

	/* Decimal(str) does value.strip() first, then drops every underscore */
	while ((k = py_space_at(b, e)) > 0)
		b += k;
	while (e > b && (k = py_space_before(b, e)) > 0)
		e -= k;
	t = malloc((size_t)(e - b) + 1);
	if (!t)
		return -ENOMEM;
	for (const unsigned char *q = b; q < e; q++)
		if (*q != '_')
			t[n++] = (char)*q;
	t[n] = '\0';

	p = t;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	k = n - (size_t)(p - t);
	if (ascii_ieq(p, k, "inf") || ascii_ieq(p, k, "infinity")) {
		*cls = neg ? DECIMAL_NEG_INF : DECIMAL_INF;
		err = 0;
		goto cleanup;
	}
	{
		size_t pre = 0;

		if (k >= 3 && ascii_ieq(p, 3, "nan"))
			pre = 3;
		else if (k >= 4 && ascii_ieq(p, 4, "snan"))
			pre = 4;
		if (pre) {
			if (strspn(p + pre, "0123456789") != k - pre)
				goto cleanup;
			*cls = DECIMAL_NAN;
			err = 0;
			goto cleanup;
		}
	}
	/* only compared with levels: Python compares any exponent */
	err = parse_plain(d, t, n, false);
	if (err == 0)
		*cls = DECIMAL_FINITE;
cleanup:
	free(t);
	return err;
}

/* Python's Decimal.__add__ for finite operands. */
int decimal_add(struct decimal *r, const struct decimal *a, const struct decimal *b)
{
	struct decimal x, y, res;
	long exp;
	int err;

	decimal_init(&x);
	decimal_init(&y);
	decimal_init(&res);
	decimal_copy(&x, a);
	decimal_copy(&y, b);
	exp = x.exp < y.exp ? x.exp : y.exp;

	if (mpz_sgn(x.coef) == 0 && mpz_sgn(y.coef) == 0) {
		/* sign = min(signs): negative only if both are (no ROUND_FLOOR here) */
		res.neg = x.neg && y.neg;
		res.exp = exp;
	} else if (mpz_sgn(x.coef) == 0 || mpz_sgn(y.coef) == 0) {
		/* 0 + o: o rescaled to max(exp, o.exp - prec - 1), i.e. padded with zeros */
		struct decimal *o = mpz_sgn(x.coef) == 0 ? &y : &x;
		long e = o->exp - DECIMAL_PREC - 1;

		if (e < exp)
			e = exp;
		coef_shift(o->coef, (unsigned long)(o->exp - e));
		o->exp = e;
		decimal_copy(&res, o);
	} else {
		/* _normalize: an operand too small to matter becomes 10^e */
		struct decimal *tmp = x.exp < y.exp ? &y : &x;
		struct decimal *other = tmp == &x ? &y : &x;
		long tmp_len = (long)coef_digits(tmp->coef);
		long other_len = (long)coef_digits(other->coef);
		long m = tmp_len - DECIMAL_PREC - 2;
		long e = tmp->exp + (m < -1 ? m : -1);

		if (other_len + other->exp - 1 < e) {
			mpz_set_ui(other->coef, 1);
			other->exp = e;
		}
		coef_shift(tmp->coef, (unsigned long)(tmp->exp - other->exp));
		tmp->exp = other->exp;

		if (x.neg != y.neg) {
			int c = mpz_cmp(x.coef, y.coef);

			if (c == 0) {
				/* equal and opposite: +0 with the smaller original exponent */
				res.neg = false;
				res.exp = exp;
				goto fix;
			}
			if (c > 0) {
				mpz_sub(res.coef, x.coef, y.coef);
				res.neg = x.neg;
			} else {
				mpz_sub(res.coef, y.coef, x.coef);
				res.neg = y.neg;
			}
		} else {
			mpz_add(res.coef, x.coef, y.coef);
			res.neg = x.neg;
		}
		res.exp = x.exp;
	}
fix:
	err = decimal_fix(&res);
	if (err == 0) {
		mpz_swap(r->coef, res.coef);
		r->exp = res.exp;
		r->neg = res.neg;
	}
	decimal_clear(&res);
	decimal_clear(&y);
	decimal_clear(&x);
	return err;
}

/* Python's Decimal.__mul__ for finite operands. */
int decimal_mul(struct decimal *r, const struct decimal *a, const struct decimal *b)
{
	struct decimal res;
	int err;

	decimal_init(&res);
	res.neg = a->neg != b->neg;
	res.exp = a->exp + b->exp;
	mpz_mul(res.coef, a->coef, b->coef);
	err = decimal_fix(&res);
	if (err == 0) {
		mpz_swap(r->coef, res.coef);
		r->exp = res.exp;
		r->neg = res.neg;
	}
	decimal_clear(&res);
	return err;
}

/* |a| vs |b| for non-zero operands. */
static int cmp_abs(const struct decimal *a, const struct decimal *b)
{
	long aa = decimal_adjusted(a), ab = decimal_adjusted(b);
	mpz_t t;
	int c;

	if (aa != ab)
		return aa < ab ? -1 : 1;
	if (a->exp == b->exp)
		return mpz_cmp(a->coef, b->coef);
	/* same leading digit position: the exponents differ by less than the digits */
	mpz_init(t);
	if (a->exp > b->exp) {
		mpz_set(t, a->coef);
		coef_shift(t, (unsigned long)(a->exp - b->exp));
		c = mpz_cmp(t, b->coef);
	} else {
		mpz_set(t, b->coef);
		coef_shift(t, (unsigned long)(b->exp - a->exp));
		c = -mpz_cmp(t, a->coef);
	}
	mpz_clear(t);
	return c;
}

int decimal_cmp(const struct decimal *a, const struct decimal *b)
{
	int sa = decimal_sign(a), sb = decimal_sign(b);
	int c;

	if (sa != sb)
		return sa < sb ? -1 : 1;
	if (sa == 0)
		return 0;
	c = cmp_abs(a, b);
	return sa > 0 ? c : -c;
}

bool decimal_fits_places(const struct decimal *d, long places)
{
	mpz_t p;
	bool ok;

	if (d->exp >= -places || mpz_sgn(d->coef) == 0)
		return true;
	/* more places written than allowed: fine if the extra ones are zeros */
	if (-places - d->exp > (long)coef_digits(d->coef))
		return false;
	mpz_init(p);
	mpz_ui_pow_ui(p, 10, (unsigned long)(-places - d->exp));
	ok = mpz_divisible_p(d->coef, p) != 0;
	mpz_clear(p);
	return ok;
}

/* Python's Decimal.__str__ (eng=False, capitals=1) for a finite number. */
int decimal_format_alloc(const struct decimal *d, char **out)
{
	void (*gmp_free)(void *, size_t);
	char *c, *s, *w;
	long len, left, dot;
	size_t cap;

	*out = NULL;
	c = mpz_get_str(NULL, 10, d->coef);
	len = (long)strlen(c);
	left = d->exp + len;
	if (d->exp <= 0 && left > -6)
		dot = left; /* no exponent needed */
	else
		dot = 1;    /* scientific: one digit before the point */

	/* sign, digits, "0.", up to 6 zeros, 'E', sign and a long */
	cap = (size_t)len + 40;
	s = malloc(cap);
	if (!s)
		goto cleanup;
	w = s;
	if (d->neg)
		*w++ = '-';
	if (dot <= 0) {
		*w++ = '0';
		*w++ = '.';
		for (long i = 0; i < -dot; i++)
			*w++ = '0';
		memcpy(w, c, (size_t)len);
		w += len;
	} else if (dot >= len) {
		memcpy(w, c, (size_t)len);
		w += len;
		for (long i = 0; i < dot - len; i++)
			*w++ = '0';
	} else {
		memcpy(w, c, (size_t)dot);
		w += dot;
		*w++ = '.';
		memcpy(w, c + dot, (size_t)(len - dot));
		w += len - dot;
	}
	*w = '\0';
	if (left != dot)
		snprintf(w, cap - (size_t)(w - s), "E%+ld", left - dot);
	*out = s;
cleanup:
	mp_get_memory_functions(NULL, NULL, &gmp_free);
	gmp_free(c, (size_t)len + 1);
	return *out ? 0 : -ENOMEM;
}

int decimal_format(const struct decimal *d, char *buf, size_t len)
{
	char *s = NULL;
	size_t n;
	int err;

	err = decimal_format_alloc(d, &s);
	if (err)
		return err;
	n = strlen(s);
	if (n >= len || n > INT_MAX) {
		err = -ENOSPC;
		goto cleanup;
	}
	memcpy(buf, s, n + 1);
	err = (int)n;
cleanup:
	free(s);
	return err;
}

void decimal_get_mpq(const struct decimal *d, mpq_t q)
{
	mpz_t p;

	mpz_init(p);
	mpq_set_z(q, d->coef);
	if (d->exp > 0) {
		mpz_ui_pow_ui(p, 10, (unsigned long)d->exp);
		mpz_mul(mpq_numref(q), mpq_numref(q), p);
	} else if (d->exp < 0) {
		mpz_ui_pow_ui(p, 10, (unsigned long)-d->exp);
		mpz_set(mpq_denref(q), p);
		mpq_canonicalize(q);
	}
	if (d->neg)
		mpq_neg(q, q);
	mpz_clear(p);
}

int decimal_set_mpq(struct decimal *d, const mpq_t q)
{
	mpz_t num, rest, p, rem;
	unsigned long twos, fives;
	long shift;
	int err;

	if (mpq_sgn(q) == 0) {
		decimal_set_long(d, 0);
		return 0;
	}
	mpz_inits(num, rest, p, rem, NULL);
	mpz_abs(num, mpq_numref(q));
	/* a denominator of 2s and 5s only: the value ends after max(twos, fives) places */
	twos = mpz_scan1(mpq_denref(q), 0);
	mpz_tdiv_q_2exp(rest, mpq_denref(q), twos);
	mpz_set_ui(p, 5);
	fives = mpz_remove(rest, rest, p);
	if (mpz_cmp_ui(rest, 1) == 0) {
		shift = (long)(twos > fives ? twos : fives);
		mpz_ui_pow_ui(p, 10, (unsigned long)shift);
		mpz_mul(num, num, p);
		mpz_divexact(d->coef, num, mpq_denref(q));
		d->exp = -shift;
	} else {
		/*
		 * It never ends: enough digits for DECIMAL_PREC + 2 significant
		 * ones, then a sticky 1 standing for the non-zero rest, so that
		 * rounding half-even below never sees a false tie.
		 */
		shift = (long)DECIMAL_PREC + 2 - ((long)mpz_sizeinbase(num, 10) -
						    (long)mpz_sizeinbase(mpq_denref(q), 10));
		if (shift < 0)
			shift = 0;
		mpz_ui_pow_ui(p, 10, (unsigned long)shift);
		mpz_mul(num, num, p);
		mpz_tdiv_qr(d->coef, rem, num, mpq_denref(q));
		mpz_mul_ui(d->coef, d->coef, 10);
		mpz_add_ui(d->coef, d->coef, 1);
		d->exp = -shift - 1;
	}
	d->neg = mpq_sgn(q) < 0;
	err = decimal_fix(d);
	/* no trailing zeros after the point (0.5, not 0.500000), nor in a rounded coefficient */
	while (!err && (d->exp < 0 || (d->exp > 0 && mpz_sgn(d->coef))) &&
	       mpz_divisible_ui_p(d->coef, 10)) {
		mpz_divexact_ui(d->coef, d->coef, 10);
		d->exp++;
	}
	mpz_clears(num, rest, p, rem, NULL);
	return err;
}

void decimal_round_display(struct decimal *d, unsigned digits)
{
	unsigned long n = coef_digits(d->coef);

	if (digits && n > digits) {
		unsigned long drop = n - digits;
		mpz_t p, q, r;
		int c;

		mpz_inits(p, q, r, NULL);
		mpz_ui_pow_ui(p, 10, drop);
		mpz_tdiv_qr(q, r, d->coef, p);
		mpz_mul_2exp(r, r, 1);
		c = mpz_cmp(r, p);
		if (c > 0 || (c == 0 && mpz_odd_p(q)))
			mpz_add_ui(q, q, 1);
		mpz_swap(d->coef, q);
		d->exp += (long)drop;
		mpz_clears(p, q, r, NULL);
	}
	while (d->exp < 0 && mpz_sgn(d->coef) && mpz_divisible_ui_p(d->coef, 10)) {
		mpz_divexact_ui(d->coef, d->coef, 10);
		d->exp++;
	}
	if (mpz_sgn(d->coef) == 0 && d->exp < 0)
		d->exp = 0;
	if (d->exp > 0) {
		coef_shift(d->coef, (unsigned long)d->exp);
		d->exp = 0;
	}
}
