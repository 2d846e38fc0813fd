/* net: HOST:PORT forms and errors, listening on port 0, connect + address strings, whole I/O. */
#include "net.h"
#include "test.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int parse(const char *s, char *host, uint16_t *port)
{
	return ferry_net_parse_hostport(s, host, FERRY_NET_HOST_MAX, port);
}

FERRY_TEST(net_parse_accepts_name_ipv4_and_bracketed_ipv6)
{
	char host[FERRY_NET_HOST_MAX];
	uint16_t port = 1;
	EXPECT_EQ_INT(parse("ferryd.example:7100", host, &port), 0);
	EXPECT_EQ_STR(host, "ferryd.example");
	EXPECT_EQ_INT(port, 7100);
	EXPECT_EQ_INT(parse("10.0.0.1:0", host, &port), 0);
	EXPECT_EQ_STR(host, "10.0.0.1");
	EXPECT_EQ_INT(port, 0);
	EXPECT_EQ_INT(parse("[::1]:65535", host, &port), 0);
	EXPECT_EQ_STR(host, "::1");
	EXPECT_EQ_INT(port, 65535);
	EXPECT_EQ_INT(parse("[fe80::1%eth0]:7101", host, &port), 0);
	EXPECT_EQ_STR(host, "fe80::1%eth0");
	EXPECT_EQ_INT(port, 7101);
}

FERRY_TEST(net_parse_rejects_malformed_addresses)
{
	char host[FERRY_NET_HOST_MAX];
	uint16_t port;
	const char *bad[] = {
		"",            /* nothing */
		"host",        /* no port */
		"host:",       /* empty port */
		":7100",       /* empty host */
		"host:65536",  /* port out of range */
		"host:123456", /* too many digits */
		"host:-1",     /* sign */
		"host:7a",     /* junk in port */
		"::1:7100",    /* unbracketed IPv6 */
		"[::1]7100",   /* no colon after bracket */
		"[::1:7100",   /* unclosed bracket */
		"[]:7100",     /* empty bracketed host */
		"a]b:7100",    /* stray bracket */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = parse(bad[i], host, &port);
		if (rc != -EINVAL)
			fprintf(stderr, "  input \"%s\"\n", bad[i]);
		EXPECT_EQ_INT(rc, -EINVAL);
	}
	char small[4];
	EXPECT_EQ_INT(ferry_net_parse_hostport("abcd:1", small, sizeof small, &port), -ENAMETOOLONG);
	EXPECT_EQ_INT(ferry_net_parse_hostport("abc:1", small, sizeof small, &port), 0);
}

FERRY_TEST(net_listen_on_port_zero_then_connect_and_exchange)
{
	int lfd, cfd, sfd;
	char laddr[FERRY_NET_ADDR_MAX], caddr_local[FERRY_NET_ADDR_MAX], speer[FERRY_NET_ADDR_MAX];
	EXPECT_EQ_INT(ferry_net_listen("127.0.0.1:0", 8, &lfd), 0);
	EXPECT_EQ_INT(ferry_net_local_address(lfd, laddr, sizeof laddr), 0);
	EXPECT(strncmp(laddr, "127.0.0.1:", 10) == 0);
	EXPECT(strcmp(laddr, "127.0.0.1:0") != 0); /* the kernel picked a real port */

	EXPECT_EQ_INT(ferry_net_connect(laddr, 2000, &cfd), 0);
	int rc;
	for (int i = 0; i < 200 && (rc = ferry_net_accept(lfd, &sfd)) == -EAGAIN; i++)
		usleep(5000);
	EXPECT_EQ_INT(rc, 0);
	EXPECT_EQ_INT(ferry_net_local_address(cfd, caddr_local, sizeof caddr_local), 0);
	EXPECT_EQ_INT(ferry_net_peer_address(sfd, speer, sizeof speer), 0);
	EXPECT_EQ_STR(speer, caddr_local);

	/* More than a socket buffer's worth, so write_all must wait on a non-blocking socket while
	 * a forked reader drains it. */
	enum { N = 4 << 20 };
	static uint8_t out[N], in[N];
	for (size_t i = 0; i < N; i++)
		out[i] = (uint8_t)(i * 31 + 7);
	pid_t pid = fork();
	if (pid == 0) {
		int r = ferry_net_read_all(sfd, in, N, 5000);
		_exit(r == 0 && memcmp(in, out, N) == 0 ? 0 : 1);
	}
	EXPECT_EQ_INT(ferry_net_write_all(cfd, out, N, 5000), 0);
	int status = -1;
	waitpid(pid, &status, 0);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* The peer closing early is reported, not mistaken for data. */
	close(cfd);
	uint8_t b;
	EXPECT_EQ_INT(ferry_net_read_all(sfd, &b, 1, 2000), -ECONNRESET);
	close(sfd);
	close(lfd);
}

