// canprobe: what one CAN frame costs on each kernel path, measured in C
// (no Go runtime), for the vcan VM (`VCAN_PROBE=1 .ci/vm/run-vcan-tests`).
//
//   canprobe IFACE ROUNDS SIZE
//
// Each round, on the same interface and one after the other (so that the
// load of a shared, emulated CPU hits every path alike), moves the frames
// an ISO-TP message of SIZE bytes needs (classic: 7 bytes a frame, CAN FD
// on vcan1: 63) over:
//   isotp   two kernel can-isotp sockets (frame_txtime 0): write, read;
//   tx      one CAN_RAW socket, sendmmsg of 64, nobody receiving;
//   raw     CAN_RAW to CAN_RAW: sendmmsg of 64, recvmmsg of those 64;
//   rawall  CAN_RAW to CAN_RAW: every frame sent first, then all read;
//   ring    CAN_RAW to a PF_PACKET TPACKET_V2 receive ring (a BPF filter
//           on the identifier), read in place: no receive system call;
// and prints microseconds per frame and the kernel's ISO-TP throughput
// divided by each path's (isotp/raw is the best any ISO-TP in user space
// on CAN_RAW could reach, with no protocol work at all).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/can.h>
#include <linux/can/isotp.h>
#include <linux/can/raw.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define B 64          // frames per sendmmsg/recvmmsg
#define ETH_P_CAN_ 0x000C
#define ETH_P_CANFD_ 0x000D
#define RAWID 0x500

static int ifidx, fdif, mtu;

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what) {
	perror(what);
	exit(1);
}

// rawsock opens a CAN_RAW socket on the interface receiving only id (or
// nothing when id < 0).
static int rawsock(int id) {
	int s = socket(PF_CAN, SOCK_RAW, CAN_RAW), one = 1, big = 32 << 20;
	if (s < 0) die("socket CAN_RAW");
	if (id >= 0) {
		struct can_filter f = {id, CAN_SFF_MASK | CAN_EFF_FLAG | CAN_RTR_FLAG};
		if (setsockopt(s, SOL_CAN_RAW, CAN_RAW_FILTER, &f, sizeof f)) die("CAN_RAW_FILTER");
	} else if (setsockopt(s, SOL_CAN_RAW, CAN_RAW_FILTER, NULL, 0)) {
		die("CAN_RAW_FILTER");
	}
	if (fdif && setsockopt(s, SOL_CAN_RAW, CAN_RAW_FD_FRAMES, &one, sizeof one)) die("CAN_RAW_FD_FRAMES");
	setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
	struct sockaddr_can a = {.can_family = AF_CAN, .can_ifindex = ifidx};
	if (bind(s, (void *)&a, sizeof a)) die("bind CAN_RAW");
	return s;
}

static char tbuf[B][CANFD_MTU], rbuf[B][CANFD_MTU];
static struct iovec tiov[B], riov[B];
static struct mmsghdr thdr[B], rhdr[B];

static void setup(void) {
	for (int i = 0; i < B; i++) {
		struct canfd_frame *f = (void *)tbuf[i];
		f->can_id = RAWID;
		f->len = fdif ? 64 : 8;
		f->flags = fdif ? CANFD_BRS : 0;
		tiov[i] = (struct iovec){tbuf[i], mtu};
		riov[i] = (struct iovec){rbuf[i], CANFD_MTU};
		thdr[i].msg_hdr.msg_iov = &tiov[i];
		thdr[i].msg_hdr.msg_iovlen = 1;
		rhdr[i].msg_hdr.msg_iov = &riov[i];
		rhdr[i].msg_hdr.msg_iovlen = 1;
	}
}

static void sendn(int s, int k) {
	for (int d = 0; d < k;) {
		int r = sendmmsg(s, thdr + d, k - d, 0);
		if (r < 0) die("sendmmsg");
		d += r;
	}
}

static void recvn(int s, int k) {
	for (int got = 0; got < k;) {
		int r = recvmmsg(s, rhdr, B, MSG_WAITFORONE, NULL);
		if (r < 0) die("recvmmsg");
		got += r;
	}
}

// The PF_PACKET receive ring: frames of 256 bytes (header, sockaddr_ll,
// then the can_frame or canfd_frame), 4096 of them.
static char *ring;
static const unsigned fsz = 256, fnr = 4096;
static unsigned rpos;

static int ringsock(void) {
	int proto = fdif ? ETH_P_CANFD_ : ETH_P_CAN_, v = TPACKET_V2;
	int s = socket(AF_PACKET, SOCK_RAW, htons(proto));
	if (s < 0) die("socket AF_PACKET");
	if (setsockopt(s, SOL_PACKET, PACKET_VERSION, &v, sizeof v)) die("PACKET_VERSION");
	// can_id is stored in host order (little-endian); BPF loads big-endian
	struct sock_filter code[] = {
		{BPF_LD | BPF_W | BPF_ABS, 0, 0, 0},
		{BPF_JMP | BPF_JEQ | BPF_K, 0, 1, htonl(RAWID)},
		{BPF_RET | BPF_K, 0, 0, 0xffff},
		{BPF_RET | BPF_K, 0, 0, 0},
	};
	struct sock_fprog prog = {4, code};
	if (setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog)) die("SO_ATTACH_FILTER");
	struct tpacket_req req = {.tp_block_size = 1 << 16, .tp_frame_size = fsz, .tp_frame_nr = fnr};
	req.tp_block_nr = fnr * fsz / req.tp_block_size;
	if (setsockopt(s, SOL_PACKET, PACKET_RX_RING, &req, sizeof req)) die("PACKET_RX_RING");
	ring = mmap(NULL, fnr * fsz, PROT_READ | PROT_WRITE, MAP_SHARED, s, 0);
	if (ring == MAP_FAILED) die("mmap ring");
	rpos = 0;
	struct sockaddr_ll a = {.sll_family = AF_PACKET, .sll_protocol = htons(proto), .sll_ifindex = ifidx};
	if (bind(s, (void *)&a, sizeof a)) die("bind AF_PACKET");
	return s;
}

