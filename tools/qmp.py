#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Send QMP commands to a QEMU monitor socket, one per argument, and print
each reply's "return" as JSON (or exit 1 on an error reply).  A command
with arguments is written NAME=JSON.

  qmp.py SOCKET stop query-status cont system_reset quit
  qmp.py SOCKET 'migrate={"uri": "unix:/tmp/m.sock"}'
"""
import json
import socket
import sys


def main():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(sys.argv[1])
    f = sock.makefile("rw")
    json.loads(f.readline())                      # the greeting
    for cmd in ["qmp_capabilities"] + sys.argv[2:]:
        msg = {"execute": cmd}
        if "=" in cmd:
            cmd, args = cmd.split("=", 1)
            msg = {"execute": cmd, "arguments": json.loads(args)}
        f.write(json.dumps(msg) + "\n")
        f.flush()
        while True:
            reply = json.loads(f.readline())
            if "event" not in reply:
                break
        if "error" in reply:
            print("qmp: %s: %s" % (cmd, reply["error"]), file=sys.stderr)
            return 1
        if cmd != "qmp_capabilities":
            print(json.dumps(reply.get("return")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
