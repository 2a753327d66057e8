/*
 * Classic pcap file reader and writer.  See pcap-io.h.
 */
#include "pcap-io.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

enum pcap_magic {
    MAGIC_USEC = 0xa1b2c3d4,
    MAGIC_NSEC = 0xa1b23c4d,
    MAGIC_USEC_SWAPPED = 0xd4c3b2a1,
    MAGIC_NSEC_SWAPPED = 0x4d3cb2a1,
    MAGIC_PCAPNG = 0x0a0d0d0a,          /* Section header block type. */
};

static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t err_size, const char *format, ...)
{
    if (err && err_size) {
        va_list args;

        va_start(args, format);
        vsnprintf(err, err_size, format, args);
        va_end(args);
    }
}

static uint32_t
get32(const uint8_t *p, bool swapped)
{
    uint32_t x;

    memcpy(&x, p, sizeof x);
    return swapped ? __builtin_bswap32(x) : x;
}

static uint16_t
get16(const uint8_t *p, bool swapped)
{
    uint16_t x;

    memcpy(&x, p, sizeof x);
    return swapped ? __builtin_bswap16(x) : x;
}

/* Reads exactly 'n' bytes; returns how many were read (short at EOF). */
static size_t
read_full(FILE *file, uint8_t *buf, size_t n)
{
    return n ? fread(buf, 1, n, file) : 0;
}

int
pcap_io_reader_init(struct pcap_io_reader *r, FILE *file,
                    char *err, size_t err_size)
{
    uint8_t hdr[PCAP_IO_FILE_HEADER_LEN];
    size_t n;
    uint32_t magic;

    memset(r, 0, sizeof *r);
    r->file = file;

    n = read_full(file, hdr, sizeof hdr);
    if (ferror(file)) {
        set_err(err, err_size, "read error: %s", strerror(errno));
        return -1;
    }
    if (n == 0) {
        set_err(err, err_size, "empty file (no pcap header)");
        return -1;
    }
    if (n >= 4) {
        memcpy(&magic, hdr, sizeof magic);
        if (magic == MAGIC_PCAPNG) {
            set_err(err, err_size, "pcapng is not supported; convert with "
                    "'editcap -F pcap IN OUT'");
            return -1;
        }
    }
    if (n < sizeof hdr) {
        set_err(err, err_size, "truncated pcap header (%zu of %zu bytes)",
                n, sizeof hdr);
        return -1;
    }

    memcpy(&magic, hdr, sizeof magic);
    switch (magic) {
    case MAGIC_USEC:
        break;
    case MAGIC_NSEC:
        r->nsec = true;
        break;
    case MAGIC_USEC_SWAPPED:
        r->swapped = true;
        break;
    case MAGIC_NSEC_SWAPPED:
        r->swapped = true;
        r->nsec = true;
        break;
    default:
        set_err(err, err_size, "not a pcap file (bad magic 0x%08"PRIx32")",
                magic);
        return -1;
    }

    r->version_major = get16(hdr + 4, r->swapped);
    r->version_minor = get16(hdr + 6, r->swapped);
    /* Bytes 8..15: thiszone and sigfigs, unused by everyone. */
    r->snaplen = get32(hdr + 16, r->swapped);
    /* The upper bits of the link-type field carry FCS information
     * (pcap-savefile(5)); the link type itself is the low 28 bits. */
    r->linktype = get32(hdr + 20, r->swapped) & 0x0fffffff;
    if (r->version_major != 2) {
        set_err(err, err_size, "unsupported pcap version %u.%u "
                "(expected 2.x)", r->version_major, r->version_minor);
        return -1;
    }
    r->offset = sizeof hdr;
    return 0;
}