static void ringn(int s, int k) {
	for (int got = 0; got < k;) {
		struct tpacket2_hdr *h = (void *)(ring + (size_t)rpos * fsz);
		if (!(__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) {
			struct pollfd p = {s, POLLIN};
			poll(&p, 1, -1);
			continue;
		}
		struct canfd_frame *f = (void *)((char *)h + h->tp_mac);
		if (f->can_id != RAWID) {
			fprintf(stderr, "ring: frame %#x\n", f->can_id);
			exit(1);
		}
		__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		rpos = (rpos + 1) % fnr;
		got++;
	}
}

static int isotpsock(int tx, int rx) {
	int s = socket(PF_CAN, SOCK_DGRAM, CAN_ISOTP);
	if (s < 0) die("socket CAN_ISOTP");
	struct can_isotp_options o = {.frame_txtime = CAN_ISOTP_FRAME_TXTIME_ZERO};
	if (setsockopt(s, SOL_CAN_ISOTP, CAN_ISOTP_OPTS, &o, sizeof o)) die("CAN_ISOTP_OPTS");
	if (fdif) {
		struct can_isotp_ll_options l = {.mtu = CANFD_MTU, .tx_dl = 64, .tx_flags = CANFD_BRS};
		if (setsockopt(s, SOL_CAN_ISOTP, CAN_ISOTP_LL_OPTS, &l, sizeof l)) die("CAN_ISOTP_LL_OPTS");
	}
	struct sockaddr_can a = {.can_family = AF_CAN, .can_ifindex = ifidx};
	a.can_addr.tp.tx_id = tx;
	a.can_addr.tp.rx_id = rx;
	if (bind(s, (void *)&a, sizeof a)) die("bind CAN_ISOTP");
	return s;
}

enum { ISOTP, TX, RAW, RAWALL, RING, NPATH };
static const char *names[NPATH] = {"isotp", "tx", "raw", "rawall", "ring"};

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: canprobe IFACE ROUNDS SIZE\n");
		return 2;
	}
	if (!(ifidx = if_nametoindex(argv[1]))) die(argv[1]);
	char path[64];
	snprintf(path, sizeof path, "/sys/class/net/%s/mtu", argv[1]);
	FILE *m = fopen(path, "r");
	if (!m || fscanf(m, "%d", &mtu) != 1) die(path);
	fclose(m);
	fdif = mtu == CANFD_MTU;
	int rounds = atoi(argv[2]), size = atoi(argv[3]);
	if (size < 100 || size > 66000) {
		fprintf(stderr, "canprobe: SIZE %d: 100 to 66000 bytes\n", size);
		return 2;
	}
	setup();
	int per = fdif ? 63 : 7;
	int frames = 1 + (size - (fdif ? 58 : 6) + per - 1) / per; // FF, then CFs
	int nf = (frames + B - 1) / B * B;
	int a = isotpsock(0x600, 0x608), b = isotpsock(0x608, 0x600), tx = rawsock(-1);
	static char msg[66000], got[66000];
	memset(msg, 0x5a, sizeof msg);
	double sum[NPATH] = {0};
	for (int r = 0; r < rounds; r++) {
		double t[NPATH + 1];
		t[0] = now();
		if (write(a, msg, size) != size) die("write CAN_ISOTP");
		if (read(b, got, sizeof got) != size) die("read CAN_ISOTP");
		sum[ISOTP] += (now() - t[0]) / frames;
		t[0] = now();
		for (int d = 0; d < nf; d += B) sendn(tx, B);
		sum[TX] += (now() - t[0]) / nf;
		int rx = rawsock(RAWID);
		t[0] = now();
		for (int d = 0; d < nf; d += B) {
			sendn(tx, B);
			recvn(rx, B);
		}
		sum[RAW] += (now() - t[0]) / nf;
		t[0] = now();
		for (int d = 0; d < nf; d += B) sendn(tx, B);
		recvn(rx, nf);
		sum[RAWALL] += (now() - t[0]) / nf;
		close(rx);
		int rg = ringsock();
		t[0] = now();
		for (int d = 0; d < nf; d += B) {
			sendn(tx, B);
			ringn(rg, B);
		}
		sum[RING] += (now() - t[0]) / nf;
		munmap(ring, fnr * fsz);
		close(rg);
	}
	printf("canprobe %s (%s), %d rounds of %d bytes (%d frames):", argv[1], fdif ? "CAN FD" : "classic", rounds, size, frames);
	for (int i = 0; i < NPATH; i++) printf(" %s %.1f", names[i], sum[i] / rounds * 1e6);
	printf(" us/frame\ncanprobe %s kernel ISO-TP throughput / path's:", argv[1]);
	for (int i = 1; i < NPATH; i++) printf(" isotp/%s %.2f", names[i], sum[ISOTP] / sum[i]);
	printf("\n");
	return 0;
}
