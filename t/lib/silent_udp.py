# silent_udp.py ADDR PORT - a nameserver that drops every query: bind the
# UDP port (so the kernel sends no ICMP refusal), read, never answer.
# Prints "listening" once bound and "query" for each query it drops.
# Stops on SIGTERM.
import signal
import socket
import sys

signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print("listening", flush=True)
while True:
    s.recvfrom(65535)
    print("query", flush=True)
