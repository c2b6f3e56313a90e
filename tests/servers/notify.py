"""A stand-in for systemd's notify socket: binds a unix datagram socket and
appends every message it receives to a file, one line per field."""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out + ".tmp", "w"):
    pass
os.rename(out + ".tmp", out)
while True:
    data = s.recv(4096).decode()
    with open(out, "a") as f:
        for field in data.split("\n"):
            f.write(field + "\n")
