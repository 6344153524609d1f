/*
 * power_source_fake.c — a power source a test steers: every call does what
 * the last power_source_fake_set() said. Lets the reader's gap, log-once and
 * never-block rules be tested without a BMC.
 */
#include "ipmi/power_source.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fake_source {
	struct power_source base;
	pthread_mutex_t lock;
	int connect_rc, read_rc;
	int64_t mw;
	unsigned delay_ms;
	unsigned connects, reads;
	bool connected;
};

static void fake_sleep(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (ms && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Takes a snapshot of the script under the lock, then sleeps outside it. */
static void fake_begin(struct fake_source *f, int *connect_rc, int *read_rc, int64_t *mw, bool is_connect)
{
	unsigned delay;

	pthread_mutex_lock(&f->lock);
	*connect_rc = f->connect_rc;
	*read_rc = f->read_rc;
	*mw = f->mw;
	delay = f->delay_ms;
	if (is_connect)
		f->connects++;
	else
		f->reads++;
	pthread_mutex_unlock(&f->lock);
	fake_sleep(delay);
}

static int fake_connect(struct power_source *src, struct power_source_info *info)
{
	struct fake_source *f = (struct fake_source *)src;
	int crc, rrc;
	int64_t mw;

	fake_begin(f, &crc, &rrc, &mw, true);
	memset(info, 0, sizeof(*info));
	if (crc) {
		snprintf(src->err, sizeof(src->err), "fake: connect: %s", strerror(-crc));
		return crc;
	}
	snprintf(info->bmc, sizeof(info->bmc), "fake");
	snprintf(info->map, sizeof(info->map), "fake");
	snprintf(info->source, sizeof(info->source), "fake");
	info->kind = POWER_SOURCE_SENSOR;
	f->connected = true;
	return 0;
}

static int fake_read_power(struct power_source *src, int64_t *mw)
{
	struct fake_source *f = (struct fake_source *)src;
	int crc, rrc;
	int64_t v;

	fake_begin(f, &crc, &rrc, &v, false);
	if (!f->connected) {
		snprintf(src->err, sizeof(src->err), "fake: not connected");
		return -ENOTCONN;
	}
	if (rrc) {
		snprintf(src->err, sizeof(src->err), "fake: read: %s", strerror(-rrc));
		return rrc;
	}
	*mw = v;
	return 0;
}

static int fake_read_exports(struct power_source *src, struct sensor_export_reading *out, size_t cap, size_t *n)
{
	struct fake_source *f = (struct fake_source *)src;

	*n = 0;
	if (!f->connected)
		return -ENOTCONN;
	if (cap) {
		memset(out, 0, sizeof(*out));
		snprintf(out->name, sizeof(out->name), "temperature.inlet");
		snprintf(out->sensor, sizeof(out->sensor), "Fake Inlet");
		out->unit = "C";
		out->scale = 1;
		out->has_value = true;
		out->value = 215;
		out->state = BMC_SENSOR_OK;
		*n = 1;
	}
	return 0;
}

static void fake_disconnect(struct power_source *src)
{
	((struct fake_source *)src)->connected = false;
}

static void fake_destroy(struct power_source *src)
{
	struct fake_source *f = (struct fake_source *)src;

	pthread_mutex_destroy(&f->lock);
	free(f);
}

static const struct power_source_ops fake_ops = {
	.connect = fake_connect,
	.read_power = fake_read_power,
	.read_exports = fake_read_exports,
	.disconnect = fake_disconnect,
	.destroy = fake_destroy,
};

int power_source_fake_new(struct power_source **out)
{
	struct fake_source *f = calloc(1, sizeof(*f));

	*out = NULL;
	if (!f)
		return -ENOMEM;
	f->base.ops = &fake_ops;
	pthread_mutex_init(&f->lock, NULL);
	*out = &f->base;
	return 0;
}

void power_source_fake_set(struct power_source *src, int connect_rc, int read_rc, int64_t mw, unsigned delay_ms)
{
	struct fake_source *f = (struct fake_source *)src;

	pthread_mutex_lock(&f->lock);
	f->connect_rc = connect_rc;
	f->read_rc = read_rc;
	f->mw = mw;
	f->delay_ms = delay_ms;
	pthread_mutex_unlock(&f->lock);
}

void power_source_fake_counts(struct power_source *src, unsigned *connects, unsigned *reads)
{
	struct fake_source *f = (struct fake_source *)src;

	pthread_mutex_lock(&f->lock);
	*connects = f->connects;
	*reads = f->reads;
	pthread_mutex_unlock(&f->lock);
}
