/* server/calls: the table of calls in progress (see calls.h).
 *
 * A hash table on Call-ID (chains) for the per-message look-ups, and a
 * doubly linked list in start order for the listing and the sweep. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/calls.h"

/* Invariant: each record is in exactly one chain (bucket of its Call-ID
 * hash) and in the start-order list; strings are NUL-terminated copies. */
struct rec {
	struct rec *hnext;            /* hash chain */
	struct rec *prev, *next;      /* start order */
	uint32_t hash;
	char *call_id, *from_tag, *to_tag, *caller, *callee;
	enum sps_call_state state;
	struct sps_call_leg legs[2];  /* caller, callee */
	struct sps_call_media media[2];
	bool callee_known;
	int64_t started, answered;    /* unix seconds; answered 0 until 2xx */
};

struct sps_calls {
	struct rec **buckets;
	size_t nbuckets, count;
	struct rec *head, *tail;
};

static uint32_t fnv(struct sps_slice s)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < s.l; i++)
		h = (h ^ (unsigned char)s.p[i]) * 16777619u;
	return h;
}

static bool eq(const char *a, struct sps_slice b)
{
	return strlen(a) == b.l && memcmp(a, b.p, b.l) == 0;
}

static char *dup_slice(struct sps_slice s)
{
	char *p = malloc(s.l + 1);
	if (p) {
		memcpy(p, s.p, s.l);
		p[s.l] = '\0';
	}
	return p;
}

int sps__calls_new(struct sps_calls **out)
{
	struct sps_calls *cs = calloc(1, sizeof(*cs));
	if (!cs)
		return ENOMEM;
	cs->nbuckets = 1024;
	cs->buckets = calloc(cs->nbuckets, sizeof(*cs->buckets));
	if (!cs->buckets) {
		free(cs);
		return ENOMEM;
	}
	*out = cs;
	return 0;
}

static void rec_free(struct rec *r)
{
	free(r->call_id);
	free(r->from_tag);
	free(r->to_tag);
	free(r->caller);
	free(r->callee);
	free(r);
}

void sps__calls_free(struct sps_calls *cs)
{
	if (!cs)
		return;
	for (struct rec *r = cs->head, *n; r; r = n) {
		n = r->next;
		rec_free(r);
	}
	free(cs->buckets);
	free(cs);
}

size_t sps__calls_count(const struct sps_calls *cs) { return cs ? cs->count : 0; }

static void unlink_rec(struct sps_calls *cs, struct rec *r)
{
	for (struct rec **pp = &cs->buckets[r->hash % cs->nbuckets]; *pp; pp = &(*pp)->hnext)
		if (*pp == r) {
			*pp = r->hnext;
			break;
		}
	if (r->prev)
		r->prev->next = r->next;
	else
		cs->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		cs->tail = r->prev;
	cs->count--;
	rec_free(r);
}

/* Double the table when chains get long (load factor 1). */
static void grow(struct sps_calls *cs)
{
	size_t n = cs->nbuckets * 2;
	struct rec **b = calloc(n, sizeof(*b));
	if (!b)
		return; /* longer chains, still correct */
	for (struct rec *r = cs->head; r; r = r->next) {
		r->hnext = b[r->hash % n];
		b[r->hash % n] = r;
	}
	free(cs->buckets);
	cs->buckets = b;
	cs->nbuckets = n;
}

static struct rec *find(const struct sps_calls *cs, struct sps_slice call_id,
			struct sps_slice from_tag)
{
	uint32_t h = fnv(call_id);
	for (struct rec *r = cs->buckets[h % cs->nbuckets]; r; r = r->hnext)
		if (r->hash == h && eq(r->call_id, call_id) && eq(r->from_tag, from_tag))
			return r;
	return NULL;
}

int sps__calls_begin(struct sps_calls *cs, struct sps_slice call_id, struct sps_slice from_tag,
		     struct sps_slice caller_uri, struct sps_slice callee_uri,
		     const struct sps_call_leg *caller, int64_t now)
{
	struct rec *old = find(cs, call_id, from_tag);
	if (old)
		unlink_rec(cs, old);
	if (cs->count >= SPS_CALLS_MAX)
		return ENOSPC;
	struct rec *r = calloc(1, sizeof(*r));
	if (!r)
		return ENOMEM;
	r->call_id = dup_slice(call_id);
	r->from_tag = dup_slice(from_tag);
	r->to_tag = dup_slice(SPS_SLICE_LIT(""));
	r->caller = dup_slice(caller_uri);
	r->callee = dup_slice(callee_uri);
	if (!r->call_id || !r->from_tag || !r->to_tag || !r->caller || !r->callee) {
		rec_free(r);
		return ENOMEM;
	}
	r->hash = fnv(call_id);
	r->legs[0] = *caller;
	r->started = now;
	if (cs->count + 1 > cs->nbuckets)
		grow(cs);
	r->hnext = cs->buckets[r->hash % cs->nbuckets];
	cs->buckets[r->hash % cs->nbuckets] = r;
	r->prev = cs->tail;
	if (cs->tail)
		cs->tail->next = r;
	else
		cs->head = r;
	cs->tail = r;
	cs->count++;
	return 0;
}

