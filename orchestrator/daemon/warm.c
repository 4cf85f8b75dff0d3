/* warm.c - see warm.h. */
#include "daemon/warm.h"

#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "images/images.h"
#include "json/report.h"
#include "machine/host.h"
#include "machine/machine.h"
#include "machine/vm.h"
#include "store/images.h"
#include "store/queue.h"
#include "store/state.h"

#define ROUND_MS 1000		/* the pool looks at the images at least this often */
#define FAILURE_BACKOFF_MS 30000 /* after a machine of an image did not come up */

struct entry {
	struct entry *next;
	char *image;
	struct machine *m;	/* NULL while starting */
	int64_t ready_at;	/* mf_now_ms() */
};

struct warm_pool {
	struct mf_config cfg;
	int (*running)(void *arg);
	int (*paused)(void *arg);
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	atomic_int stopping;
	int halted;
	struct entry *entries;	/* ready and starting, under lock */
	int ready, starting;
	int64_t seq;		/* names the machines: "w1", "w2"... */
	struct mf_state *state;	/* the pool thread's own */
	struct host *host;
	struct backoff *failed;	/* images whose machine did not come up, left alone a while */
};

struct backoff {
	struct backoff *next;
	char *image;
	int64_t until;		/* mf_now_ms() */
};

/* 1 while image is left alone after a failure (under lock). */
static int backing_off(struct warm_pool *p, const char *image, int64_t now)
{
	for (struct backoff *b = p->failed; b; b = b->next)
		if (!strcmp(b->image, image))
			return now < b->until;
	return 0;
}

/* Leaves image alone for FAILURE_BACKOFF_MS (under lock). */
static void back_off(struct warm_pool *p, const char *image)
{
	struct backoff *b;

	for (b = p->failed; b && strcmp(b->image, image); b = b->next)
		;
	if (!b) {
		b = xcalloc(1, sizeof(*b));
		b->image = xstrdup(image);
		b->next = p->failed;
		p->failed = b;
	}
	b->until = mf_now_ms() + FAILURE_BACKOFF_MS;
}

static void timed_wait(struct warm_pool *p, int ms)
{
	mf_cond_wait_ms(&p->cond, &p->lock, ms);
}

static void entry_free(struct entry *e)
{
	free(e->image);
	free(e);
}

/* Destroys a pool machine (called without the lock) with the caller's database connection. */
static void destroy(struct db *db, struct entry *e, const char *why)
{
	log_info("warm pool: machine %s of image %s destroyed (%s)", e->m->domain, e->image, why);
	char *console = xstrdup(e->m->console_path);

	e->m->db = db;
	if (machine_down(e->m) < 0)
		log_warnx("warm pool: %s", mf_error_msg());
	else
		unlink(console);
	free(console);
	entry_free(e);
}

/* Unlinks e from the list (under lock). */
static void unlink_entry(struct warm_pool *p, struct entry *e)
{
	for (struct entry **pp = &p->entries; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			e->next = NULL;
			return;
		}
	}
}

struct machine *warm_take(struct warm_pool *p, const char *image, struct db *db,
			  atomic_int *cancel)
{
	struct entry *evict = NULL;
	struct machine *m = NULL;

	pthread_mutex_lock(&p->lock);
	while (!p->stopping && !(cancel && *cancel)) {
		struct entry *mine = NULL, *other = NULL;

		for (struct entry *e = p->entries; e; e = e->next) {
			if (!e->m)
				continue;
			if (!strcmp(e->image, image) && !mine)
				mine = e;
			else if (strcmp(e->image, image) && !other)
				other = e;
		}
		if (mine) {
			unlink_entry(p, mine);
			p->ready--;
			/* A machine that died while it waited goes; the build brings its own. */
			if (!vm_domain_running(mine->m->host->vm, mine->m->domain)) {
				evict = mine;
				break;
			}
			m = mine->m;
			entry_free(mine);
			break;
		}
		/* The caller's build is among the running ones already. */
		if (p->running(p->arg) + p->ready + p->starting <= p->cfg.max_vms ||
		    (!other && p->starting == 0))
			break;
		if (other) {
			unlink_entry(p, other);
			p->ready--;
			evict = other;
			break;
		}
		/* All the room is a machine starting: wait for it (it may be this image's). */
		timed_wait(p, 250);
	}
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (m)
		log_info("warm pool: machine %s of image %s taken by a build", m->domain, image);
	if (evict)
		destroy(db, evict, evict->m && !strcmp(evict->image, image) ?
			"it stopped while it waited" : "its room went to a build of another image");
	return m;
}

