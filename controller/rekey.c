/*
 * Make-before-break rekey of the desired state's SA pairs.  See rekey.h
 * and docs/policy.md ("Rekeying").
 */
#include "rekey.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    MAX_DIRS = 2,               /* SAs per link pair: one per direction. */
};

static bool
spi_in_use(const struct ctl_state *st, uint32_t spi)
{
    for (size_t i = 0; i < st->n_sites; i++) {
        const struct ctl_site_state *ss = &st->sites[i];
        for (size_t k = 0; k < ss->n_sas; k++) {
            if (ss->sas[k].spi == spi) {
                return true;
            }
        }
    }
    return false;
}

/* A fresh SPI >= CTL_SPI_MIN that no SA of 'st' has, nor 'taken'. */
static int
new_spi(const struct ctl_state *st, const uint32_t *taken, size_t n_taken,
        uint32_t *spip)
{
    for (;;) {
        uint32_t spi;
        int error = ctl_random_bytes(&spi, sizeof spi);
        if (error) {
            return error;
        }
        bool dup = spi < CTL_SPI_MIN || spi_in_use(st, spi);
        for (size_t i = 0; i < n_taken && !dup; i++) {
            dup = taken[i] == spi;
        }
        if (!dup) {
            *spip = spi;
            return 0;
        }
    }
}

static struct ctl_sa *
append_sa(struct ctl_site_state *ss)
{
    struct ctl_sa *sas = realloc(ss->sas, (ss->n_sas + 1) * sizeof *sas);
    if (!sas) {
        abort();
    }
    ss->sas = sas;
    return &ss->sas[ss->n_sas++];
}

/* The new SA replacing 'old': same parameters, new SPI and key. */
static void
copy_sa(struct ctl_sa *new, const struct ctl_sa *old, uint32_t spi,
        const uint8_t *key, long long int now)
{
    *new = *old;
    new->port = old->port ? strdup(old->port) : NULL;
    new->key = malloc(old->key_len ? old->key_len : 1);
    if ((old->port && !new->port) || !new->key) {
        abort();
    }
    memcpy(new->key, key, old->key_len);
    new->spi = spi;
    new->adopted = false;
    new->installed = false;
    new->retiring = false;
    new->retire_at = 0;
    new->created = now;
    new->packets = new->bytes = 0;
}

struct sa_ref {
    size_t site, idx;
};

/* The current (not retiring) outbound SAs of link 'li' and their inbound
 * partners.  Returns how many pairs. */
static size_t
link_pairs(const struct ctl_state *st, size_t li, struct sa_ref out[MAX_DIRS],
           struct sa_ref in[MAX_DIRS])
{
    size_t n = 0;
    for (size_t i = 0; i < st->n_sites; i++) {
        const struct ctl_site_state *ss = &st->sites[i];
        for (size_t k = 0; k < ss->n_sas; k++) {
            const struct ctl_sa *o = &ss->sas[k];
            if (o->link != li || o->inbound || o->retiring) {
                continue;
            }
            for (size_t j = 0; j < st->n_sites; j++) {
                const struct ctl_site_state *ys = &st->sites[j];
                for (size_t m = 0; m < ys->n_sas; m++) {
                    const struct ctl_sa *p = &ys->sas[m];
                    if (p->link == li && p->inbound && !p->retiring
                        && p->spi == o->spi && n < MAX_DIRS) {
                        out[n] = (struct sa_ref) { i, k };
                        in[n] = (struct sa_ref) { j, m };
                        n++;
                    }
                }
            }
        }
    }
    return n;
}

static bool
link_busy(const struct ctl_state *st, size_t li)
{
    for (size_t i = 0; i < st->n_sites; i++) {
        const struct ctl_site_state *ss = &st->sites[i];
        for (size_t k = 0; k < ss->n_sas; k++) {
            if (ss->sas[k].link == li && ss->sas[k].retiring) {
                return true;
            }
        }
    }
    return false;
}

static bool
link_to_gateway(const struct ctl_state *st, size_t li)
{
    const struct ctl_link *link = &st->policy->links[li];
    return link->ep[0].site < 0 || link->ep[1].site < 0;
}

