/*
 * Minimal reader and writer for the classic libpcap file format
 * (https://www.tcpdump.org/manpages/pcap-savefile.5.txt), without libpcap.
 *
 * The reader takes either byte order and the microsecond (0xa1b2c3d4) or
 * nanosecond (0xa1b23c4d) magic.  It treats the file as untrusted: a bad
 * magic, a truncated header or record, or a record longer than the
 * snapshot length or PCAP_IO_MAX_CAPLEN is reported as an error with a
 * message, never read past.  pcapng files are recognised and refused with
 * a hint.
 *
 * The writer writes host byte order with the resolution given.
 */
#ifndef PCAP_IO_H
#define PCAP_IO_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
    PCAP_IO_MAX_CAPLEN = 256 * 1024,    /* Longest record accepted. */
    PCAP_IO_FILE_HEADER_LEN = 24,
    PCAP_IO_RECORD_HEADER_LEN = 16,
};

/* Link types (https://www.tcpdump.org/linktypes.html). */
enum pcap_io_linktype {
    PCAP_IO_LINK_ETHERNET = 1,
    PCAP_IO_LINK_RAW = 101,             /* Raw IPv4 or IPv6. */
};

struct pcap_io_reader {
    FILE *file;
    bool swapped;               /* File byte order differs from ours. */
    bool nsec;                  /* Timestamps in nanoseconds. */
    uint16_t version_major, version_minor;
    uint32_t snaplen;
    uint32_t linktype;          /* Link type (low 28 bits of the field). */
    uint64_t n_records;         /* Records read so far. */
    uint64_t offset;            /* File offset of the next record. */
};

struct pcap_io_record {
    uint32_t ts_sec;
    uint32_t ts_frac;           /* Micro- or nanoseconds, per the file. */
    uint32_t caplen;            /* Bytes present in the file. */
    uint32_t origlen;           /* Bytes on the wire. */
};

struct pcap_io_writer {
    FILE *file;
    bool nsec;
    uint32_t snaplen;
    uint64_t n_records;
};

/* Reads the file header from 'file' into 'r'.  Returns 0, or -1 with a
 * message in 'err'.  'r' does not own 'file'. */
int pcap_io_reader_init(struct pcap_io_reader *r, FILE *file,
                        char *err, size_t err_size);

/* Reads the next record: its header into '*rec' and its 'rec->caplen'
 * bytes into 'buf' ('buf_size' bytes; PCAP_IO_MAX_CAPLEN is always
 * enough).  Returns 1 for a record, 0 at a clean end of file, -1 with a
 * message in 'err' for a malformed or truncated file or a read error. */
int pcap_io_read(struct pcap_io_reader *r, struct pcap_io_record *rec,
                 uint8_t *buf, size_t buf_size, char *err, size_t err_size);

/* Writes a file header to 'file'.  Returns 0 or -1 with a message. */
int pcap_io_writer_init(struct pcap_io_writer *w, FILE *file,
                        uint32_t linktype, uint32_t snaplen, bool nsec,
                        char *err, size_t err_size);

/* Writes one record of 'len' bytes.  'rec->caplen' is ignored ('len' is
 * used); 'rec->origlen' is raised to 'len' if smaller.  Returns 0 or -1
 * with a message. */
int pcap_io_write(struct pcap_io_writer *w, const struct pcap_io_record *rec,
                  const uint8_t *data, size_t len,
                  char *err, size_t err_size);

#endif /* pcap-io.h */
