// SPDX-License-Identifier: GPL-2.0
/*
 * Deliberately failing selftest, for tools/rig-selftest.sh: the rig must
 * report this failure.  Never part of the normal suite.
 */
#include "kselftest_harness.h"

TEST(passes)
{
	EXPECT_EQ(1, 1);
}

TEST(fails_on_purpose)
{
	EXPECT_EQ(1, 2) TH_LOG("deliberate failure: the rig must report it");
}

TEST_HARNESS_MAIN
