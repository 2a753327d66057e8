/*
 * Unit tests of the policy compiler: SA pairs are consistent and accepted
 * by the engine's own spec parser, SPIs are unique, keys are fresh, never
 * printed, and wiped before their memory is freed; and of the rekey state
 * machine (rekey.h): triggers, new SPIs and keys, grace period, wiping.
 * Run from the top of the repository (it reads docs/examples/).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "compile.h"
#include "esp-spec.h"
#include "policy.h"
#include "rekey.h"

static int passed, failed;

static void __attribute__((format(printf, 2, 3)))
check(bool ok, const char *fmt, ...)
{
    if (ok) {
        passed++;
        return;
    }
    va_list args;
    va_start(args, fmt);
    printf("FAIL: ");
    vprintf(fmt, args);
    putchar('\n');
    va_end(args);
    failed++;
}

static const char *const examples[] = {
    "docs/examples/two-sites.yaml",
    "docs/examples/dc-and-cloud.yaml",
    "docs/examples/three-sites.yaml",
};

static struct ctl_policy *
load(const char *file)
{
    struct ctl_policy *pol;
    struct ctl_errors errors;
    int error = ctl_policy_load(file, false, &pol, &errors);
    check(!error, "%s: load failed (%d)", file, error);
    for (size_t i = 0; i < errors.n; i++) {
        printf("  %s\n", errors.msgs[i]);
    }
    ctl_errors_destroy(&errors);
    return pol;
}

static struct ctl_state *
compile(const struct ctl_policy *pol, bool seeded, uint64_t seed)
{
    struct ctl_compile_options opts = { .seeded = seeded, .seed = seed };
    struct ctl_state *st;
    int error = ctl_compile(pol, &opts, &st);
    check(!error, "%s: compile failed (%d)", pol->file, error);
    return error ? NULL : st;
}

static char *
print(const struct ctl_state *st, size_t *lenp)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ctl_state_print(st, f);
    fclose(f);
    if (lenp) {
        *lenp = len;
    }
    return text;
}

/* Finds the SA at the other end of 'sa' (same SPI, other direction, on
 * another site), or NULL. */
static const struct ctl_sa *
peer_of(const struct ctl_state *st, const struct ctl_site_state *self,
        const struct ctl_sa *sa)
{
    const struct ctl_sa *found = NULL;
    int n = 0;
    for (size_t i = 0; i < st->n_sites; i++) {
        const struct ctl_site_state *ss = &st->sites[i];
        for (size_t j = 0; ss != self && j < ss->n_sas; j++) {
            if (ss->sas[j].spi == sa->spi
                && ss->sas[j].inbound != sa->inbound) {
                found = &ss->sas[j];
                n++;
            }
        }
    }
    return n == 1 ? found : NULL;
}

/* The SAs of one compiled policy: pairs match, SPIs are unique and legal,
 * keys have the suite's length, and the engine's parser accepts each SA
 * exactly as it will be handed to ovs-vswitchd. */
