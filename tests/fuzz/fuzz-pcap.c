/*
 * libFuzzer target: the pcap reader (datapath/espcap/pcap-io.c).  The
 * input is a whole file; every record must come back within the buffer
 * and the limits the reader promises.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pcap-io.h"

static uint8_t buf[PCAP_IO_MAX_CAPLEN];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pcap_io_reader r;
    struct pcap_io_record rec;
    char err[256];
    FILE *f;
    int got;

    if (!size) {
        return 0;
    }
    f = fmemopen((void *) data, size, "rb");
    if (!f) {
        return 0;
    }
    if (!pcap_io_reader_init(&r, f, err, sizeof err)) {
        while ((got = pcap_io_read(&r, &rec, buf, sizeof buf, err,
                                   sizeof err)) > 0) {
            if (rec.caplen > PCAP_IO_MAX_CAPLEN
                || (r.snaplen && rec.caplen > r.snaplen)
                || r.offset > size) {
                abort();
            }
        }
        if (got == 0 && r.offset != size) {
            abort();            /* Clean EOF must mean all bytes used. */
        }
    }
    fclose(f);
    return 0;
}
