"""A stand-in for systemd's notify socket: binds a unix datagram socket and
appends every message it receives to a file, one line per field.

usage: notify.py SOCKET OUT [--stamp]

With --stamp each line starts with the time the kernel received its
datagram (wall clock, seconds, from SO_TIMESTAMPNS) and a space: the gaps
between messages are then the sender's, however late this script reads."""
import os
import socket
import struct
import sys
import time

SO_TIMESTAMPNS = 35     # Linux's, and its control message's type

path, out = sys.argv[1], sys.argv[2]
stamp = "--stamp" in sys.argv[3:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
if stamp:
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
s.bind(path)
with open(out + ".tmp", "w"):
    pass
os.rename(out + ".tmp", out)
while True:
    data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(16))
    when = None
    for level, kind, value in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            sec, nsec = struct.unpack("qq", value[:16])
            when = sec + nsec / 1e9
    if stamp and when is None:
        when = time.time()
    with open(out, "a") as f:
        for field in data.decode().split("\n"):
            f.write(("%.6f " % when if stamp else "") + field + "\n")