static void
test_pairs(const char *file, const struct ctl_state *st)
{
    size_t n_sas = 0;
    for (size_t i = 0; i < st->n_sites; i++) {
        const struct ctl_site_state *ss = &st->sites[i];
        for (size_t j = 0; j < ss->n_sas; j++) {
            const struct ctl_sa *sa = &ss->sas[j];
            n_sas += !sa->retiring;       /* One current pair per link. */
            check(sa->spi >= CTL_SPI_MIN, "%s: %s: SPI 0x%08x below 256",
                  file, ss->name, sa->spi);
            for (size_t k = 0; k < j; k++) {
                check(ss->sas[k].spi != sa->spi, "%s: %s: SPI 0x%08x used "
                      "twice", file, ss->name, sa->spi);
            }

            const struct ctl_sa *peer = peer_of(st, ss, sa);
            check(peer != NULL, "%s: %s: SA 0x%08x has no single peer",
                  file, ss->name, sa->spi);
            if (peer) {
                check(peer->key_len == sa->key_len
                      && !memcmp(peer->key, sa->key, sa->key_len),
                      "%s: %s: SA 0x%08x key differs from its peer's",
                      file, ss->name, sa->spi);
                check(!memcmp(&peer->src, &sa->src, sizeof sa->src)
                      && !memcmp(&peer->dst, &sa->dst, sizeof sa->dst),
                      "%s: %s: SA 0x%08x addresses differ from its peer's",
                      file, ss->name, sa->spi);
            }

            size_t auth_len;
            size_t key_len = ctl_suite_key_len(sa->suite, &auth_len);
            check(sa->key_len == key_len + auth_len, "%s: SA 0x%08x: key "
                  "length %zu", file, sa->spi, sa->key_len);

            /* The other direction of the same link has another key. */
            for (size_t k = 0; k < ss->n_sas; k++) {
                const struct ctl_sa *o = &ss->sas[k];
                if (o->link == sa->link && o->inbound != sa->inbound) {
                    check(memcmp(o->key, sa->key, sa->key_len) != 0,
                          "%s: SA 0x%08x: both directions share a key",
                          file, sa->spi);
                }
            }

            char spec[1024];
            char err[256] = "";
            struct esp_sa_params params;
            struct esp_spec_keys keys;
            check(ctl_sa_format_secret(sa, spec, sizeof spec),
                  "%s: SA 0x%08x: spec too long", file, sa->spi);
            int error = esp_spec_parse(spec, &params, &keys,
                                       sa->inbound ? ESP_DIR_IN
                                       : ESP_DIR_OUT, err, sizeof err);
            explicit_bzero(spec, sizeof spec);
            esp_spec_keys_wipe(&keys);
            check(!error, "%s: %s SA 0x%08x refused by esp_spec_parse: %s",
                  file, ss->name, sa->spi, err);
        }
    }
    check(n_sas == 4 * st->policy->n_links, "%s: %zu SAs for %zu links",
          file, n_sas, st->policy->n_links);
}

/* True if 'text' contains any 8-byte run of 'key', raw or in hex. */
static bool
leaks(const char *text, size_t len, const uint8_t *key, size_t key_len)
{
    for (size_t off = 0; off + 8 <= key_len; off++) {
        char lower[17], upper[17];
        for (size_t i = 0; i < 8; i++) {
            snprintf(lower + 2 * i, 3, "%02x", key[off + i]);
            snprintf(upper + 2 * i, 3, "%02X", key[off + i]);
        }
        if (memmem(text, len, key + off, 8) || strstr(text, lower)
            || strstr(text, upper)) {
            return true;
        }
    }
    return false;
}

static void
test_no_keys_printed(const char *file, const struct ctl_state *st)
{
    size_t len;
    char *text = print(st, &len);
    size_t n_keys = 0;
    for (size_t i = 0; i < st->n_sites; i++) {
        const struct ctl_site_state *ss = &st->sites[i];
        for (size_t j = 0; j < ss->n_sas; j++) {
            check(!leaks(text, len, ss->sas[j].key, ss->sas[j].key_len),
                  "%s: key of SA 0x%08x appears in the output", file,
                  ss->sas[j].spi);
            n_keys++;

            char spec[1024];
            ctl_sa_format(&ss->sas[j], spec, sizeof spec);
            check(strstr(spec, "=<redacted>") && !strstr(spec, "key=0x"),
                  "%s: SA 0x%08x: spec not redacted", file, ss->sas[j].spi);
        }
    }
    check(n_keys > 0 && strstr(text, "key=<redacted>") != NULL,
          "%s: no redacted keys in the output", file);
    free(text);
}

static void
test_determinism(const char *file, const struct ctl_policy *pol)
{
    struct ctl_state *a = compile(pol, true, 42);
    struct ctl_state *b = compile(pol, true, 42);
    struct ctl_state *c = compile(pol, true, 43);
    if (!a || !b || !c) {
        goto out;
    }
    char *ta = print(a, NULL), *tb = print(b, NULL), *tc = print(c, NULL);
    check(!strcmp(ta, tb), "%s: same seed, different output", file);
    check(strcmp(ta, tc) != 0, "%s: different seeds, same SPIs", file);
    free(ta);
    free(tb);
    free(tc);

    /* The seed picks SPIs only: keys come from getrandom() every time. */
    const struct ctl_sa *sa = &a->sites[0].sas[0];
    const struct ctl_sa *sb = &b->sites[0].sas[0];
    check(sa->spi == sb->spi && memcmp(sa->key, sb->key, sa->key_len),
          "%s: keys repeat across compilations with the same seed", file);
out:
    ctl_state_destroy(a);
    ctl_state_destroy(b);
    ctl_state_destroy(c);
}

static size_t wiped, not_wiped;

