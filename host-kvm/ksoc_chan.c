// SPDX-License-Identifier: GPL-2.0
/* The shared channel helpers, built into this module. */
#include "../common/ksoc_chan.c"
