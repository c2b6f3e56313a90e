"""A reload while a plugin call is stuck past its timeout: the old config
and dispatcher are kept while the call runs (its plugin's code and state),
and freed once it has returned; then a stop leaves nothing leaked. Leaks are
found by LeakSanitizer in a --enable-sanitizers build (JD_SANITIZERS, set by
make check), else by running the daemon under valgrind; without either the
test cannot tell, and is skipped."""
import os
import shutil
import signal
import subprocess
import sys
from jdtest import Env, JOURNEYD, TOP_SRC, eq, check, done
from sinklib import conf, signups, statuses, wait_until, no_core, START

if os.environ.get("JD_SANITIZERS"):
    wrap = []
elif shutil.which("valgrind"):
    wrap = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
            "--show-leak-kinds=definite,indirect",
            "--errors-for-leak-kinds=definite,indirect", "--num-callers=30",
            "--suppressions=" + os.path.join(TOP_SRC, "tests", "valgrind.supp")]
else:
    print("SKIP: neither a sanitizer build nor valgrind: leaks cannot be seen")
    sys.exit(77)

with Env() as env:
    hold, log = env.path("hold"), env.path("log")
    open(hold, "w").close()
    conf(env, 'stall = { module = "stall"; act_file = "%s"; timeout = "1s"; };'
         % hold, 'plugin = "stall";', workers=2)
    signups(env, ["u1"])
    with open(log, "w") as out:
        p = subprocess.Popen(wrap + [JOURNEYD, "-c", env.conf, "--now", START],
                             stdout=out, stderr=subprocess.STDOUT,
                             preexec_fn=no_core)
    env.procs.append(p)

    def logged(text):
        with open(log) as f:
            return f.read().count(text)

    wait_until(lambda: logged("timed out after 1s") >= 1,
               "the call to be given up on", bound=120, proc=p)
    p.send_signal(signal.SIGHUP)
    wait_until(lambda: logged("reloaded: ") >= 1, "the reload", bound=120, proc=p)
    check(logged("keeping the config of the plugin calls that overran") == 1,
          "the old config is kept for the stuck call")
    os.unlink(hold)
    wait_until(lambda: logged("returned done at last; ignored") >= 1,
               "the stuck call to return", bound=120, proc=p)
    wait_until(lambda: logged("that config is freed") >= 1,
               "the old config freed", bound=120, proc=p)
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=300)
    with open(log) as f:
        text = f.read()
    check("LeakSanitizer" not in text and "definitely lost" not in text,
          "nothing leaked", text[-3000:])
    eq(rc, 0, "SIGTERM: exit 0")
    eq(statuses(env), {3: 1}, "the action waits for its retry")
done()
