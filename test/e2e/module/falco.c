// SPDX-License-Identifier: GPL-2.0
/*
 * A stand-in for the Falco kernel module, for the end-to-end test only (test/e2e/README section of the main README).
 * It is named like the driver (falco), carries a driver version in MODULE_VERSION, and does nothing but say hello:
 * what the test measures is the loader (download, checks, cache, insmod, rmmod, DKMS), not the driver.
 */
#include <linux/init.h>
#include <linux/module.h>

#ifndef FALCO_E2E_VERSION
#define FALCO_E2E_VERSION "9.9.9+driver"
#endif

static int __init falco_e2e_init(void)
{
	pr_info("falco e2e stand-in %s loaded\n", FALCO_E2E_VERSION);
	return 0;
}

static void __exit falco_e2e_exit(void)
{
	pr_info("falco e2e stand-in unloaded\n");
}

module_init(falco_e2e_init);
module_exit(falco_e2e_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("falco-driver-loader e2e test");
MODULE_DESCRIPTION("Stand-in for the Falco kernel module (e2e test)");
MODULE_VERSION(FALCO_E2E_VERSION);
