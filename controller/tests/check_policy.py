#!/usr/bin/python3
"""Tests of `esp-agent --check` (run by `make check-controller` from the
top of the repository): the table of invalid policies, the golden output
of the examples, keys never shown, the policy file permission check, and
the unixctl socket directory check of `esp-agent run`.

usage: check_policy.py PATH/TO/esp-agent
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

AGENT = sys.argv[1]
INVALID = sorted(glob.glob("controller/tests/invalid/*.yaml"))
GOLDEN = {
    "docs/examples/two-sites.yaml": "controller/tests/golden/two-sites.out",
    "docs/examples/dc-and-cloud.yaml":
        "controller/tests/golden/dc-and-cloud.out",
    "docs/examples/three-sites.yaml":
        "controller/tests/golden/three-sites.out",
}
MIN_INVALID = 15

passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL: %s%s" % (what, ("\n" + detail) if detail else ""))


def run(*args):
    return subprocess.run([AGENT, *args], capture_output=True, text=True)


def diff(expected, got):
    import difflib
    return "".join(difflib.unified_diff(expected.splitlines(True),
                                        got.splitlines(True),
                                        "expected", "got"))


# A checkout made under umask 002 leaves files group-writable, which the
# agent (rightly) refuses: give the fixtures the mode a policy should have.
for f in INVALID + list(GOLDEN):
    os.chmod(f, os.stat(f).st_mode & ~0o022)

# 1. Invalid policies: each file names its problems in "# expect:" lines;
#    the agent must print exactly those, with the file name, and exit 1.
check(len(INVALID) >= MIN_INVALID,
      "at least %d invalid policies (found %d)" % (MIN_INVALID, len(INVALID)))
messages = set()
for f in INVALID:
    with open(f) as fh:
        expect = [l[len("# expect: "):].rstrip("\n")
                  for l in fh if l.startswith("# expect: ")]
    check(len(expect) > 0, "%s: has no '# expect:' line" % f)
    want = ["%s:%s" % (f, e) for e in expect]
    want.append("esp-agent: %s: %d problem%s, nothing applied"
                % (f, len(expect), "" if len(expect) == 1 else "s"))
    r = run("--check", f)
    got = r.stderr.splitlines()
    check(r.returncode == 1, "%s: exit status %d, expected 1"
          % (f, r.returncode))
    check(got == want, "%s: messages differ" % f,
          diff("\n".join(want) + "\n", r.stderr))
    check(r.stdout == "", "%s: printed a policy although invalid" % f,
          r.stdout[:500])
    messages.add(expect[0].split(": ", 1)[1])
check(len(messages) == len(INVALID), "every invalid policy is a distinct "
      "mistake (%d distinct first messages for %d files)"
      % (len(messages), len(INVALID)))

# 2. Golden output of the examples (deterministic SPIs with --seed).
for policy, golden in GOLDEN.items():
    with open(golden) as fh:
        want = fh.read()
    r = run("--check", "--seed=1", policy)
    check(r.returncode == 0 and r.stderr == "",
          "%s: exit status %d" % (policy, r.returncode), r.stderr)
    check(r.stdout == want, "%s: output differs from %s" % (policy, golden),
          diff(want, r.stdout))

# 3. Keys are never shown: every key field is redacted, with or without
#    --seed, and no long hex string appears anywhere but in flow cookies.
for policy in GOLDEN:
    for args in (["--check", policy], ["--check", "--seed=7", policy]):
        r = run(*args)
        out = r.stdout + r.stderr
        keys = re.findall(r"(?:^|,)((?:enc-|auth-)?key=[^,\s]*)", out, re.M)
        check(len(keys) > 0 and all(k.endswith("=<redacted>") for k in keys),
              "%s: key fields not all redacted: %s" % (" ".join(args),
                                                      sorted(set(keys))))
        hexes = [h for h in re.findall(r"(?:0x)?[0-9a-fA-F]{20,}", out)
                 if not h.startswith("0xe5a0")]
        check(not hexes, "%s: long hex strings in output: %s"
              % (" ".join(args), hexes[:3]))

# 4. The policy file's permissions.
tmp = tempfile.mkdtemp(prefix="esp-agent-test-")
try:
    p = os.path.join(tmp, "policy.yaml")
    shutil.copy("docs/examples/two-sites.yaml", p)
    for mode, ok in ((0o600, True), (0o644, True), (0o664, False),
                     (0o646, False), (0o666, False), (0o620, False)):
        os.chmod(p, mode)
        r = run("--check", p)
        if ok:
            check(r.returncode == 0, "mode %04o: refused" % mode, r.stderr)
        else:
            want = ("%s: unsafe permissions %04o: the policy must not be "
                    "writable by group or others (chmod go-w %s)\n"
                    % (p, mode, p))
            check(r.returncode == 1 and r.stderr == want and not r.stdout,
                  "mode %04o: not refused as expected" % mode,
                  "exit %d\n%s" % (r.returncode, diff(want, r.stderr)))
    r = run("--check", tmp)
    check(r.returncode == 1
          and r.stderr == "%s: not a regular file\n" % tmp,
          "a directory as policy", r.stderr)
    r = run("--check", os.path.join(tmp, "missing.yaml"))
    check(r.returncode == 2 and "cannot open: No such file or directory"
          in r.stderr, "a missing policy file", r.stderr)
    # Owned by another user than root or the agent's (needs root to
    # chown; the agent runs as root then).
    os.chmod(p, 0o600)
    if os.geteuid() == 0:
        os.chown(p, 65534, 65534)
        r = run("--check", p)
        check(r.returncode == 1 and r.stderr.startswith(
                  "%s: owned by uid 65534: the policy must belong to root "
                  "or to the agent's user" % p),
              "a policy owned by another user: not refused", r.stderr)
        os.chown(p, 0, 0)
    # The agent's unixctl socket: never in a directory others may write
    # (without the sticky bit); refused before any site is contacted.
    ww = os.path.join(tmp, "ww")
    os.mkdir(ww)
    os.chmod(ww, 0o777)
    r = run("run", "--unixctl=" + os.path.join(ww, "agent.ctl"), p)
    check(r.returncode == 2 and "is writable by anyone (mode 0777): "
          "refused" in r.stderr and "cannot connect" not in r.stderr,
          "unixctl socket in a world-writable directory: not refused "
          "(exit %d)" % r.returncode, r.stderr)
    r = run("run", "--unixctl=agent.ctl", p)
    check(r.returncode == 2 and "not an absolute path" in r.stderr,
          "relative --unixctl: not refused", r.stderr)
finally:
    shutil.rmtree(tmp)

# 5. Command line.
for args in ([], ["--check"], ["docs/examples/two-sites.yaml"],
             ["--check", "--seed=x", "docs/examples/two-sites.yaml"]):
    r = run(*args)
    check(r.returncode == 2 and not r.stdout,
          "usage error for %s: exit %d" % (args, r.returncode))

print("check-policy: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