static void
wipe_hook(const uint8_t *key, size_t len)
{
    size_t i;
    for (i = 0; i < len && !key[i]; i++) {
        continue;
    }
    if (i == len) {
        wiped++;
    } else {
        not_wiped++;
    }
}

static void
test_keys_wiped(const char *file, const struct ctl_policy *pol)
{
    struct ctl_state *st = compile(pol, false, 0);
    if (!st) {
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < st->n_sites; i++) {
        n += st->sites[i].n_sas;
    }
    wiped = not_wiped = 0;
    ctl_key_free_hook = wipe_hook;
    ctl_state_destroy(st);
    ctl_key_free_hook = NULL;
    check(wiped == n && !not_wiped, "%s: %zu of %zu keys wiped before free "
          "(%zu not)", file, wiped, n, not_wiped);
}


static size_t
count_sas(const struct ctl_state *st, size_t *retiring)
{
    size_t n = 0;
    *retiring = 0;
    for (size_t i = 0; i < st->n_sites; i++) {
        for (size_t j = 0; j < st->sites[i].n_sas; j++) {
            n++;
            *retiring += st->sites[i].sas[j].retiring;
        }
    }
    return n;
}

/* The rekey state machine on one compiled policy, with a fake clock. */
static void
test_rekey(const char *file, const struct ctl_policy *pol)
{
    struct ctl_state *st = compile(pol, false, 0);
    if (!st) {
        return;
    }
    struct ctl_rekey_options opts = { .grace_ms = 500, .every_ms = 0 };
    struct ctl_rekey_stats rs = { 0, 0 };
    size_t n_links = 0, retiring;
    for (size_t li = 0; li < pol->n_links; li++) {
        n_links += (pol->links[li].ep[0].site >= 0
                    && pol->links[li].ep[1].site >= 0);
    }
    size_t n0 = count_sas(st, &retiring);

    /* Gateway links are never rekeyed (their SAs are out of band). */
    for (size_t li = 0; li < pol->n_links; li++) {
        if (pol->links[li].ep[0].site < 0 || pol->links[li].ep[1].site < 0) {
            check(ctl_rekey_link(st, li, 1, NULL) == ENOTSUP,
                  "%s: link %zu to a gateway: rekey not refused", file, li);
        }
    }

    /* Young pairs: nothing to do. */
    check(!ctl_rekey_run(st, &opts, 1000, &rs, NULL) && !rs.rekeys,
          "%s: rekey of a fresh pair", file);

    /* Old SPIs and keys, to compare with the new ones. */
    uint32_t old_spis[64];
    uint8_t old_keys[64][8];
    size_t n_old = 0;
    for (size_t i = 0; i < st->n_sites; i++) {
        for (size_t j = 0; j < st->sites[i].n_sas && n_old < 64; j++) {
            old_spis[n_old] = st->sites[i].sas[j].spi;
            memcpy(old_keys[n_old++], st->sites[i].sas[j].key, 8);
        }
    }

    /* A byte counter at its soft limit triggers the rekey of its link. */
    opts.every_ms = 0;
    bool any_bytes = false;
    for (size_t i = 0; i < st->n_sites && !any_bytes; i++) {
        for (size_t j = 0; j < st->sites[i].n_sas && !any_bytes; j++) {
            struct ctl_sa *sa = &st->sites[i].sas[j];
            const struct ctl_link *l = &pol->links[sa->link];
            if (sa->lifetime.soft[CTL_LT_BYTES] && l->ep[0].site >= 0
                && l->ep[1].site >= 0) {
                sa->bytes = sa->lifetime.soft[CTL_LT_BYTES];
                any_bytes = true;
            }
        }
    }
    if (any_bytes) {
        check(!ctl_rekey_run(st, &opts, 2000, &rs, NULL) && rs.rekeys == 1,
              "%s: soft byte limit: %zu rekeys, expected 1", file,
              rs.rekeys);
    }
    /* Then every link, with --rekey-every. */
    opts.every_ms = 1000;
    check(!ctl_rekey_run(st, &opts, 2000, &rs, NULL)
          && rs.rekeys == n_links,
          "%s: --rekey-every: %zu rekeys, expected %zu", file, rs.rekeys,
          n_links);
    size_t n1 = count_sas(st, &retiring);
    check(n1 == n0 + 4 * n_links && retiring == 4 * n_links,
          "%s: after rekey: %zu SAs (%zu retiring), expected %zu (%zu)",
          file, n1, retiring, n0 + 4 * n_links, 4 * n_links);
    test_pairs(file, st);

    /* The new SAs: new SPIs, new keys, the same key at both ends. */
    for (size_t i = 0; i < st->n_sites; i++) {
        for (size_t j = 0; j < st->sites[i].n_sas; j++) {
            const struct ctl_sa *sa = &st->sites[i].sas[j];
            if (sa->retiring || sa->created != 2000) {
                continue;
            }
            for (size_t k = 0; k < n_old; k++) {
                check(sa->spi != old_spis[k]
                      && memcmp(sa->key, old_keys[k], 8),
                      "%s: new SA 0x%08x reuses an old SPI or key", file,
                      sa->spi);
            }
            const struct ctl_sa *peer = peer_of(st, &st->sites[i], sa);
            check(peer && !peer->retiring && peer->key_len == sa->key_len
                  && !memcmp(peer->key, sa->key, sa->key_len),
                  "%s: new SA 0x%08x: ends disagree", file, sa->spi);
        }
    }

    /* In its grace period (not even started before the commit), a link
     * is not rekeyed again and its old pair stays. */
    check(!ctl_rekey_run(st, &opts, 10000, &rs, NULL)
          && rs.rekeys == n_links && count_sas(st, &retiring) == n1,
          "%s: old pair dropped or link rekeyed again before the commit",
          file);
    ctl_rekey_commit(st, &opts, 10000);
    check(!ctl_rekey_run(st, &opts, 10499, &rs, NULL)
          && count_sas(st, &retiring) == n1 && !rs.retired,
          "%s: old pair dropped before the end of its grace period", file);
    wiped = not_wiped = 0;
    ctl_key_free_hook = wipe_hook;
    opts.every_ms = 100000;
    check(!ctl_rekey_run(st, &opts, 10500, &rs, NULL)
          && rs.retired == 4 * n_links,
          "%s: %zu old SAs retired, expected %zu", file, rs.retired,
          4 * n_links);
    ctl_key_free_hook = NULL;
    check(wiped == 4 * n_links && !not_wiped,
          "%s: %zu retired keys wiped before free (%zu not)", file, wiped,
          not_wiped);
    check(count_sas(st, &retiring) == n0 && !retiring,
          "%s: %zu SAs (%zu retiring) after the grace period, expected %zu",
          file, count_sas(st, &retiring), retiring, n0);
    test_pairs(file, st);
    ctl_state_destroy(st);
}

