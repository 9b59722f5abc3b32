"""Process mode's listening sockets turn Nagle's algorithm off, so a hop through the proxy costs no ACK wait.

uvicorn writes an answer's head and its body in two writes; with Nagle's algorithm the body waited for
the peer's ACK of the head, which Linux delays by up to 40 ms: every call through the proxy took about
40 ms more than the call it carried. Accepted connections inherit TCP_NODELAY from the listening socket.
"""

import socket

from labsvc.core.process import _listen


def test_the_listening_socket_hands_tcp_nodelay_to_every_connection_it_accepts():
    server = _listen()
    try:
        assert server.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        try:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        finally:
            accepted.close()
            client.close()
    finally:
        server.close()
