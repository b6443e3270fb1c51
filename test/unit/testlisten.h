/*
 * testlisten.h: a libuv listener on a free loopback port, for unit tests that play a server.
 * Include after <cmocka.h> (the helper fails the test through it).
 */
#ifndef PHASE4_TEST_TESTLISTEN_H
#define PHASE4_TEST_TESTLISTEN_H

#include <arpa/inet.h>
#include <uv.h>

/* tcp listening on 127.0.0.1 (a port the system picks), connections to cb; the port. */
static inline int test_listen(uv_loop_t *loop, uv_tcp_t *tcp, int backlog, uv_connection_cb cb)
{
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = (int)sizeof(bound);

    assert_int_equal(uv_tcp_init(loop, tcp), 0);
    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
    assert_int_equal(uv_tcp_bind(tcp, (const struct sockaddr *)&addr, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)tcp, backlog, cb), 0);
    assert_int_equal(uv_tcp_getsockname(tcp, (struct sockaddr *)&bound, &len), 0);
    return ntohs(((const struct sockaddr_in *)&bound)->sin_port);
}

#endif