static void
test_prefixes(void)
{
    static const struct {
        const char *a, *b;
        bool overlap;
    } cases[] = {
        { "10.1.0.0/24", "10.1.0.0/24", true },
        { "10.1.0.0/24", "10.1.0.128/25", true },
        { "10.1.0.0/16", "10.1.255.0/24", true },
        { "10.1.0.0/24", "10.1.1.0/24", false },
        { "0.0.0.0/0", "192.0.2.1/32", true },
        { "10.1.0.0/24", "fd00::/8", false },
        { "fd00:1::/48", "fd00:1:0:1::/64", true },
        { "fd00:1::/48", "fd00:2::/48", false },
        { "10.1.0.0/23", "10.1.1.0/24", true },
        { "10.1.0.0/24", "10.1.0.255/32", true },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ctl_prefix p[2];
        const char *s[2] = { cases[i].a, cases[i].b };
        for (int k = 0; k < 2; k++) {
            char buf[64];
            strcpy(buf, s[k]);
            char *slash = strchr(buf, '/');
            *slash = '\0';
            memset(&p[k], 0, sizeof p[k]);
            p[k].addr.family = strchr(buf, ':') ? AF_INET6 : AF_INET;
            inet_pton(p[k].addr.family, buf, p[k].addr.bytes);
            p[k].plen = atoi(slash + 1);
        }
        check(ctl_prefix_overlap(&p[0], &p[1]) == cases[i].overlap
              && ctl_prefix_overlap(&p[1], &p[0]) == cases[i].overlap,
              "prefix case %zu: %s vs %s: expected %s", i + 1, s[0], s[1],
              cases[i].overlap ? "overlap" : "disjoint");
    }
}

/* The SA of 'st' at site 'site' on link 'link', direction 'inbound',
 * current or 'retiring'; the 'nth' such. */
