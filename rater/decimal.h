/*
 * decimal.h — exact decimal numbers that compute like Python's `decimal`.
 *
 * CloudKitty prices with Python's decimal module in its default context:
 * 28 significant digits, ROUND_HALF_EVEN after every operation, exponents in
 * [-999999, 999999]. hvrater must give the same digits, so a number here is
 * what a Python Decimal is: a sign, an integer coefficient (GMP) and a power
 * of ten, `(-1)^neg × coef × 10^exp`. The coefficient keeps its trailing
 * zeros (1.50 is 150×10^-2, not 15×10^-1) because Python's str() shows them:
 * Decimal('1.50') * 2 is '3.00'. Binary floating point is never involved.
 *
 * Only finite numbers are values. Infinities and NaNs exist solely as a
 * parse result of decimal_parse_python() (for comparing a text attribute the
 * way CloudKitty's Decimal(text) would).
 *
 * Deviations from Python, none reachable with the inputs hvrater accepts:
 * a result whose adjusted exponent would fall below -999999 (Python goes
 * subnormal, then to zero) or above 999999 (Python raises Overflow) is
 * refused with -ERANGE.
 *
 * Thread rules: a struct decimal belongs to one thread at a time; functions
 * keep no global state. Memory: GMP aborts the process when it cannot
 * allocate, so the arithmetic has no -ENOMEM path.
 */
#ifndef HV_RATER_DECIMAL_H
#define HV_RATER_DECIMAL_H

#include <stdbool.h>
#include <stddef.h>

#include <gmp.h>

#define DECIMAL_PREC 28         /* significant digits kept by each operation */
#define DECIMAL_EMAX 999999L    /* largest adjusted exponent */
#define DECIMAL_EMIN (-999999L) /* smallest adjusted exponent of a non-zero result */

struct decimal {
	mpz_t coef; /* >= 0 */
	long exp;
	bool neg;   /* a sign even for zero: Python has -0 (e.g. 0 × -1.5) */
};

/* What decimal_parse_python() found. */
enum decimal_class {
	DECIMAL_FINITE = 0,
	DECIMAL_INF,     /* "inf", "Infinity"... */
	DECIMAL_NEG_INF, /* "-inf"... */
	DECIMAL_NAN,     /* "nan", "sNaN", "-nan12"...: Python's comparisons raise on these */
};

/* Initialises @d to 0 (exponent 0). Every decimal_init needs a decimal_clear. */
void decimal_init(struct decimal *d);
/* Frees what @d holds. Accepts NULL. @d must have been initialised. */
void decimal_clear(struct decimal *d);
/* @dst = @src, same representation. */
void decimal_copy(struct decimal *dst, const struct decimal *src);
/* @d = @v with exponent 0, as Python's int → Decimal conversion gives. */
void decimal_set_long(struct decimal *d, long v);

/*
 * Parses a plain decimal number: `[+-] digits [. [digits]] [(e|E) [+-] digits]`
 * or `[+-] . digits [exponent]`, the whole string and nothing else (no
 * spaces, no underscores, no "inf"/"nan", no thousands separators).
 * Representation as Python's Decimal(text): "1.50" keeps its two places,
 * "1e3" is 1E+3, "-0" is negative zero.
 * Returns 0; -EINVAL if @s is not such a number (then @d is unchanged);
 * -ERANGE if its adjusted exponent is outside [DECIMAL_EMIN, DECIMAL_EMAX];
 * -ENOMEM.
 */
int decimal_parse(struct decimal *d, const char *s);

/*
 * Parses @s the way Python's Decimal(str) constructor does: surrounding
 * white space (Python's str.strip() set, ASCII and Unicode, UTF-8 encoded)
 * is ignored, then every '_' is dropped, then infinities and NaNs are
 * recognised case-insensitively. Sets *@cls; @d is set only for
 * DECIMAL_FINITE. Non-ASCII digits, which Python also accepts, are not
 * recognised (-EINVAL). The number may lie outside the range the
 * arithmetic accepts (Python compares 1E+9999999 with 64 happily): compare
 * it, do not compute with it.
 * Returns 0; -EINVAL for text Python would refuse; -ERANGE for an exponent
 * written beyond ±999999999999999999 (which Python refuses too); -ENOMEM.
 */
int decimal_parse_python(struct decimal *d, const char *s, enum decimal_class *cls);

/*
 * @r = @a + @b, then rounded to DECIMAL_PREC digits half-even, with Python's
 * exponent (the smaller one when exact) and sign-of-zero rules.
 * @r may be @a or @b. Returns 0 or -ERANGE (then @r is unspecified).
 */
int decimal_add(struct decimal *r, const struct decimal *a, const struct decimal *b);

/* @r = @a × @b, rounded as decimal_add(). @r may alias. Returns 0 or -ERANGE. */
int decimal_mul(struct decimal *r, const struct decimal *a, const struct decimal *b);

/* Numeric comparison: <0, 0, >0. 1.0 == 1 and -0 == 0, as in Python. */
int decimal_cmp(const struct decimal *a, const struct decimal *b);

/* -1, 0 or 1 by value (-0 is 0). */
int decimal_sign(const struct decimal *d);

/*
 * The exponent of the most significant digit (Python's adjusted()):
 * 0 for 1.5, 2 for 150, -3 for 0.00123; the exponent itself for zero.
 */
long decimal_adjusted(const struct decimal *d);

/*
 * True if @d is an exact multiple of 10^-@places, i.e. has at most @places
 * digits after the point once trailing zeros are ignored (1.500 fits 1).
 */
bool decimal_fits_places(const struct decimal *d, long places);

/* @q = the exact value of @d (@q initialised by the caller). */
void decimal_get_mpq(const struct decimal *d, mpq_t q);

/*
 * @d = the rational @q (canonical: denominator > 0), exactly when it has at
 * most DECIMAL_PREC significant digits, else rounded once to DECIMAL_PREC
 * digits half-even (Python's Decimal(n) / Decimal(m) in our context gives
 * the same digits). Trailing zeros after the point are dropped ("0.5", not
 * "0.50000"); an integer keeps exponent 0 ("3600", not "3.6E+3") when it
 * fits in DECIMAL_PREC digits, a rounded one loses its trailing zeros
 * ("9.223372036854775807E+30"). Returns 0 or -ERANGE (adjusted exponent
 * out of range).
 */
int decimal_set_mpq(struct decimal *d, const mpq_t q);

/*
 * Rounds @d to at most @digits significant digits half-even, for display:
 * trailing zeros after the point are dropped and a positive exponent is
 * written out (1.23457E+6 becomes 1234570), so decimal_format() prints a
 * plain number. Never use the result in a computation.
 */
void decimal_round_display(struct decimal *d, unsigned digits);

/*
 * Writes @d as Python's str(Decimal) does ("3.00", "1E+3", "1E-7", "-0",
 * "0.000001") into @buf of @len bytes, NUL-terminated.
 * Returns the length (without NUL), or -ENOSPC if it does not fit.
 */
int decimal_format(const struct decimal *d, char *buf, size_t len);

/* As decimal_format() into a malloc'd string in *@out (caller frees). Returns 0 or -ENOMEM. */
int decimal_format_alloc(const struct decimal *d, char **out);

#endif