int
ctl_rekey_link(struct ctl_state *st, size_t li, long long int now, FILE *log)
{
    struct sa_ref out[MAX_DIRS], in[MAX_DIRS];
    uint32_t spis[MAX_DIRS];
    uint8_t keys[MAX_DIRS][128];
    int error = 0;

    if (link_to_gateway(st, li)) {
        return ENOTSUP;
    }
    if (st->links[li].frozen) {
        return ENOTCONN;
    }
    if (link_busy(st, li)) {
        return EBUSY;
    }
    size_t n = link_pairs(st, li, out, in);
    if (!n) {
        return ENOENT;
    }

    /* Everything that can fail first, so that a failure changes nothing. */
    for (size_t d = 0; d < n && !error; d++) {
        const struct ctl_sa *o = &st->sites[out[d].site].sas[out[d].idx];
        if (o->key_len > sizeof keys[d]) {
            error = EINVAL;
            break;
        }
        error = new_spi(st, spis, d, &spis[d]);
        if (!error) {
            error = ctl_random_bytes(keys[d], o->key_len);
        }
    }
    if (error) {
        explicit_bzero(keys, sizeof keys);
        return error;
    }

    char msg[256];
    size_t len = 0;
    msg[0] = '\0';
    for (size_t d = 0; d < n; d++) {
        struct ctl_site_state *xs = &st->sites[out[d].site];
        struct ctl_site_state *ys = &st->sites[in[d].site];
        uint32_t old_spi = xs->sas[out[d].idx].spi;

        /* Appending may move the array: copy from the index, mark after. */
        struct ctl_sa *no = append_sa(xs);
        copy_sa(no, &xs->sas[out[d].idx], spis[d], keys[d], now);
        struct ctl_sa *ni = append_sa(ys);
        copy_sa(ni, &ys->sas[in[d].idx], spis[d], keys[d], now);
        xs->sas[out[d].idx].retiring = true;
        xs->sas[out[d].idx].retire_at = 0;
        ys->sas[in[d].idx].retiring = true;
        ys->sas[in[d].idx].retire_at = 0;

        int k = snprintf(msg + len, sizeof msg - len,
                         "%s%s->%s 0x%08"PRIx32" -> 0x%08"PRIx32,
                         d ? ", " : "", xs->name, ys->name, old_spi,
                         spis[d]);
        if (k > 0 && (size_t) k < sizeof msg - len) {
            len += k;
        }
    }
    explicit_bzero(keys, sizeof keys);
    if (log) {
        fprintf(log, "esp-agent: link %s: rekey: %s\n",
                st->policy->links[li].name, msg);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    st->links[li].rekeys++;
    st->links[li].last_rekey = now;
    st->links[li].last_rekey_wall = ((long long int) ts.tv_sec * 1000
                                     + ts.tv_nsec / 1000000);
    return 0;
}

int
ctl_rekey_replace_lost(struct ctl_state *st, size_t li, long long int now,
                       FILE *log)
{
    if (link_to_gateway(st, li)) {
        return ENOTSUP;
    }
    /* The pair in its grace period, if any, makes way: whatever of it is
     * still installed somewhere is deleted by the same reconcile. */
    for (size_t i = 0; i < st->n_sites; i++) {
        struct ctl_site_state *ss = &st->sites[i];
        size_t kept = 0;
        for (size_t k = 0; k < ss->n_sas; k++) {
            struct ctl_sa *sa = &ss->sas[k];
            if (sa->link == li && sa->retiring) {
                ctl_sa_destroy(sa);
            } else {
                ss->sas[kept++] = *sa;
            }
        }
        ss->n_sas = kept;
    }
    return ctl_rekey_link(st, li, now, log);
}

/* Has the pair 'o'/'p' of link 'li' reached a soft limit at 'now'? */
static bool
rekey_due(const struct ctl_sa *o, const struct ctl_sa *p,
          const struct ctl_rekey_options *opts, long long int now)
{
    long long int age = now - o->created;
    if (opts->every_ms) {
        return age >= opts->every_ms;
    }
    const uint64_t *soft = o->lifetime.soft;
    const uint64_t *hard = o->lifetime.hard;
    if (o->adopted && soft[CTL_LT_SECONDS] && hard[CTL_LT_SECONDS]
        && hard[CTL_LT_SECONDS] > soft[CTL_LT_SECONDS]) {
        /* Adopted after an agent restart: its true age is unknown (the
         * datapath does not report it), but below the soft limit if the
         * previous agent did its job, so its hard limit is at least
         * hard - soft away: rekey within half of that. */
        uint64_t margin = (hard[CTL_LT_SECONDS] - soft[CTL_LT_SECONDS]) / 2;
        if (margin < soft[CTL_LT_SECONDS]
            && age >= 0 && (uint64_t) age >= margin * 1000) {
            return true;
        }
    }
    uint64_t packets = o->packets > p->packets ? o->packets : p->packets;
    uint64_t bytes = o->bytes > p->bytes ? o->bytes : p->bytes;
    return ((soft[CTL_LT_SECONDS]
             && age >= 0 && (uint64_t) age >= soft[CTL_LT_SECONDS] * 1000)
            || (soft[CTL_LT_PACKETS] && packets >= soft[CTL_LT_PACKETS])
            || (soft[CTL_LT_BYTES] && bytes >= soft[CTL_LT_BYTES]));
}

int
ctl_rekey_run(struct ctl_state *st, const struct ctl_rekey_options *opts,
              long long int now, struct ctl_rekey_stats *stats, FILE *log)
{
    /* 1. The old SAs whose grace period is over leave the state. */
    for (size_t i = 0; i < st->n_sites; i++) {
        struct ctl_site_state *ss = &st->sites[i];
        size_t kept = 0;
        for (size_t k = 0; k < ss->n_sas; k++) {
            struct ctl_sa *sa = &ss->sas[k];
            if (sa->retiring && sa->retire_at && now >= sa->retire_at) {
                if (log) {
                    fprintf(log, "esp-agent: link %s: %s: old %s SA "
                            "0x%08"PRIx32" retired\n",
                            st->policy->links[sa->link].name, ss->name,
                            sa->inbound ? "in" : "out", sa->spi);
                }
                ctl_sa_destroy(sa);
                stats->retired++;
            } else {
                ss->sas[kept++] = *sa;
            }
        }
        ss->n_sas = kept;
    }

    /* 2. Pairs seen for the first time start their clock now. */
    for (size_t i = 0; i < st->n_sites; i++) {
        struct ctl_site_state *ss = &st->sites[i];
        for (size_t k = 0; k < ss->n_sas; k++) {
            if (!ss->sas[k].created) {
                ss->sas[k].created = now;
            }
        }
    }

    /* 3. Links due for a rekey. */
    for (size_t li = 0; li < st->policy->n_links; li++) {
        struct sa_ref out[MAX_DIRS], in[MAX_DIRS];
        if (link_to_gateway(st, li) || st->links[li].frozen
            || link_busy(st, li)) {
            continue;
        }
        size_t n = link_pairs(st, li, out, in);
        bool due = false;
        for (size_t d = 0; d < n && !due; d++) {
            due = rekey_due(&st->sites[out[d].site].sas[out[d].idx],
                            &st->sites[in[d].site].sas[in[d].idx], opts,
                            now);
        }
        if (!due) {
            continue;
        }
        int error = ctl_rekey_link(st, li, now, log);
        if (error) {
            if (log) {
                fprintf(log, "esp-agent: link %s: cannot rekey: %s\n",
                        st->policy->links[li].name, strerror(error));
            }
            return error;
        }
        stats->rekeys++;
    }
    return 0;
}

void
ctl_rekey_commit(struct ctl_state *st, const struct ctl_rekey_options *opts,
                 long long int now)
{
    long long int at = now + opts->grace_ms;
    for (size_t i = 0; i < st->n_sites; i++) {
        struct ctl_site_state *ss = &st->sites[i];
        for (size_t k = 0; k < ss->n_sas; k++) {
            struct ctl_sa *sa = &ss->sas[k];
            if (sa->retiring && !sa->retire_at
                && !st->links[sa->link].frozen) {
                sa->retire_at = at > 0 ? at : 1;
            }
        }
    }
}