static const struct ctl_sa *
find_sa(const struct ctl_state *st, const char *site, const char *link,
        bool inbound, bool retiring, size_t nth)
{
    for (size_t i = 0; i < st->n_sites; i++) {
        const struct ctl_site_state *ss = &st->sites[i];
        if (strcmp(ss->name, site)) {
            continue;
        }
        for (size_t k = 0; k < ss->n_sas; k++) {
            const struct ctl_sa *sa = &ss->sas[k];
            if (!strcmp(st->policy->links[sa->link].name, link)
                && sa->inbound == inbound && sa->retiring == retiring
                && !nth--) {
                return sa;
            }
        }
    }
    return NULL;
}

/* A reload (ctl_state_carry_over()): unchanged links keep SPIs and keys,
 * a link whose suite changed gets a new pair and keeps the old one as
 * retiring; the same policy again changes nothing. */
static void
test_carry_over(void)
{
    static const char *file = "docs/examples/three-sites.yaml";
    char tmp[] = "/tmp/test-controller-XXXXXX";
    struct ctl_policy *p0 = load(file);
    if (!p0) {
        return;
    }

    /* The same policy with link a-b's suite changed. */
    FILE *in = fopen(file, "r");
    int fd = mkstemp(tmp);
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    check(in && out, "carry-over: temporary policy");
    if (!in || !out) {
        ctl_policy_destroy(p0);
        return;
    }
    char line[512];
    while (fgets(line, sizeof line, in)) {
        fputs(line, out);
        if (!strcmp(line, "  - name: a-b\n")) {
            fputs("    suite: chacha20-poly1305\n", out);
        }
    }
    fclose(in);
    fclose(out);
    struct ctl_policy *p1 = load(tmp);
    unlink(tmp);
    struct ctl_policy *p0b = load(file);
    if (!p1 || !p0b) {
        ctl_policy_destroy(p0);
        ctl_policy_destroy(p1);
        ctl_policy_destroy(p0b);
        return;
    }

    struct ctl_state *s0 = compile(p0, false, 0);
    struct ctl_state *s1 = compile(p1, false, 0);
    struct ctl_state *s0b = compile(p0b, false, 0);
    ctl_state_carry_over(s1, s0);
    ctl_state_carry_over(s0b, s0);

    static const struct {
        const char *site;
        bool inbound;
    } ends[] = {
        { "site-a", false }, { "site-a", true },
        { "site-c", false }, { "site-c", true },
    };
    for (size_t i = 0; i < 4; i++) {
        const struct ctl_sa *old = find_sa(s0, ends[i].site, "a-c",
                                           ends[i].inbound, false, 0);
        const struct ctl_sa *new = find_sa(s1, ends[i].site, "a-c",
                                           ends[i].inbound, false, 0);
        check(old && new && old->spi == new->spi
              && old->key_len == new->key_len
              && !memcmp(old->key, new->key, old->key_len)
              && old->key != new->key,
              "carry-over: a-c %s %s: same SPI and key, own copy",
              ends[i].site, ends[i].inbound ? "in" : "out");
        check(!find_sa(s1, ends[i].site, "a-c", ends[i].inbound, true, 0),
              "carry-over: a-c %s: nothing retiring", ends[i].site);
    }
    static const char *ab_sites[] = { "site-a", "site-b" };
    for (size_t i = 0; i < 2; i++) {
        for (int dir = 0; dir < 2; dir++) {
            const struct ctl_sa *old = find_sa(s0, ab_sites[i], "a-b", dir,
                                               false, 0);
            const struct ctl_sa *new = find_sa(s1, ab_sites[i], "a-b", dir,
                                               false, 0);
            const struct ctl_sa *ret = find_sa(s1, ab_sites[i], "a-b", dir,
                                               true, 0);
            check(old && new && ret && new->spi != old->spi
                  && new->suite == CTL_SUITE_CHACHA20_POLY1305
                  && ret->spi == old->spi && ret->suite == old->suite
                  && !find_sa(s1, ab_sites[i], "a-b", dir, true, 1),
                  "carry-over: a-b %s %s: new pair, old one retiring",
                  ab_sites[i], dir ? "in" : "out");
        }
    }
    size_t n0 = 0, n0b = 0, same = 0;
    for (size_t i = 0; i < s0->n_sites; i++) {
        n0 += s0->sites[i].n_sas;
        n0b += s0b->sites[i].n_sas;
        for (size_t k = 0; k < s0->sites[i].n_sas && k < s0b->sites[i].n_sas;
             k++) {
            same += s0->sites[i].sas[k].spi == s0b->sites[i].sas[k].spi;
        }
    }
    check(n0 == n0b && same == n0, "carry-over: the same policy again "
          "keeps every SA (%zu of %zu)", same, n0);

    ctl_state_destroy(s0);
    ctl_state_destroy(s1);
    ctl_state_destroy(s0b);
    ctl_policy_destroy(p0);
    ctl_policy_destroy(p1);
    ctl_policy_destroy(p0b);
}

