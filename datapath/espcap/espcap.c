/*
 * espcap: encrypt or decrypt the packets of a pcap file with given SAs.
 *
 *   espcap encrypt --sa SPEC [--sa SPEC ...] IN.pcap OUT.pcap
 *   espcap decrypt --sa SPEC [--sa SPEC ...] IN.pcap OUT.pcap
 *
 * Reference: docs/espcap.md.  SA specs: esp-spec.h.
 *
 * Exit status: 0 when every packet went through (passed-through NAT-T
 * keepalives and non-ESP packets included), 1 when any packet was dropped,
 * 2 on a usage, SA spec, file or pcap format error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "esp.h"
#include "esp-spec.h"
#include "pcap-io.h"

enum {
    EXIT_DROPS = 1,
    EXIT_USAGE = 2,
    MAX_SAS = 256,
    CHUNK = 32,                 /* Packets per burst call. */
    L2_MAX = 14 + 4 * 4,        /* Ethernet with up to four VLAN tags. */
    BUF_SIZE = ESP_HEADROOM + PCAP_IO_MAX_CAPLEN + ESP_TAILROOM,
    ETH_TYPE_IPV4 = 0x0800,
    ETH_TYPE_IPV6 = 0x86dd,
    ETH_TYPE_VLAN = 0x8100,
    ETH_TYPE_QINQ = 0x88a8,
};

/* Reasons espcap itself drops a packet for, counted after the library's
 * verdicts. */
enum local_reason {
    LOCAL_NOT_IP = ESP_N_VERDICTS,  /* Not an IPv4/IPv6 packet. */
    N_REASONS
};

static const char *program = "espcap";

struct slot {
    struct pcap_io_record rec;
    uint8_t l2[L2_MAX];         /* Link-layer header, kept for output. */
    size_t l2_len;              /* 0 for raw IP. */
    struct esp_buf buf;
    unsigned int reason;        /* enum esp_verdict or enum local_reason. */
    struct esp_sa *sa;          /* Encrypt: the SA chosen. */
};

struct espcap {
    enum esp_dir dir;
    struct esp_sa *sas[MAX_SAS];        /* Encrypt: in --sa order. */
    unsigned int n_sas;
    struct esp_sad *sad;                /* Decrypt. */

    struct pcap_io_reader reader;
    struct pcap_io_writer writer;
    uint32_t linktype;

    struct slot slots[CHUNK];
    uint8_t *bufs;                      /* CHUNK buffers of BUF_SIZE. */

    bool write_failed;                  /* Error is about OUT, not IN. */
    uint64_t n_packets, n_ok, n_passed, n_dropped;
    uint64_t reasons[N_REASONS];
};

static void
usage(FILE *stream)
{
    fprintf(stream,
            "usage: %s encrypt --sa SPEC [--sa SPEC ...] IN.pcap OUT.pcap\n"
            "       %s decrypt --sa SPEC [--sa SPEC ...] IN.pcap OUT.pcap\n"
            "\n"
            "SPEC is comma-separated key=value, for example\n"
            "  spi=0x1001,src=192.0.2.1,dst=192.0.2.2,aead=aes-gcm-128,"
            "key=0x<20 bytes>\n"
            "See docs/espcap.md for every field.\n"
            "Exit status: 0 all packets ok, 1 some dropped, 2 error.\n",
            program, program);
}

static void __attribute__((format(printf, 1, 2), noreturn))
fatal_usage(const char *format, ...)
{
    va_list args;

    fprintf(stderr, "%s: ", program);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fprintf(stderr, "\n");
    exit(EXIT_USAGE);
}

static const char *
reason_name(unsigned int reason)
{
    if (reason == LOCAL_NOT_IP) {
        return "not_ip";
    }
    return esp_verdict_name(reason);
}

/* Creates the SAs from the --sa specs.  Wipes each spec argument (it
 * holds keys) once parsed. */
static void
create_sas(struct espcap *ec, char *specs[], unsigned int n_specs)
{
    if (ec->dir == ESP_DIR_IN) {
        ec->sad = esp_sad_create();
        if (!ec->sad) {
            fatal_usage("out of memory");
        }
    }
    for (unsigned int i = 0; i < n_specs; i++) {
        struct esp_spec_keys keys;
        struct esp_sa_params p;
        struct esp_sa *sa;
        char err[256];
        int error;

        error = esp_spec_parse(specs[i], &p, &keys, ec->dir, err,
                               sizeof err);
        explicit_bzero(specs[i], strlen(specs[i]));
        if (error) {
            fatal_usage("--sa: %s", err);
        }
        error = esp_sa_create(&p, &sa, err, sizeof err);
        esp_spec_keys_wipe(&keys);
        if (error) {
            fatal_usage("--sa: spi 0x%08"PRIx32": %s", p.spi, err);
        }
        if (ec->dir == ESP_DIR_OUT) {
            ec->sas[ec->n_sas++] = sa;
        } else {
            error = esp_sad_add(ec->sad, sa);
            if (error) {
                esp_sa_destroy(sa);
                fatal_usage("--sa: spi 0x%08"PRIx32": cannot add to the "
                            "SAD (%s)", p.spi, error == EEXIST
                            ? "an SA with this SPI and dst already exists"
                            : strerror(error));
            }
            ec->n_sas++;
        }
    }
}

