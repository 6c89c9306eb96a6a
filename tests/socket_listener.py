#!/usr/bin/python3
"""A receiver for the socketsink tests: `socket_listener.py udp|tcp PORT OUT`
binds 127.0.0.1:PORT (0: any free port, printed on stdout as the first
line) and appends every line it receives to OUT (TCP: each connection's
bytes, a line per newline; an unfinished last line of a connection is
written with a trailing "<cut>" marker) until SIGTERM."""
import signal
import socket
import sys
import threading


def main():
    proto, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    lock = threading.Lock()
    f = open(out, "a", buffering=1)

    def put(line):
        with lock:
            f.write(line + "\n")

    signal.signal(signal.SIGTERM, lambda *_: (f.flush(), sys.exit(0)))
    if proto == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", port))
        print(s.getsockname()[1], flush=True)
        while True:
            d = s.recv(1 << 16).decode()
            for line in d.split("\n"):
                if line:
                    put(line)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(8)
    print(s.getsockname()[1], flush=True)

    def serve(c):
        buf = b""
        while True:
            d = c.recv(1 << 16)
            if not d:
                break
            buf += d
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                put(line.decode())
        if buf:
            put(buf.decode() + "<cut>")

    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
