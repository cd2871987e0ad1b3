/*
 * test_peer: the check the core makes on a socket the front hands it.
 * Only a connection accepted on the named listening socket passes; the
 * listening socket itself (its SO_PEERCRED names the listener), the
 * connecting end, a socketpair, a datagram socket and a connection
 * accepted on another path fail.  The credentials read are the
 * connecting process's.  And the check at each request: the caller has
 * hung up once it closed its end, whoever else holds the accepted
 * socket, and not when it only shut down its writing half.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "peer.h"

struct pair {
	char path[108];
	int listener, client, server;
};

/* A listening socket at a new path under dir, one client connected and
 * accepted. */
static void
open_pair(struct pair *p, const char *dir, const char *name)
{
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(p->path, sizeof(p->path), "%s/%s", dir, name);
	memcpy(sun.sun_path, p->path, strlen(p->path) + 1);
	assert_true((p->listener = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(
	    bind(p->listener, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(p->listener, 4), 0);
	assert_true((p->client = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(
	    connect(p->client, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_true((p->server = accept(p->listener, NULL, NULL)) >= 0);
}

static void
close_pair(struct pair *p)
{
	close(p->client);
	close(p->server);
	close(p->listener);
	unlink(p->path);
}

static void
test_accepted_on(void **state)
{
	char dir[] = "/tmp/test_peer.XXXXXX";
	struct pair a, b;
	struct peer pr;
	int sp[2], dg;

	(void)state;
	assert_non_null(mkdtemp(dir));
	open_pair(&a, dir, "a.sock");
	open_pair(&b, dir, "b.sock");
	assert_int_equal(peer_accepted_on(a.server, a.path), 1);
	assert_int_equal(peer_from_fd(a.server, &pr), 0);
	assert_int_equal(pr.uid, getuid());
	assert_int_equal(pr.pid, getpid());
	assert_int_equal(peer_accepted_on(a.listener, a.path), 0);
	assert_int_equal(peer_accepted_on(a.client, a.path), 0);
	assert_int_equal(peer_accepted_on(b.server, a.path), 0);
	assert_int_equal(peer_accepted_on(b.server, b.path), 1);
	/* a prefix of the path is not the path */
	a.path[strlen(a.path) - 1] = '\0';
	assert_int_equal(peer_accepted_on(a.server, a.path), 0);
	a.path[strlen(a.path)] = 'k';
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	assert_int_equal(peer_accepted_on(sp[0], a.path), 0);
	assert_true((dg = socket(AF_UNIX, SOCK_DGRAM, 0)) >= 0);
	assert_int_equal(peer_accepted_on(dg, a.path), 0);
	assert_int_equal(peer_accepted_on(-1, a.path), 0);
	assert_int_equal(peer_accepted_on(a.server, ""), 0);
	close(dg);
	close(sp[0]);
	close(sp[1]);
	close_pair(&a);
	close_pair(&b);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_hung_up(void **state)
{
	char dir[] = "/tmp/test_peer.XXXXXX";
	struct pair a;
	int held;

	(void)state;
	assert_non_null(mkdtemp(dir));
	open_pair(&a, dir, "a.sock");
	assert_true((held = dup(a.server)) >= 0); /* as the front holds it */
	assert_int_equal(peer_hung_up(a.server), 0);
	assert_int_equal(write(a.client, "GET", 3), 3);
	assert_int_equal(shutdown(a.client, SHUT_WR), 0);
	assert_int_equal(peer_hung_up(a.server), 0); /* still reading */
	close(a.client);
	assert_int_equal(peer_hung_up(a.server), 1);
	assert_int_equal(peer_hung_up(held), 1);
	assert_int_equal(peer_hung_up(-1), 1); /* no socket: nobody there */
	a.client = -1;
	close(held);
	close_pair(&a);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted_on),
		cmocka_unit_test(test_hung_up),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