/* Splits a captured frame into its link-layer header and IP packet.
 * Returns false if it holds no IPv4 or IPv6 packet. */
static bool
split_frame(const struct espcap *ec, struct slot *s, const uint8_t *frame,
            size_t len, const uint8_t **ipp, size_t *ip_lenp)
{
    size_t off = 0;

    if (ec->linktype == PCAP_IO_LINK_ETHERNET) {
        uint16_t type;

        off = 12;
        for (;;) {
            if (len < off + 2) {
                return false;
            }
            type = frame[off] << 8 | frame[off + 1];
            if (type != ETH_TYPE_VLAN && type != ETH_TYPE_QINQ) {
                break;
            }
            off += 4;
            if (off + 2 > L2_MAX) {
                return false;
            }
        }
        off += 2;
        if (type != ETH_TYPE_IPV4 && type != ETH_TYPE_IPV6) {
            return false;
        }
        memcpy(s->l2, frame, off);
    }
    s->l2_len = off;
    if (len <= off) {
        return false;
    }
    if ((frame[off] >> 4) != 4 && (frame[off] >> 4) != 6) {
        return false;
    }
    *ipp = frame + off;
    *ip_lenp = len - off;
    return true;
}

/* Encrypt: picks the first SA whose selectors match, in --sa order. */
static struct esp_sa *
select_sa(const struct espcap *ec, const struct esp_buf *b)
{
    for (unsigned int i = 0; i < ec->n_sas; i++) {
        if (esp_sa_match(ec->sas[i], b->base + b->off, b->len)) {
            return ec->sas[i];
        }
    }
    return NULL;
}

static void
encrypt_chunk(struct espcap *ec, unsigned int n)
{
    bool done[CHUNK] = { false };

    for (unsigned int i = 0; i < n; i++) {
        struct slot *s = &ec->slots[i];

        if (s->reason == ESP_OK) {
            s->sa = select_sa(ec, &s->buf);
            if (!s->sa) {
                s->reason = ESP_DROP_NO_SA;
            }
        }
        if (s->reason != ESP_OK) {
            done[i] = true;
        }
    }

    /* One burst per SA, in packet order, so each SA's sequence numbers
     * follow the order of the input file. */
    for (unsigned int i = 0; i < n; i++) {
        struct esp_buf *bufs[CHUNK];
        enum esp_verdict verdicts[CHUNK];
        unsigned int idx[CHUNK];
        struct esp_sa *sa;
        unsigned int m = 0;

        if (done[i]) {
            continue;
        }
        sa = ec->slots[i].sa;
        for (unsigned int j = i; j < n; j++) {
            if (!done[j] && ec->slots[j].sa == sa) {
                idx[m] = j;
                bufs[m++] = &ec->slots[j].buf;
                done[j] = true;
            }
        }
        esp_encap_burst(sa, bufs, verdicts, m, 0);
        for (unsigned int k = 0; k < m; k++) {
            ec->slots[idx[k]].reason = verdicts[k];
        }
    }
}

static void
decrypt_chunk(struct espcap *ec, unsigned int n)
{
    struct esp_buf *bufs[CHUNK];
    enum esp_verdict verdicts[CHUNK];
    struct esp_sa *sas[CHUNK];
    unsigned int idx[CHUNK];
    unsigned int m = 0;

    for (unsigned int i = 0; i < n; i++) {
        if (ec->slots[i].reason == ESP_OK) {
            idx[m] = i;
            bufs[m++] = &ec->slots[i].buf;
        }
    }
    if (m) {
        esp_decap_burst(ec->sad, bufs, verdicts, sas, m, 0);
        for (unsigned int k = 0; k < m; k++) {
            ec->slots[idx[k]].reason = verdicts[k];
        }
    }
}

/* Writes the chunk's good packets and counts every verdict.  Returns
 * false on a write error. */