int
pcap_io_read(struct pcap_io_reader *r, struct pcap_io_record *rec,
             uint8_t *buf, size_t buf_size, char *err, size_t err_size)
{
    uint8_t hdr[PCAP_IO_RECORD_HEADER_LEN];
    uint64_t index = r->n_records + 1;
    size_t n;

    memset(rec, 0, sizeof *rec);
    n = read_full(r->file, hdr, sizeof hdr);
    if (ferror(r->file)) {
        set_err(err, err_size, "record %"PRIu64": read error: %s", index,
                strerror(errno));
        return -1;
    }
    if (n == 0) {
        return 0;
    }
    if (n < sizeof hdr) {
        set_err(err, err_size, "record %"PRIu64" (offset %"PRIu64"): "
                "truncated record header (%zu of %zu bytes)", index,
                r->offset, n, sizeof hdr);
        return -1;
    }

    rec->ts_sec = get32(hdr, r->swapped);
    rec->ts_frac = get32(hdr + 4, r->swapped);
    rec->caplen = get32(hdr + 8, r->swapped);
    rec->origlen = get32(hdr + 12, r->swapped);

    if (rec->caplen > PCAP_IO_MAX_CAPLEN) {
        set_err(err, err_size, "record %"PRIu64" (offset %"PRIu64"): "
                "captured length %"PRIu32" exceeds the %d-byte limit",
                index, r->offset, rec->caplen, PCAP_IO_MAX_CAPLEN);
        return -1;
    }
    /* A snapshot length of 0 is written by some tools for "unlimited". */
    if (r->snaplen && rec->caplen > r->snaplen) {
        set_err(err, err_size, "record %"PRIu64" (offset %"PRIu64"): "
                "captured length %"PRIu32" exceeds the snapshot length "
                "%"PRIu32, index, r->offset, rec->caplen, r->snaplen);
        return -1;
    }
    if (rec->caplen > buf_size) {
        set_err(err, err_size, "record %"PRIu64": captured length %"PRIu32
                " exceeds the %zu-byte buffer", index, rec->caplen,
                buf_size);
        return -1;
    }
    n = read_full(r->file, buf, rec->caplen);
    if (ferror(r->file)) {
        set_err(err, err_size, "record %"PRIu64": read error: %s", index,
                strerror(errno));
        return -1;
    }
    if (n < rec->caplen) {
        set_err(err, err_size, "record %"PRIu64" (offset %"PRIu64"): "
                "truncated (%zu of %"PRIu32" bytes present)", index,
                r->offset, n, rec->caplen);
        return -1;
    }
    r->n_records++;
    r->offset += sizeof hdr + rec->caplen;
    return 1;
}

int
pcap_io_writer_init(struct pcap_io_writer *w, FILE *file, uint32_t linktype,
                    uint32_t snaplen, bool nsec, char *err, size_t err_size)
{
    uint32_t hdr[6] = {
        nsec ? MAGIC_NSEC : MAGIC_USEC,
        0,                              /* Version, set below. */
        0,                              /* thiszone */
        0,                              /* sigfigs */
        snaplen,
        linktype,
    };
    uint16_t version[2] = { 2, 4 };     /* 2.4, in host order. */

    memcpy(&hdr[1], version, sizeof version);
    memset(w, 0, sizeof *w);
    w->file = file;
    w->nsec = nsec;
    w->snaplen = snaplen;
    if (fwrite(hdr, sizeof hdr, 1, file) != 1) {
        set_err(err, err_size, "write error: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int
pcap_io_write(struct pcap_io_writer *w, const struct pcap_io_record *rec,
              const uint8_t *data, size_t len, char *err, size_t err_size)
{
    uint32_t hdr[4];

    if (len > UINT32_MAX || (w->snaplen && len > w->snaplen)) {
        set_err(err, err_size, "record of %zu bytes exceeds the snapshot "
                "length %"PRIu32, len, w->snaplen);
        return -1;
    }
    hdr[0] = rec->ts_sec;
    hdr[1] = rec->ts_frac;
    hdr[2] = len;
    hdr[3] = rec->origlen < len ? len : rec->origlen;
    if (fwrite(hdr, sizeof hdr, 1, w->file) != 1
        || (len && fwrite(data, len, 1, w->file) != 1)) {
        set_err(err, err_size, "write error: %s", strerror(errno));
        return -1;
    }
    w->n_records++;
    return 0;
}
