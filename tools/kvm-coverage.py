#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The KVM coverage table: every x86 ioctl and capability of the kernel's
Documentation/virt/kvm/api.rst, each carried by kvm-soc or refused.

  kvm-coverage.py SRC                 print docs/kvm-coverage.md
  kvm-coverage.py SRC --check         it matches docs/kvm-coverage.md, and
                                      the tables agree (below)
  kvm-coverage.py SRC --c-table FILE  the rows as C, for the selftest
                                      selftests/kvm-soc/conformance.c

SRC is a Linux source tree (the parts tools/deps.sh extracts from Debian's
linux-source: Documentation/virt/kvm/api.rst, include/uapi/linux/kvm.h).
Ioctls and capabilities are api.rst's sections for x86 and every other
KVM_* ioctl and KVM_CAP_* of the UAPI header but those of other
architectures (by prefix, or documented for other architectures only);
api.rst leaves some out (KVM_SET_CPUID2 has no section of its own).  Where api.rst is
wrong about a row ("fix" in the rows file: its level or that it is x86),
the rows file says so.

What is carried comes from the module's own tables (common/ksoc_kvm_ioctl.c:
ksoc_kvm_ioctls with their levels, ksoc_kvm_caps) and from the ioctls
soc-kvm implements itself (tools/kvm-coverage.rows, "own").  A refused
row's reason comes from that file too.  The test of a carried row is the
first selftest that names it.

