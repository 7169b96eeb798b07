#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Panics the rig's kernel on purpose: the rig must report the panic with
# the console log and must not hang.
echo "TAP version 13"
insmod "$KSOC_TOP/build/k612/selftests/rig/ksoc_rig_fault.ko" mode=panic
echo "ok 1 still alive after the panic module (the rig must fail anyway)"
echo "1..1"
