/* Two DPDK net_ring ports joined back to back, for the inline-offload
 * tests: 'nic' (the port a NIC model is attached to) and 'peer' (the
 * other end of the wire).  What one sends, the other receives. */
#ifndef RING_PORTS_H
#define RING_PORTS_H 1

#include <stdio.h>
#include <string.h>
#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

enum { RING_PORTS_SIZE = 256 };

struct ring_ports {
    uint16_t nic, peer;
    struct rte_ring *tx, *rx;   /* The nic port's TX and RX. */
};

static inline int
ring_ports_start(uint16_t port, struct rte_mempool *mbufs)
{
    struct rte_eth_conf conf;

    memset(&conf, 0, sizeof conf);
    if (rte_eth_dev_configure(port, 1, 1, &conf)
        || rte_eth_rx_queue_setup(port, 0, RING_PORTS_SIZE, SOCKET_ID_ANY,
                                  NULL, mbufs)
        || rte_eth_tx_queue_setup(port, 0, RING_PORTS_SIZE, SOCKET_ID_ANY,
                                  NULL)
        || rte_eth_dev_start(port)) {
        return -1;
    }
    return 0;
}

/* Creates and starts the two ports, their rings and devices named after
 * 'prefix' (unique in the process), receiving into 'mbufs'.  Returns 0 or
 * -1. */
static inline int
ring_ports_create(struct ring_ports *rp, const char *prefix,
                  struct rte_mempool *mbufs)
{
    char name[RTE_RING_NAMESIZE];
    int a, b;

    snprintf(name, sizeof name, "%s_tx", prefix);
    rp->tx = rte_ring_create(name, RING_PORTS_SIZE, SOCKET_ID_ANY,
                             RING_F_SP_ENQ | RING_F_SC_DEQ);
    snprintf(name, sizeof name, "%s_rx", prefix);
    rp->rx = rte_ring_create(name, RING_PORTS_SIZE, SOCKET_ID_ANY,
                             RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!rp->tx || !rp->rx) {
        return -1;
    }
    snprintf(name, sizeof name, "%s_nic", prefix);
    a = rte_eth_from_rings(name, &rp->rx, 1, &rp->tx, 1, SOCKET_ID_ANY);
    snprintf(name, sizeof name, "%s_peer", prefix);
    b = rte_eth_from_rings(name, &rp->tx, 1, &rp->rx, 1, SOCKET_ID_ANY);
    if (a < 0 || b < 0) {
        return -1;
    }
    rp->nic = a;
    rp->peer = b;
    return (ring_ports_start(rp->nic, mbufs)
            || ring_ports_start(rp->peer, mbufs) ? -1 : 0);
}

static inline void
ring_ports_destroy(struct ring_ports *rp)
{
    rte_eth_dev_stop(rp->nic);
    rte_eth_dev_stop(rp->peer);
    rte_eth_dev_close(rp->nic);
    rte_eth_dev_close(rp->peer);
    rte_ring_free(rp->tx);
    rte_ring_free(rp->rx);
}

/* Sends 'n' mbufs on port 'from' and receives them, into 'got', on the
 * other.  Returns the number received. */
static inline unsigned int
ring_ports_wire(const struct ring_ports *rp, uint16_t from,
                struct rte_mbuf *pkts[], unsigned int n,
                struct rte_mbuf *got[])
{
    uint16_t to = from == rp->nic ? rp->peer : rp->nic;
    unsigned int sent = rte_eth_tx_burst(from, 0, pkts, n), rcvd;

    for (unsigned int i = sent; i < n; i++) {
        rte_pktmbuf_free(pkts[i]);
    }
    rcvd = rte_eth_rx_burst(to, 0, got, n);
    if (to == rp->peer) {
        /* The ring hands over the sender's mbuf: what a peer NIC would
         * report is no offload at all. */
        for (unsigned int i = 0; i < rcvd; i++) {
            got[i]->ol_flags = 0;
        }
    }
    return rcvd;
}

#endif /* ring-ports.h */