static bool
flush_chunk(struct espcap *ec, unsigned int n, char *err, size_t err_size)
{
    static uint8_t frame[L2_MAX + PCAP_IO_MAX_CAPLEN + ESP_HEADROOM
                         + ESP_TAILROOM];

    for (unsigned int i = 0; i < n; i++) {
        struct slot *s = &ec->slots[i];
        struct pcap_io_record rec = s->rec;
        const uint8_t *ip;
        size_t len;

        ec->n_packets++;
        if (s->reason == ESP_PASS_KEEPALIVE
            || s->reason == ESP_PASS_NON_ESP) {
            ec->n_passed++;
            ec->reasons[s->reason]++;
            continue;
        } else if (s->reason != ESP_OK) {
            ec->n_dropped++;
            ec->reasons[s->reason]++;
            continue;
        }
        ec->n_ok++;

        ip = s->buf.base + s->buf.off;
        len = s->buf.len;
        if (s->l2_len) {
            /* The ethertype must follow the IP version of the result,
             * e.g. an IPv6 outer header on an IPv4 inner packet. */
            uint16_t type = (ip[0] >> 4) == 6 ? ETH_TYPE_IPV6
                                              : ETH_TYPE_IPV4;

            memcpy(frame, s->l2, s->l2_len);
            frame[s->l2_len - 2] = type >> 8;
            frame[s->l2_len - 1] = type & 0xff;
            memcpy(frame + s->l2_len, ip, len);
            ip = frame;
            len += s->l2_len;
        }
        rec.origlen = len;
        if (pcap_io_write(&ec->writer, &rec, ip, len, err, err_size)) {
            ec->write_failed = true;
            return false;
        }
    }
    return true;
}

static void
print_summary(const struct espcap *ec)
{
    bool first;

    fprintf(stderr, "%s: %"PRIu64" packets, %"PRIu64" ok", program,
            ec->n_packets, ec->n_ok);
    if (ec->n_passed) {
        fprintf(stderr, ", %"PRIu64" passed through (", ec->n_passed);
        first = true;
        for (unsigned int r = ESP_PASS_KEEPALIVE; r <= ESP_PASS_NON_ESP;
             r++) {
            if (ec->reasons[r]) {
                fprintf(stderr, "%s%s: %"PRIu64, first ? "" : ", ",
                        reason_name(r), ec->reasons[r]);
                first = false;
            }
        }
        fprintf(stderr, ")");
    }
    fprintf(stderr, ", %"PRIu64" dropped", ec->n_dropped);
    if (ec->n_dropped) {
        fprintf(stderr, " (");
        first = true;
        for (unsigned int r = ESP_DROP_NO_SA; r < N_REASONS; r++) {
            if (ec->reasons[r]) {
                fprintf(stderr, "%s%s: %"PRIu64, first ? "" : ", ",
                        reason_name(r), ec->reasons[r]);
                first = false;
            }
        }
        fprintf(stderr, ")");
    }
    fprintf(stderr, "\n");
}

/* Reads, processes and writes every packet.  Returns false with a message
 * in 'err' on a malformed input file or an I/O error. */
static bool
run(struct espcap *ec, char *err, size_t err_size)
{
    static uint8_t frame[PCAP_IO_MAX_CAPLEN];

    for (;;) {
        unsigned int n = 0;
        int got = 1;

        while (n < CHUNK) {
            struct slot *s = &ec->slots[n];
            const uint8_t *ip;
            size_t ip_len;

            got = pcap_io_read(&ec->reader, &s->rec, frame, sizeof frame,
                               err, err_size);
            if (got < 0) {
                return false;
            } else if (got == 0) {
                break;
            }

            s->buf.base = ec->bufs + (size_t) n * BUF_SIZE;
            s->buf.size = BUF_SIZE;
            s->buf.off = ESP_HEADROOM;
            s->buf.len = 0;
            s->sa = NULL;
            s->reason = ESP_OK;
            if (split_frame(ec, s, frame, s->rec.caplen, &ip, &ip_len)) {
                memcpy(s->buf.base + s->buf.off, ip, ip_len);
                s->buf.len = ip_len;
            } else {
                s->reason = LOCAL_NOT_IP;
            }
            n++;
        }
        if (n) {
            if (ec->dir == ESP_DIR_OUT) {
                encrypt_chunk(ec, n);
            } else {
                decrypt_chunk(ec, n);
            }
            if (!flush_chunk(ec, n, err, err_size)) {
                return false;
            }
        }
        if (got == 0) {
            return true;
        }
    }
}

static bool
same_file(const char *a, const char *b)
{
    struct stat sa, sb;

    return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev
           && sa.st_ino == sb.st_ino;
}

