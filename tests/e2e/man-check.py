"""The man pages document what the README and the programs name: every
journeyd and journeyctl option and command the README mentions, and every
config key of the README's tables (plugin settings and parameters
included), appears in journeyd(8), journeyctl(1) or journeyd.conf(5);
every option and command of journeyd --help and journeyctl --help too.
Read from the pages as mandoc renders them. Skipped (77) without mandoc."""
import os
import re
import shutil
import subprocess
import sys

from jdtest import TOP_SRC, TOP_BUILD, JOURNEYD, JOURNEYCTL, check, ok, done

if shutil.which("mandoc") is None:
    print("SKIP: mandoc not found (apt-get install mandoc)")
    sys.exit(77)


def page(name):
    """A man page's text as mandoc renders it, without overstrikes."""
    path = os.path.join(TOP_BUILD, "man", name)
    check(os.path.exists(path), "%s was made" % name)
    r = subprocess.run(["mandoc", "-T", "ascii", "-O", "width=200", path],
                       capture_output=True, text=True, check=True)
    return re.sub(".\b", "", r.stdout)


DAEMON, CTL, CONF = page("journeyd.8"), page("journeyctl.1"), \
    page("journeyd.conf.5")
with open(os.path.join(TOP_SRC, "README.md")) as f:
    README = f.read()

OPT = re.compile(r"(?<![\w-])(--?[a-z][a-z-]*)")


def has(text, word):
    return re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(word), text)


def missing(words, text, where, what):
    gone = sorted(w for w in set(words) if not has(text, w))
    check(not gone, "every %s is in %s" % (what, where),
          "missing: %s" % " ".join(gone))


# Command lines of the README: in code blocks and inline code.
lines = []
block = False
for line in README.splitlines():
    if line.startswith("```"):
        block = not block
    elif block:
        lines.append(line.strip())
lines += re.findall(r"`([^`\n]+)`", README)
jd_opts, ctl_opts, ctl_cmds = [], [], []
for line in lines:
    m = re.match(r"(?:sudo )?(journeyd|journeyctl)\s(.*)", line)
    if not m:
        continue
    if m.group(1) == "journeyd":
        jd_opts += OPT.findall(m.group(2))
    else:
        rest = re.sub(r"^-c \S+\s*", "", m.group(2))
        cmd = re.match(r"([a-z]+)", rest)
        if cmd:
            ctl_cmds.append(cmd.group(1))
        ctl_opts += OPT.findall(m.group(2))
# In the Commands section, an option alone names one of either program.
section = README.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
alone = [o for o in re.findall(r"`(--?[a-z][a-z-]*)(?: [A-Z]+)?`", section)]
check(jd_opts and ctl_opts and ctl_cmds and alone,
      "the README's commands and options found")
missing(jd_opts, DAEMON, "journeyd(8)", "journeyd option of the README")
missing(ctl_opts, CTL, "journeyctl(1)", "journeyctl option of the README")
missing(ctl_cmds, CTL, "journeyctl(1)", "journeyctl command of the README")
missing(alone, DAEMON + CTL, "journeyd(8) or journeyctl(1)",
        "option of the README's Commands")

# Config keys: the README's tables of keys, settings and plugins.
keys = []
IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
for table in re.findall(r"((?:^\|.*\n)+)", README, re.M):
    rows = [r.strip().strip("|").split("|") for r in table.splitlines()]
    head = rows[0][0].strip()
    if head not in ("key", "setting", "plugin"):
        continue
    for row in rows[2:]:
        cells = row if head == "plugin" else row[:1]
        for cell in cells:
            for span in re.findall(r"`([^`]+)`", cell):
                if IDENT.match(span):
                    keys.append(span)
                else:
                    keys += re.findall(r"(?<![\w.])([a-z_][a-z0-9_]*) =",
                                       span)
check(len(keys) > 40, "the README's config keys found (%d)" % len(set(keys)))
missing(keys, CONF, "journeyd.conf(5)", "config key of the README")

# What the programs' --help names.
out = subprocess.run([JOURNEYD, "--help"], capture_output=True, text=True,
                     check=True).stdout
missing(OPT.findall(out.split("\n\n", 1)[1]), DAEMON, "journeyd(8)",
        "option of journeyd --help")
out = subprocess.run([JOURNEYCTL, "--help"], capture_output=True, text=True,
                     check=True).stdout
cmds = re.findall(r"^  ([a-z]+) ", out, re.M)
check(len(cmds) >= 8, "journeyctl --help lists its commands")
missing(cmds, CTL, "journeyctl(1)", "command of journeyctl --help")
missing(OPT.findall(out), CTL, "journeyctl(1)", "option of journeyctl --help")
ok("the man pages cover the README and --help")
done()
