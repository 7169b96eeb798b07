#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Never finishes: the rig's timeout must end the run as a failure, with the
# console log, instead of hanging.
echo "TAP version 13"
echo "# hanging on purpose"
sleep 100000
echo "ok 1 woke up"
echo "1..1"
