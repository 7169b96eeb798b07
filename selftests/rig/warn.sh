#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Loads the deliberate-WARN module.  This script itself "passes": only the
# rig's dmesg scan can tell the run is bad, which is what it proves.
echo "TAP version 13"
insmod "$KSOC_TOP/build/k612/selftests/rig/ksoc_rig_fault.ko" mode=warn
echo "ok 1 loaded ksoc_rig_fault mode=warn"
rmmod ksoc_rig_fault
echo "1..1"