FERRY_TEST(net_connect_to_a_closed_port_fails_and_unknown_host_is_reported)
{
	int lfd, fd;
	char addr[FERRY_NET_ADDR_MAX];
	EXPECT_EQ_INT(ferry_net_listen("127.0.0.1:0", 1, &lfd), 0);
	EXPECT_EQ_INT(ferry_net_local_address(lfd, addr, sizeof addr), 0);
	close(lfd); /* nobody listens on this port now */
	EXPECT_EQ_INT(ferry_net_connect(addr, 2000, &fd), -ECONNREFUSED);
	EXPECT_EQ_INT(ferry_net_connect("host.invalid:7100", 2000, &fd), -EADDRNOTAVAIL);
	EXPECT_EQ_INT(ferry_net_listen("127.0.0.1", 1, &fd), -EINVAL);
}

FERRY_TEST(net_listen_on_ipv6_loopback_formats_brackets)
{
	int lfd;
	char addr[FERRY_NET_ADDR_MAX];
	int rc = ferry_net_listen("[::1]:0", 1, &lfd);
	if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT)
		return; /* no IPv6 on this machine: nothing to check */
	EXPECT_EQ_INT(rc, 0);
	EXPECT_EQ_INT(ferry_net_local_address(lfd, addr, sizeof addr), 0);
	EXPECT(strncmp(addr, "[::1]:", 6) == 0);
	close(lfd);
}

FERRY_TEST(net_wildcard_hosts)
{
	EXPECT(ferry_net_host_is_wildcard("0.0.0.0"));
	EXPECT(ferry_net_host_is_wildcard("::"));
	EXPECT(ferry_net_host_is_wildcard(""));
	EXPECT(!ferry_net_host_is_wildcard("127.0.0.1"));
	EXPECT(!ferry_net_host_is_wildcard("::1"));
}

FERRY_TEST(net_advertised_address_replaces_a_wildcard_with_the_control_socket_ip)
{
	int lfd, cfd;
	char laddr[FERRY_NET_ADDR_MAX], out[FERRY_NET_ADDR_MAX];
	EXPECT_EQ_INT(ferry_net_listen("127.0.0.1:0", 1, &lfd), 0);
	EXPECT_EQ_INT(ferry_net_local_address(lfd, laddr, sizeof laddr), 0);
	EXPECT_EQ_INT(ferry_net_connect(laddr, 2000, &cfd), 0);
	EXPECT_EQ_INT(ferry_net_advertised_address("0.0.0.0:7101", cfd, out, sizeof out), 0);
	EXPECT_EQ_STR(out, "127.0.0.1:7101");
	EXPECT_EQ_INT(ferry_net_advertised_address("[::]:7102", cfd, out, sizeof out), 0);
	EXPECT_EQ_STR(out, "127.0.0.1:7102");
	EXPECT_EQ_INT(ferry_net_advertised_address("10.1.2.3:7101", cfd, out, sizeof out), 0);
	EXPECT_EQ_STR(out, "10.1.2.3:7101");
	EXPECT_EQ_INT(ferry_net_advertised_address("0.0.0.0:7101", -1, out, sizeof out), -EBADF);
	close(cfd);
	close(lfd);
}

FERRY_TEST(net_retry_retries_eintr_waits_out_eagain_and_passes_other_errors_on)
{
	int sv[2];
	EXPECT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	EXPECT_EQ_INT(ferry_net_retry(sv[0], EINTR, POLLIN, 0), 0);
	EXPECT_EQ_INT(ferry_net_retry(sv[0], EAGAIN, POLLOUT, 1000), 0); /* room to write: again now */
	EXPECT_EQ_INT(ferry_net_retry(sv[0], EAGAIN, POLLIN, 10), -ETIMEDOUT); /* nothing to read */
	EXPECT_EQ_INT(ferry_net_retry(sv[0], ECONNRESET, POLLIN, 0), -ECONNRESET);
	close(sv[0]);
	close(sv[1]);
}
