"""bench/smtp-sink.py: an aiosmtpd server on 127.0.0.1 that accepts and
counts messages, keeping nothing. Prints its port, then serves; a line
"count" on standard input prints the number received so far."""
import asyncio
import logging
import sys
import warnings

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


async def main():
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    sink = Sink()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(sink, hostname="sink"),
                                      host="127.0.0.1", port=0)
    print(server.sockets[0].getsockname()[1], flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                 sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        if line.strip() == b"count":
            print(sink.count, flush=True)
    server.close()


asyncio.run(main())
