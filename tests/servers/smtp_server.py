#!/usr/bin/python3
"""A test SMTP server (aiosmtpd) on 127.0.0.1 for journeyd's plugin tests.

Each accepted message is written to --dir as NNNN.eml (the raw message) and
NNNN.json (envelope, and the message as Python's email package reads it:
decoded subject, addresses, text and html parts, defects). The .json file
appears last, by rename, once both are complete.

--rcpt-code / --data-code make the server refuse RCPT / DATA with that code
(451, 550, ...). --drop-after-data N makes it drop the connection, without
an answer, once the message of each of the first N sessions is in;
--die-after-data makes the whole server exit (status 3) at that point, as
if it crashed. A message cut off that way is kept as NNNN.dropped.eml,
never as a delivered one. --auth USER:PASS offers AUTH PLAIN/LOGIN without TLS and
accepts only those credentials. Once listening, the port is written to
--ready-file (by rename when it is a regular file).

Run it with Debian's /usr/bin/python3 (package python3-aiosmtpd).
"""
import argparse
import asyncio
import email
import email.policy
import json
import logging
import os
import signal
import stat
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def write_ready(path, port):
    """Write the port to the ready file (a pipe, or a file by rename)."""
    try:
        regular = not stat.S_ISFIFO(os.stat(path).st_mode)
    except FileNotFoundError:
        regular = True
    if not regular:
        with open(path, "w") as f:
            f.write("%d\n" % port)
        return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, path)


def describe(raw):
    """What Python's email package reads in a raw message."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    out = {
        "subject": str(msg["subject"]) if msg["subject"] is not None else None,
        "from": str(msg["from"]) if msg["from"] is not None else None,
        "to": str(msg["to"]) if msg["to"] is not None else None,
        "content_type": msg.get_content_type(),
        "header_names": [k for k, _ in msg.raw_items()],
        "defects": [repr(d) for d in msg.defects],
        "text": None,
        "html": None,
    }
    for part in msg.walk():
        out["defects"] += [repr(d) for d in part.defects]
    for kind in ("plain", "html"):
        part = msg.get_body(preferencelist=(kind,))
        if part is not None and part.get_content_type() == "text/" + kind:
            text = part.get_content().replace("\r\n", "\n")
            out["text" if kind == "plain" else "html"] = text
    return out


class Handler:
    def __init__(self, args):
        self.args = args
        self.count = 0
        self.dropped = 0

    async def handle_RCPT(self, server, session, envelope, address, options):
        if self.args.rcpt_code:
            return "%d Recipient refused (test)" % self.args.rcpt_code
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.args.data_code:
            return "%d Message refused (test)" % self.args.data_code
        if (self.args.die_after_data
                or self.dropped < self.args.drop_after_data):
            self.dropped += 1
            raw = envelope.original_content or envelope.content
            path = os.path.join(self.args.dir,
                                "%04d.dropped.eml" % self.dropped)
            with open(path + ".tmp", "wb") as f:
                f.write(raw)
            os.rename(path + ".tmp", path)
            if self.args.die_after_data:
                os._exit(3)
            server.transport.abort()
            return "421 dropped (test; never sent)"
        self.count += 1
        base = os.path.join(self.args.dir, "%04d" % self.count)
        raw = envelope.original_content or envelope.content
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "auth_user": getattr(session, "auth_data", None)
            and session.auth_data.login.decode(),
        }
        record.update(describe(raw))
        with open(base + ".json.tmp", "w") as f:
            json.dump(record, f)
        os.rename(base + ".json.tmp", base + ".json")
        return "250 OK queued as %04d" % self.count


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--rcpt-code", type=int, default=0)
    ap.add_argument("--data-code", type=int, default=0)
    ap.add_argument("--auth", default=None, help="USER:PASS")
    ap.add_argument("--drop-after-data", type=int, default=0)
    ap.add_argument("--die-after-data", action="store_true")
    ap.add_argument("--tls-cert", default=None, help="PEM certificate")
    ap.add_argument("--tls-key", default=None, help="PEM private key")
    ap.add_argument("--tls", choices=("starttls", "implicit"),
                    default=None, help="require STARTTLS, or TLS at once")
    args = ap.parse_args()

    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    handler = Handler(args)
    kwargs = {"enable_SMTPUTF8": True, "decode_data": False}
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, data):
            ok = (isinstance(data, LoginPassword)
                  and data.login.decode() == user
                  and data.password.decode() == password)
            return AuthResult(success=ok, handled=False, auth_data=data)

        kwargs.update(auth_require_tls=False, auth_required=True,
                      authenticator=authenticator)

    ssl_ctx = None
    if args.tls:
        import ssl
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.tls == "starttls":
            kwargs.update(tls_context=ctx, require_starttls=True)
        else:
            ssl_ctx = ctx

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(
        lambda: SMTP(handler, hostname="journeyd-test", **kwargs),
        host="127.0.0.1", port=args.port, ssl=ssl_ctx))
    port = server.sockets[0].getsockname()[1]
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.add_signal_handler(signal.SIGINT, loop.stop)
    write_ready(args.ready_file, port)
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()