/* An adopted pair (age unknown) is rekeyed at half the gap between its
 * soft and hard seconds after the adoption; a lost pair is replaced at
 * once, its predecessor in grace dropped. */
static void
test_adopted_and_lost(void)
{
    static const char *file = "docs/examples/two-sites.yaml";
    struct ctl_policy *pol = load(file);
    struct ctl_state *st = pol ? compile(pol, false, 0) : NULL;
    if (!st) {
        ctl_policy_destroy(pol);
        return;
    }
    const struct ctl_rekey_options opts = { .grace_ms = 1000 };
    struct ctl_rekey_stats rs = { 0, 0 };
    const struct ctl_sa *sa0 = &st->sites[0].sas[0];
    uint64_t soft = sa0->lifetime.soft[CTL_LT_SECONDS];
    uint64_t hard = sa0->lifetime.hard[CTL_LT_SECONDS];
    long long int due = (long long int) (hard - soft) / 2 * 1000;
    for (size_t i = 0; i < st->n_sites; i++) {
        for (size_t k = 0; k < st->sites[i].n_sas; k++) {
            st->sites[i].sas[k].adopted = true;
            st->sites[i].sas[k].installed = true;
            st->sites[i].sas[k].created = 1;
        }
    }
    check(hard > soft && soft > 0, "two-sites: soft and hard seconds");
    ctl_rekey_run(st, &opts, 1 + due - 1, &rs, NULL);
    check(rs.rekeys == 0, "adopted pair not rekeyed %lld ms after adoption",
          due - 1);
    ctl_rekey_run(st, &opts, 1 + due, &rs, NULL);
    check(rs.rekeys == 1, "adopted pair rekeyed %lld ms after adoption "
          "(hard %"PRIu64" s, soft %"PRIu64" s)", due, hard, soft);
    size_t retiring, n = count_sas(st, &retiring);
    check(n == 8 && retiring == 4, "after the rekey: 8 SAs, 4 retiring "
          "(%zu, %zu)", n, retiring);

    /* The new pair is lost before the old one's grace is over. */
    check(ctl_rekey_link(st, 0, 2 + due, NULL) == EBUSY,
          "no rekey while the previous pair is in grace");
    check(!ctl_rekey_replace_lost(st, 0, 2 + due, NULL),
          "lost pair replaced during a grace period");
    n = count_sas(st, &retiring);
    check(n == 8 && retiring == 4, "after the replacement: 8 SAs, 4 "
          "retiring (%zu, %zu)", n, retiring);
    for (size_t i = 0; i < st->n_sites; i++) {
        for (size_t k = 0; k < st->sites[i].n_sas; k++) {
            const struct ctl_sa *sa = &st->sites[i].sas[k];
            check(sa->retiring || (!sa->installed && !sa->adopted),
                  "the replacement pair is to be installed");
            check(!sa->retiring || !sa->adopted,
                  "the adopted pair left the state");
        }
    }
    check(st->links[0].rekeys == 2, "link a-b: 2 rekeys counted (%zu)",
          st->links[0].rekeys);
    ctl_state_destroy(st);
    ctl_policy_destroy(pol);
}

int
main(void)
{
    test_prefixes();
    test_carry_over();
    test_adopted_and_lost();
    for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
        struct ctl_policy *pol = load(examples[i]);
        if (!pol) {
            continue;
        }
        struct ctl_state *seeded = compile(pol, true, 1);
        struct ctl_state *random = compile(pol, false, 0);
        if (seeded && random) {
            test_pairs(examples[i], seeded);
            test_pairs(examples[i], random);
            test_no_keys_printed(examples[i], seeded);
            test_no_keys_printed(examples[i], random);
        }
        ctl_state_destroy(seeded);
        ctl_state_destroy(random);
        test_determinism(examples[i], pol);
        test_keys_wiped(examples[i], pol);
        test_rekey(examples[i], pol);
        ctl_policy_destroy(pol);
    }
    printf("test-controller: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