int
main(int argc, char *argv[])
{
    static struct espcap ec;
    char *specs[MAX_SAS];
    unsigned int n_specs = 0;
    const char *paths[2];
    unsigned int n_paths = 0;
    FILE *in, *out;
    bool out_is_file;
    struct stat st;
    char err[512];
    bool ok;
    int i;

    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(stdout);
        return 0;
    } else if (!strcmp(argv[1], "encrypt")) {
        ec.dir = ESP_DIR_OUT;
    } else if (!strcmp(argv[1], "decrypt")) {
        ec.dir = ESP_DIR_IN;
    } else {
        fatal_usage("unknown command '%s' (expected encrypt or decrypt; "
                    "see --help)", argv[1]);
    }

    for (i = 2; i < argc; i++) {
        char *arg = argv[i];

        if (!strcmp(arg, "--sa")) {
            if (i + 1 >= argc) {
                fatal_usage("--sa: missing SPEC");
            }
            arg = argv[++i];
        } else if (!strncmp(arg, "--sa=", 5)) {
            arg += 5;
        } else if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(arg, "--")) {
            for (i++; i < argc; i++) {
                if (n_paths >= 2) {
                    fatal_usage("too many file arguments");
                }
                paths[n_paths++] = argv[i];
            }
            break;
        } else if (arg[0] == '-' && arg[1]) {
            fatal_usage("unknown option '%s' (see --help)", arg);
        } else {
            if (n_paths >= 2) {
                fatal_usage("too many file arguments (expected IN.pcap "
                            "OUT.pcap)");
            }
            paths[n_paths++] = arg;
            continue;
        }
        if (n_specs >= MAX_SAS) {
            fatal_usage("--sa: at most %d SAs", MAX_SAS);
        }
        specs[n_specs++] = arg;
    }
    if (!n_specs) {
        fatal_usage("--sa: at least one SA is required");
    }
    if (n_paths != 2) {
        fatal_usage("expected IN.pcap and OUT.pcap");
    }
    if (same_file(paths[0], paths[1])) {
        fatal_usage("IN.pcap and OUT.pcap are the same file");
    }

    create_sas(&ec, specs, n_specs);

    in = fopen(paths[0], "rb");
    if (!in) {
        fatal_usage("%s: %s", paths[0], strerror(errno));
    }
    if (pcap_io_reader_init(&ec.reader, in, err, sizeof err)) {
        fatal_usage("%s: %s", paths[0], err);
    }
    ec.linktype = ec.reader.linktype;
    if (ec.linktype != PCAP_IO_LINK_ETHERNET
        && ec.linktype != PCAP_IO_LINK_RAW) {
        fatal_usage("%s: link type %"PRIu32" not supported (Ethernet (1) "
                    "or raw IP (101) only)", paths[0], ec.linktype);
    }

    ec.bufs = malloc((size_t) CHUNK * BUF_SIZE);
    if (!ec.bufs) {
        fatal_usage("out of memory");
    }

    out = fopen(paths[1], "wb");
    if (!out) {
        fatal_usage("%s: %s", paths[1], strerror(errno));
    }
    /* Only a regular file is removed on error, never e.g. /dev/stdout. */
    out_is_file = !fstat(fileno(out), &st) && S_ISREG(st.st_mode);
    if (pcap_io_writer_init(&ec.writer, out, ec.linktype,
                            PCAP_IO_MAX_CAPLEN, ec.reader.nsec,
                            err, sizeof err)) {
        if (out_is_file) {
            unlink(paths[1]);
        }
        fatal_usage("%s: %s", paths[1], err);
    }

    ok = run(&ec, err, sizeof err);
    if (ok && fclose(out)) {
        snprintf(err, sizeof err, "write error: %s", strerror(errno));
        ec.write_failed = true;
        ok = false;
    } else if (!ok) {
        fclose(out);
    }
    fclose(in);

    /* Cleartext and ciphertext of the last chunk stay in the buffers. */
    explicit_bzero(ec.bufs, (size_t) CHUNK * BUF_SIZE);
    free(ec.bufs);
    if (ec.sad) {
        esp_sad_destroy(ec.sad);
    }
    for (unsigned int k = 0; ec.dir == ESP_DIR_OUT && k < ec.n_sas; k++) {
        esp_sa_destroy(ec.sas[k]);
    }

    if (!ok) {
        /* A half-written output would look like a complete result. */
        if (out_is_file) {
            unlink(paths[1]);
        }
        fprintf(stderr, "%s: %s: %s\n", program,
                paths[ec.write_failed ? 1 : 0], err);
        return EXIT_USAGE;
    }
    print_summary(&ec);
    return ec.n_dropped ? EXIT_DROPS : 0;
}