void warm_kick(struct warm_pool *p)
{
	pthread_mutex_lock(&p->lock);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

int warm_counts(struct warm_pool *p, struct report_warm **out, size_t *n)
{
	struct report_warm *v = NULL;
	size_t len = 0;

	pthread_mutex_lock(&p->lock);
	for (struct entry *e = p->entries; e; e = e->next) {
		size_t i;
		for (i = 0; i < len && strcmp(v[i].image, e->image); i++)
			;
		if (i == len) {
			v = xrealloc(v, (len + 1) * sizeof(*v));
			memset(&v[len], 0, sizeof(v[len]));
			snprintf(v[len].image, sizeof(v[len].image), "%s", e->image);
			len++;
		}
		if (e->m)
			v[i].ready++;
		else
			v[i].starting++;
	}
	pthread_mutex_unlock(&p->lock);
	*out = v;
	*n = len;
	return 0;
}

/* How many machines of image the pool holds or starts (under lock). */
static int held(struct warm_pool *p, const char *image)
{
	int n = 0;

	for (struct entry *e = p->entries; e; e = e->next)
		n += !strcmp(e->image, image);
	return n;
}

/*
 * Takes out of the pool, for destruction, the ready machines that are too
 * old, of an image that is gone or wants fewer (under lock). Returns the
 * first of a list linked through next.
 */
static struct entry *expired(struct warm_pool *p, struct image **imgs, size_t n, int known)
{
	struct entry *out = NULL;
	int64_t now = mf_now_ms();

	for (struct entry **pp = &p->entries; *pp;) {
		struct entry *e = *pp;
		int want = 0;

		for (size_t i = 0; i < n; i++)
			if (!strcmp(imgs[i]->name, e->image))
				want = imgs[i]->quarantined ? 0 : imgs[i]->settings.warm;
		if (e->m && (now - e->ready_at > (int64_t)p->cfg.warm_ttl * 1000 ||
			     (known && held(p, e->image) > want))) {
			*pp = e->next;
			e->next = out;
			out = e;
			p->ready--;
			continue;
		}
		pp = &e->next;
	}
	return out;
}

/* Brings one machine of img up for the pool (called without the lock). */
static struct machine *bring_up(struct warm_pool *p, const struct image *img, int64_t seq)
{
	char tag[32];
	char *console;
	struct image_boot boot;
	struct machine *m = NULL;

	snprintf(tag, sizeof(tag), "w%lld", (long long)seq);
	console = xasprintf("%s/logs/warm-%s.console.log", p->state->dir, tag);
	image_boot_init(&boot, p->host, p->state->db, img, tag, 0, console, NULL);
	boot.spec.cancel = &p->stopping;
	char *logdir = xasprintf("%s/logs", p->state->dir);
	int dir_ok = mf_mkdir_p(logdir, 0755);
	free(logdir);
	if (dir_ok < 0 ||
	    machine_up(p->host, p->state->db, &boot.spec, &m) < 0) {
		log_warnx("warm pool: a machine of image %s did not come up: %s", img->name,
			  mf_error_msg());
		image_boot_note(p->state->db, img, m);
		if (machine_down(m) < 0)
			log_warnx("warm pool: %s", mf_error_msg());
		else
			unlink(console);
		m = NULL;
	} else {
		log_info("warm pool: machine %s of image %s ready (%s)", m->domain, img->name,
			 m->restored ? "restored from a snapshot" : "booted");
		image_boot_note(p->state->db, img, m);
	}
	image_boot_release(&boot);
	free(console);
	return m;
}

static void *warm_main(void *arg)
{
	struct warm_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		struct image **imgs = NULL;
		size_t n = 0;
		int queued = 0, known = 1;

		pthread_mutex_unlock(&p->lock);
		if (images_list(p->state->db, &imgs, &n) < 0 ||
		    queue_claimable(p->state->db, p->cfg.pr_max_vms, &queued) < 0) {
			log_warnx("warm pool: %s", mf_error_msg());
			mf_error_clear();
			known = 0;
			queued = 1; /* start nothing either */
		}
		pthread_mutex_lock(&p->lock);
		struct entry *old = expired(p, imgs, n, known);
		const struct image *want = NULL;
		int64_t now = mf_now_ms();
		/* Builds come first: the pool fills only room nobody waits for. */
		if (queued == 0 && !p->paused(p->arg) &&
		    p->running(p->arg) + p->ready + p->starting < p->cfg.max_vms) {
			for (size_t i = 0; i < n && !want; i++) {
				if (imgs[i]->quarantined || imgs[i]->settings.warm <= held(p, imgs[i]->name))
					continue;
				if (backing_off(p, imgs[i]->name, now))
					continue;
				want = imgs[i];
			}
		}
		struct entry *e = NULL;
		int64_t seq = 0;
		if (want) {
			e = xcalloc(1, sizeof(*e));
			e->image = xstrdup(want->name);
			e->next = p->entries;
			p->entries = e;
			p->starting++;
			seq = ++p->seq;
		}
		pthread_mutex_unlock(&p->lock);

		while (old) {
			struct entry *next = old->next;
			destroy(p->state->db, old, "too old, or no longer wanted");
			old = next;
		}
		struct machine *m = want ? bring_up(p, want, seq) : NULL;

		pthread_mutex_lock(&p->lock);
		if (e) {
			p->starting--;
			if (m) {
				e->m = m;
				e->ready_at = mf_now_ms();
				p->ready++;
			} else {
				unlink_entry(p, e);
				back_off(p, e->image);
				entry_free(e);
			}
			pthread_cond_broadcast(&p->cond);
		}
		images_list_free(imgs, n);
		/* Started one: look again at once (more may be wanted). */
		if (!p->stopping && !m)
			timed_wait(p, ROUND_MS);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int warm_start(struct warm_pool **out, const struct mf_config *cfg,
	       int (*running)(void *arg), int (*paused)(void *arg), void *arg)
{
	struct warm_pool *p = xcalloc(1, sizeof(*p));

	*out = NULL;
	config_copy(&p->cfg, cfg);
	p->running = running;
	p->paused = paused;
	p->arg = arg;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (state_open(&p->state, cfg->state_dir) < 0 ||
	    host_open(&p->host, cfg->libvirt_uri, cfg->accel, p->state) < 0)
		goto fail;
	if (pthread_create(&p->thread, NULL, warm_main, p) != 0) {
		mf_error(MF_E_INFRA, "cannot start the warm pool's thread");
		goto fail;
	}
	*out = p;
	return 0;
fail:
	host_close(p->host);
	state_free(p->state);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	config_release(&p->cfg);
	free(p);
	return -1;
}

void warm_halt(struct warm_pool *p)
{
	struct entry *list, *e;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->halted) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	p->stopping = 1;
	p->halted = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	/* No warm_take() hands anything out from now on (it sees stopping). */
	pthread_mutex_lock(&p->lock);
	list = p->entries;
	p->entries = NULL;
	p->ready = p->starting = 0;
	pthread_mutex_unlock(&p->lock);
	while ((e = list)) {
		list = e->next;
		if (e->m)
			destroy(p->state->db, e, "mayflyd stops");
		else
			entry_free(e);
	}
}

void warm_free(struct warm_pool *p)
{
	if (!p)
		return;
	warm_halt(p);
	while (p->failed) {
		struct backoff *b = p->failed;
		p->failed = b->next;
		free(b->image);
		free(b);
	}
	host_close(p->host);
	state_free(p->state);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	config_release(&p->cfg);
	free(p);
}
