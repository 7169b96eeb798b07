#!/usr/bin/env python3
# Refresh qemu-patches/0001 (linux-headers: Add linux/kvm_soc.h) from
# include/uapi/linux/kvm_soc.h, so the QEMU series imports the header
# unchanged (tests/header/check.sh checks it).  Usage: from the top of the
# tree, python3 tools/qemu-header-patch.py
import re
import subprocess

PATCH = "qemu-patches/0001-linux-headers-Add-linux-kvm_soc.h.patch"
HDR = "include/uapi/linux/kvm_soc.h"

text = open(PATCH, encoding="utf-8").read()
lines = open(HDR, encoding="utf-8").read().split("\n")
assert lines[-1] == ""
lines = lines[:-1]
blob = subprocess.run(["git", "hash-object", HDR], capture_output=True,
                      text=True, check=True).stdout.strip()
n = len(lines)
head, rest = text.split("diff --git ", 1)
tail = rest[rest.index("\n-- \n"):]
body = ("diff --git a/linux-headers/linux/kvm_soc.h b/linux-headers/linux/kvm_soc.h\n"
        "new file mode 100644\nindex 00000000..%s\n--- /dev/null\n"
        "+++ b/linux-headers/linux/kvm_soc.h\n@@ -0,0 +1,%d @@\n" % (blob[:8], n) +
        "".join("+" + l + "\n" for l in lines))
head = re.sub(r"kvm_soc.h \| \d+ \++", "kvm_soc.h | %d %s" % (n, "+" * 48), head)
head = re.sub(r"1 file changed, \d+ insertions", "1 file changed, %d insertions" % n, head)
open(PATCH, "w", encoding="utf-8").write(head + body + tail[1:])
