"""A TLS front for the `export` test, as a team puts one before its
receiver: accepts TLS on an ephemeral loopback port with the given
certificate and key and passes the bytes on to a plain TCP address. Prints
its port, then serves until killed. Standard library only.

Usage: tls_proxy.py CERT KEY HOST PORT
"""

import socket
import ssl
import sys
import threading

CERT, KEY, HOST, PORT = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(CERT, KEY)
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)


def pump(source, target):
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, target):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(connection):
    try:
        tls = context.wrap_socket(connection, server_side=True)
    except (ssl.SSLError, OSError):
        # A client that does not trust the certificate hangs up here.
        connection.close()
        return
    upstream = socket.create_connection((HOST, PORT))
    threading.Thread(target=pump, args=(tls, upstream), daemon=True).start()
    pump(upstream, tls)


while True:
    connection, _ = listener.accept()
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