void sps__calls_progress(struct sps_calls *cs, struct sps_slice call_id,
			 struct sps_slice from_tag, unsigned code, struct sps_slice to_tag,
			 const struct sps_call_leg *callee, int64_t now)
{
	struct rec *r = find(cs, call_id, from_tag);
	if (!r || code <= 100)
		return;
	if (callee && r->state != SPS_CALL_ESTABLISHED) {
		r->legs[1] = *callee;
		r->callee_known = true;
	}
	if (code < 200) {
		if (r->state == SPS_CALL_TRYING)
			r->state = SPS_CALL_RINGING;
	} else if (code < 300) {
		if (r->state == SPS_CALL_ESTABLISHED)
			return; /* a 2xx from another fork: the first one holds */
		char *t = dup_slice(to_tag);
		if (t) {
			free(r->to_tag);
			r->to_tag = t;
		}
		r->state = SPS_CALL_ESTABLISHED;
		r->answered = now;
	} else if (r->state != SPS_CALL_ESTABLISHED) {
		unlink_rec(cs, r);
	}
}

bool sps__calls_end(struct sps_calls *cs, struct sps_slice call_id, struct sps_slice tag_a,
		    struct sps_slice tag_b)
{
	struct rec *r = find(cs, call_id, tag_a);
	if (!r || !eq(r->to_tag, tag_b)) {
		r = find(cs, call_id, tag_b); /* BYE from the callee: tags swapped */
		if (r && !eq(r->to_tag, tag_a))
			r = NULL;
	}
	if (!r)
		return false;
	unlink_rec(cs, r);
	return true;
}

void sps__calls_media(struct sps_calls *cs, struct sps_slice call_id, struct sps_slice from_tag,
		      unsigned side, const char *profile, uint64_t packets_in,
		      uint64_t packets_out)
{
	struct rec *r = find(cs, call_id, from_tag);
	if (!r || side > 1)
		return;
	struct sps_call_media *m = &r->media[side];
	snprintf(m->profile, sizeof(m->profile), "%s", profile ? profile : "");
	m->packets_in = packets_in;
	m->packets_out = packets_out;
}

void sps__calls_media_auth_failed(struct sps_calls *cs, struct sps_slice call_id,
				  struct sps_slice from_tag, unsigned side, uint64_t auth_failed)
{
	struct rec *r = find(cs, call_id, from_tag);
	if (r && side <= 1)
		r->media[side].auth_failed = auth_failed;
}

void sps__calls_sweep(struct sps_calls *cs, int64_t now)
{
	for (struct rec *r = cs->head, *n; r; r = n) {
		n = r->next;
		int64_t limit = r->state == SPS_CALL_ESTABLISHED ? SPS_CALLS_MAX_AGE_S
								 : SPS_CALLS_MAX_SETUP_S;
		if (now - r->started > limit)
			unlink_rec(cs, r);
	}
}

static json_t *time_str(int64_t t)
{
	if (!t)
		return json_null();
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

/* A JSON string of s; invalid UTF-8 (a From URI may hold anything) as '?'. */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	char *c = strdup(s);
	if (!c)
		return NULL;
	for (char *p = c; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(c);
	free(c);
	return j;
}

static const char *tp_name(enum sps_transport tp)
{
	return tp == SPS_TP_UDP ? "udp" : tp == SPS_TP_TCP ? "tcp" : "tls";
}

/* A leg; the media keys are null until the media relay (issue 6) reports. */
static json_t *leg_json(const char *side, const struct sps_call_leg *l, bool known,
			const struct sps_call_media *m)
{
	bool media = m->profile[0] != '\0';
	char addr[64] = "";
	if (known)
		sps_sa_to_str(&l->addr, addr, sizeof(addr));
	json_t *o = json_object();
	if (!o || json_object_set_new(o, "side", json_string(side)) ||
	    json_object_set_new(o, "transport", known ? json_string(tp_name(l->tp)) : json_null()) ||
	    json_object_set_new(o, "address", known ? json_string(addr) : json_null()) ||
	    json_object_set_new(o, "media_profile", media ? json_string(m->profile) : json_null()) ||
	    json_object_set_new(o, "packets_in",
				media ? json_integer((json_int_t)m->packets_in) : json_null()) ||
	    json_object_set_new(o, "packets_out",
				media ? json_integer((json_int_t)m->packets_out) : json_null()) ||
	    json_object_set_new(o, "auth_failed",
				media ? json_integer((json_int_t)m->auth_failed) : json_null())) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *sps__calls_json(const struct sps_calls *cs, int64_t now)
{
	static const char *const states[] = {"trying", "ringing", "established"};
	json_t *arr = json_array();
	if (!arr)
		return NULL;
	for (const struct rec *r = cs->head; r; r = r->next) {
		json_t *o = json_object(), *legs = json_array();
		if (!o || !legs || json_array_append_new(legs, leg_json("caller", &r->legs[0], true, &r->media[0])) ||
		    json_array_append_new(legs, leg_json("callee", &r->legs[1], r->callee_known,
							 &r->media[1])) ||
		    json_object_set_new(o, "call_id", jstr(r->call_id)) ||
		    json_object_set_new(o, "caller", jstr(r->caller)) ||
		    json_object_set_new(o, "callee", jstr(r->callee)) ||
		    json_object_set_new(o, "state", json_string(states[r->state])) ||
		    json_object_set_new(o, "started_at", time_str(r->started)) ||
		    json_object_set_new(o, "answered_at", time_str(r->answered)) ||
		    json_object_set_new(o, "duration", json_integer(now - r->started))) {
			json_decref(legs);
			json_decref(o);
			json_decref(arr);
			return NULL;
		}
		/* both steal the reference, also when they fail */
		if (json_object_set_new(o, "legs", legs)) {
			json_decref(o);
			json_decref(arr);
			return NULL;
		}
		if (json_array_append_new(arr, o)) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}