--check fails when the committed table is stale, when an x86 ioctl is
refused although the capability api.rst names for it is reported (the
"capability says yes, ioctl says ENOTTY" class), or when a row of the rows
file names nothing in api.rst or contradicts the module's tables.
"""
import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEVELS = {"system": "KSOC_LVL_SYS", "vm": "KSOC_LVL_VM", "vcpu": "KSOC_LVL_VCPU",
          "device": "KSOC_LVL_DEV"}


def is_x86(archs):
    a = archs.lower()
    if "x86" in a:
        return True
    return a.startswith("all") and "except x86" not in a


def parse_api(path):
    """Sections of api.rst: (name, section, archs, types, capability)."""
    lines = open(path, encoding="utf-8").read().split("\n")
    head = re.compile(r"^(\d+)\.(\d+) (.*)$")
    secs = []
    for i, l in enumerate(lines):
        m = head.match(l)
        if not m or i + 1 >= len(lines) or not re.match(r"^-{3,}$", lines[i + 1]):
            continue
        names = re.findall(r"\bKVM_[A-Z0-9_]+\b", m.group(3))
        fields = {}
        for l2 in lines[i + 2:i + 14]:
            f = re.match(r"^:([A-Za-z ]+):\s*(.*)$", l2)
            if f:
                fields[f.group(1).lower()] = f.group(2)
            elif head.match(l2) or (fields and not l2.strip()):
                break           # the fields end; never the next section's
        secs.append({"chapter": int(m.group(1)), "sec": "%s.%s" % (m.group(1), m.group(2)),
                     "names": names, "archs": fields.get("architectures", "all"),
                     "type": fields.get("type", ""), "cap": fields.get("capability", "")})
    return secs


def levels_of(t):
    t = t.lower()
    return [k for k in ("system", "vm", "vcpu", "device") if re.search(r"\b%s\b" % k, t)]


def module_tables():
    src = open(os.path.join(TOP, "common/ksoc_kvm_ioctl.c")).read()
    ioctls = {}
    for name, lv in re.findall(r"KSOC_IOC\((KVM_[A-Z0-9_]+),\s*([^,]+),", src):
        ioctls[name] = [k for k, v in LEVELS.items() if v in lv]
    caps_src = src[src.index("ksoc_kvm_caps[] = {"):src.index("ksoc_kvm_nr_caps")]
    caps = set(re.findall(r"KVM_CAP_[A-Z0-9_]+", re.sub(r"/\*.*?\*/", "", caps_src, flags=re.S)))
    enable = {}
    for lv, name in (("VMs", "ksoc_kvm_enable_caps"), ("vCPUs", "ksoc_kvm_vcpu_enable_caps")):
        en_src = src[src.index(name + "[] = {"):src.index(name.replace("ksoc_kvm_", "ksoc_kvm_nr_"))]
        for c in re.findall(r"KVM_CAP_[A-Z0-9_]+", re.sub(r"/\*.*?\*/", "", en_src, flags=re.S)):
            enable[c] = lv
    return ioctls, caps, enable


def rows_file():
    own, reasons, fix = {}, {}, {}
    for l in open(os.path.join(TOP, "tools/kvm-coverage.rows")):
        l = l.strip()
        if not l or l.startswith("#"):
            continue
        name, kind, rest = (l.split(None, 2) + ["", ""])[:3]
        if kind == "own":
            own[name] = levels_of(rest)
        elif kind == "refused":
            reasons[name] = rest
        elif kind == "fix":
            fix[name] = rest
        else:
            sys.exit("kvm-coverage.rows: bad line: " + l)
    return own, reasons, fix


OTHER_ARCH = re.compile(r"^KVM_CAP_(S390|PPC|ARM|MIPS|RISCV|LOONGARCH|SPAPR)")


OTHER_IOC = re.compile(r"^KVM_(S390|PPC|ARM|MIPS|RISCV|LOONGARCH|SPAPR)_")


def uapi_ioctls(src):
    h = open(os.path.join(src, "include/uapi/linux/kvm.h")).read()
    return [n for n in re.findall(r"^#define (KVM_[A-Z0-9_]+)[ \t]*\\?\s*_IO[RW]*\(\s*KVMIO",
                                  h, flags=re.M)
            if not OTHER_IOC.match(n)]


def uapi_caps(src):
    h = open(os.path.join(src, "include/uapi/linux/kvm.h")).read()
    return [c for c in re.findall(r"^#define (KVM_CAP_[A-Z0-9_]+)\s", h, flags=re.M)
            if not OTHER_ARCH.match(c)]


def test_index():
    """name -> the first selftest whose body names it (else the first
    selftest file naming it in a table or helper)."""
    idx, files = {}, {}
    d = os.path.join(TOP, "selftests/kvm-soc")
    # The fuzzer last: it calls everything but checks no result.
    for f in sorted(os.listdir(d), key=lambda f: (f.startswith("ioctl_fuzz"), f)):
        p = os.path.join(d, f)
        if f.endswith(".c"):
            cur = None
            for l in open(p, encoding="utf-8"):
                m = re.match(r"^TEST(?:_F)?(?:_TIMEOUT)?\((?:\w+, )?(\w+)", l)
                if m:
                    cur = "%s: %s" % (f[:-2], m.group(1))
                    continue
                if l.startswith("}"):
                    cur = None      # the test ends; helpers follow
                    continue
                for n in re.findall(r"\bKVM_[A-Z0-9_]+\b", l):
                    if cur:
                        idx.setdefault(n, cur)
                    files.setdefault(n, f[:-2] + (" (fuzzed only: no test of its result)"
                                                  if f.startswith("ioctl_fuzz") else " (its helpers or tables)"))
        elif f.endswith(".sh"):
            for n in re.findall(r"\bKVM_[A-Z0-9_]+\b", open(p, encoding="utf-8").read()):
                idx.setdefault(n, f[:-3])
    for n, f in files.items():
        idx.setdefault(n, f)
    return idx


def build(src):
    secs = parse_api(os.path.join(src, "Documentation/virt/kvm/api.rst"))
    ioctls, caps, enable = module_tables()
    own, reasons, fix = rows_file()
    tests = test_index()
    rows, problems, seen = [], [], set()

    def x86_sec(s):
        return is_x86(s["archs"]) or any("x86" in fix.get(n, "") for n in s["names"])

    def row(n, sec, lv, capfield):
        seen.add(n)
        have = own.get(n, ioctls.get(n))
        # api.rst's levels, and any other one we carry it at (it gives
        # none for some, and only one for KVM_ENABLE_CAP).
        lv = [l for l in ("system", "vm", "vcpu", "device") if l in lv or (have and l in have)]
        carried = [l for l in lv if have and l in have]
        missing = [l for l in lv if l not in carried]
        if carried:
            st = "carried" + ("" if not missing else " (not at %s level)" % "/".join(missing))
            why = tests.get(n, "no test yet")
        else:
            st = "refused"
            why = reasons.get(n, "not carried yet")
        rows.append(("ioctl", n, sec, "/".join(lv) or "?", st, why, carried))
        named = re.findall(r"KVM_CAP_[A-Z0-9_]+", capfield)
        if missing and named and all(c in caps for c in named):
            problems.append("%s: refused at %s level, but its capability %s is reported"
                            % (n, "/".join(missing), "/".join(named)))

    for s in secs:
        if s["chapter"] != 4 or not x86_sec(s):
            continue
        for n in s["names"]:
            if n.startswith("KVM_CAP_") or n in seen:
                continue
            lv = levels_of(s["type"])
            m = re.search(r"level ([a-z ]+)", fix.get(n, ""))
            if m:
                lv = levels_of(m.group(1))
            row(n, s["sec"], lv, s["cap"])
    documented = set(n for s in secs for n in s["names"])
    for n in uapi_ioctls(src):
        if n in seen or (n in documented and n not in fix):
            continue    # done, or documented for other architectures only
        m = re.search(r"level ([a-z ]+)", fix.get(n, ""))
        row(n, "-", levels_of(m.group(1)) if m else [], "")

    documented = {}
    for s in secs:
        for n in s["names"] + re.findall(r"KVM_CAP_[A-Z0-9_]+", s["cap"]):
            if n.startswith("KVM_CAP_"):
                documented.setdefault(n, []).append(s)
    capnames = uapi_caps(src)
    for n in capnames:
        ds = documented.get(n, [])
        if ds and not any(x86_sec(d) for d in ds):
            continue  # documented for other architectures only
        sec = next((d["sec"] for d in ds if x86_sec(d)), "-")
        if n in caps:
            st = "carried" + (", enabled on " + enable[n] if n in enable else "")
            why = tests.get(n, "conformance: capabilities_as_kvm")
        else:
            st = "refused: reads 0"
            why = reasons.get(n, "not carried yet")
        rows.append(("cap", n, sec, "", st, why, []))
    names = {r[1] for r in rows}
    for n in list(own) + list(reasons) + list(fix):
        if n not in names:
            problems.append("kvm-coverage.rows names %s, which is no x86 row" % n)
    for n in reasons:
        if n in caps or n in ioctls or n in own:
            problems.append("kvm-coverage.rows refuses %s, which the module carries" % n)
    for n in list(caps) + list(ioctls):
        if n not in names:
            problems.append("the module carries %s, which is no x86 row" % n)
    return rows, problems


# Refused for good, as the conformance issue allows: the SoC must reach
# guest memory, which confidential guests keep from it.
FOR_GOOD = ("KVM_CAP_GUEST_MEMFD", "KVM_CREATE_GUEST_MEMFD", "KVM_SET_MEMORY_ATTRIBUTES",
            "KVM_CAP_MEMORY_ATTRIBUTES", "KVM_MEMORY_ENCRYPT_OP", "KVM_MEMORY_ENCRYPT_REG_REGION",
            "KVM_MEMORY_ENCRYPT_UNREG_REGION", "KVM_CAP_SGX_ATTRIBUTE")
# Rows VMMs name that x86 KVM (6.12) does not have either: their capability
# reads 0 and ONE_REG is EINVAL on /dev/kvm too (split_kvm:
# rows_x86_kvm_lacks_answer_as_kvm checks both devices).  Refused like any
# row kvm-soc does not carry, and also counted apart in the union.
NOT_ON_X86 = ("KVM_CAP_MSI_DEVID", "KVM_CAP_VM_ATTRIBUTES", "KVM_GET_ONE_REG", "KVM_SET_ONE_REG",
              "KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP")
VMMS = (("q", "QEMU"), ("c", "crosvm"), ("f", "Firecracker"), ("h", "cloud-hypervisor"))


def union(rows, problems):
    """The rows x86 VMMs call (tools/kvm-vmm-union.rows) and how many are carried."""
    st = {r[1]: r for r in rows}
    out = []
    for l in open(os.path.join(TOP, "tools/kvm-vmm-union.rows"), encoding="utf-8"):
        if l.startswith("#") or not l.strip():
            continue
        n, who = l.split()
        if n not in st:
            problems.append("kvm-vmm-union.rows names %s, which is no x86 row" % n)
            continue
        out.append((n, who, st[n]))
    return out


def union_markdown(u):
    carried = [x for x in u if x[2][4].startswith("carried")]
    good = [x for x in u if x[0] in FOR_GOOD]
    rest = len(u) - len(good)
    lacks = [x for x in u if x[0] in NOT_ON_X86 and not x[2][4].startswith("carried")]
    out = ["## What VMMs call: %d of %d carried (%d of %d without the confidential-guest rows)"
           % (len(carried), len(u), len(carried), rest), "",
           "%.1f %% of the %d rows left without the confidential-guest rows; %.1f %% of the %d "
           "rows left without also the %d that x86 KVM itself does not have (%s: they read 0 or "
           "answer `EINVAL` on `/dev/kvm` as on `/dev/kvm-soc`)."
           % (100.0 * len(carried) / rest, rest, 100.0 * len(carried) / (rest - len(lacks)),
              rest - len(lacks), len(lacks), ", ".join("`%s`" % x[0] for x in lacks)), "",
           "The union of the KVM ioctls and capabilities that QEMU, crosvm, Firecracker and "
           "cloud-hypervisor name on x86 (`tools/kvm-vmm-union.rows`, with how it was read). "
           "Per VMM: " + ", ".join("%s %d of %d" % (name, sum(1 for x in carried if k in x[1]),
                                                    sum(1 for x in u if k in x[1]))
                                   for k, name in VMMS) + ". Not carried:", "",
           "| name | called by | why not |", "|---|---|---|"]
    for n, who, r in u:
        if not r[4].startswith("carried"):
            out.append("| `%s` | %s | %s |" % (n, ", ".join(name for k, name in VMMS if k in who), r[5]))
    out.append("")
    return out


def markdown(rows, u=()):
    out = ["# KVM coverage: every x86 ioctl and capability of api.rst", "",
           "Generated by `tools/kvm-coverage.py` from the kernel's "
           "`Documentation/virt/kvm/api.rst` and `include/uapi/linux/kvm.h` (Debian's "
           "linux-source 6.12), the module's tables "
           "(`common/ksoc_kvm_ioctl.c`) and `tools/kvm-coverage.rows`; `make unit` fails when it is "
           "stale or when a reported capability's ioctl is refused. The test of a carried row is "
           "the first selftest that names it; `conformance` checks every capability row on "
           "`/dev/kvm-soc` against `/dev/kvm` and every refused ioctl's errno.", "",
           "A refused ioctl is answered as x86 KVM answers one it does not know: `EINVAL` on the "
           "system and vCPU files, `ENOTTY` on a VM. A refused capability reads 0.", ""]
    for kind, title in (("ioctl", "Ioctls"), ("cap", "Capabilities")):
        sel = [r for r in rows if r[0] == kind]
        n_c = sum(1 for r in sel if r[4].startswith("carried"))
        out += ["## %s: %d of %d carried" % (title, n_c, len(sel)), ""]
        if kind == "ioctl":
            out += ["| ioctl | api.rst | level | status | test, or why not |", "|---|---|---|---|---|"]
            out += ["| `%s` | %s | %s | %s | %s |" % (r[1], r[2], r[3], r[4], r[5]) for r in sel]
        else:
            out += ["| capability | api.rst | status | test, or why not |", "|---|---|---|---|"]
            out += ["| `%s` | %s | %s | %s |" % (r[1], r[2], r[4], r[5]) for r in sel]
        out.append("")
    if u:
        out += union_markdown(u)
    return "\n".join(out)


def c_table(rows):
    """{ name, number, is_ioctl, carried, levels carried (1 system, 2 VM, 4 vCPU) }"""
    bits = {"system": 1, "vm": 2, "vcpu": 4, "device": 8}
    out = ["/* Generated by tools/kvm-coverage.py from docs/kvm-coverage.md's sources. */"]
    for r in rows:
        mask = sum(bits[l] for l in r[6])
        out.append("#ifdef %s\n\t{ \"%s\", %s, %d, %d, %d },\n#endif" %
                   (r[1], r[1], r[1], r[0] == "ioctl", r[4].startswith("carried"), mask))
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    rows, problems = build(sys.argv[1])
    md = markdown(rows, union(rows, problems))
    if "--c-table" in sys.argv:
        open(sys.argv[sys.argv.index("--c-table") + 1], "w").write(c_table(rows))
        return 0
    if "--check" not in sys.argv:
        print(md)
        return 0
    doc = os.path.join(TOP, "docs/kvm-coverage.md")
    if not os.path.exists(doc) or open(doc).read() != md + "\n":
        problems.append("docs/kvm-coverage.md is stale: tools/kvm-coverage.py %s > docs/kvm-coverage.md"
                        % sys.argv[1])
    for p in problems:
        print("kvm-coverage: " + p)
    if problems:
        return 1
    n = [r for r in rows if r[4].startswith("carried")]
    print("kvm-coverage: %d x86 rows, %d carried; docs/kvm-coverage.md and the module's tables agree"
          % (len(rows), len(n)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
