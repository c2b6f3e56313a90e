"""The server's own retry delay comes from its Retry-After header only
(issue 11, defect 1): a 503 whose body says retry-after=0 or =1 waits the
backoff (retry_min), not what its body says; a Retry-After header is
honoured, and one of 9223372036854775807 seconds is held to retry_max
without overflow (the sanitizer build runs this too)."""
from jdtest import Env, track, eq, done, start_server, requests

T0 = 1772355600
CASES = (  # (instance, server arguments, expected delay)
    ("body0", ["--body", "retry-after=0"], 3600),
    ("body1", ["--body", "retry-after=1"], 3600),
    ("header", ["--retry-after", "120", "--body", "retry-after=1"], 120),
    ("huge", ["--retry-after", "9223372036854775807"], 7200),
)

with Env() as env:
    plugins, rules = [], []
    for name, args, _ in CASES:
        port = start_server(env, "http", ["--log", env.path(name + ".jsonl"),
                                          "--default", "503"] + args)
        plugins.append('%s = { module = "webhook"; url = "http://127.0.0.1:%d/"; };'
                       % (name, port))
        rules.append('{ name = "%s"; when = "true"; action = { plugin = "%s"; }; }'
                     % (name, name))
    env.write_conf("""
retry_min = "1h";
retry_max = "2h";
plugins = { %s };
journeys = ( { name = "j"; entry = "count('signup') >= 1"; stages = [ "in" ];
  rules = ( %s ); } );
""" % ("\n  ".join(plugins), ",\n    ".join(rules)))
    env.import_lines([track("u1", "signup", "2026-03-01T08:00:00Z")])
    env.once("2026-03-01T09:00:00Z")
    for name, _, delay in CASES:
        eq(len(requests(env.path(name + ".jsonl"))), 1, "%s: one attempt" % name)
        eq(env.sql("SELECT status, due - ?1 FROM outbox WHERE instance = ?2",
                   T0, name), [(3, delay)], "%s: retrying in %ds" % (name, delay))
    eq(env.sql("SELECT reason FROM outbox WHERE instance = 'body0'"),
       [("HTTP 503: retry-after=0",)], "the body is quoted in the reason, not read")
done()
