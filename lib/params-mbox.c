/*
 * params-mbox.c - locking parameters of the mbox mailbox format (Dovecot's
 * names: Postfix's local(8) calls the same thing mailbox_delivery_lock).
 * Pure data: see params.h for the meaning of each field. Read by
 * store/mbox-lock.c (mbox_lock_settings_from_config), which also checks
 * the method names, since a PARAM_LIST carries no choices.
 */
#include "params-private.h"

const struct param_def params_mbox[] = {
	{ .name = "mbox_read_locks", .type = PARAM_LIST, .default_value = "fcntl",
	  .section = "Mail store",
	  .doc = "Locks taken, in this order, to read an mbox: fcntl, flock, dotlock, dotlock_try (must match every other program that reads it)" },
	{ .name = "mbox_write_locks", .type = PARAM_LIST, .default_value = "fcntl dotlock",
	  .section = "Mail store",
	  .doc = "Locks taken, in this order, to change an mbox; the default is Debian Postfix's mailbox_delivery_lock and mutt's order (Dovecot's default is dotlock fcntl)" },
	{ .name = "mbox_lock_timeout", .type = PARAM_TIME, .default_value = "5m",
	  .min = 1, .max = 3600, .time_unit = 's', .section = "Mail store",
	  .doc = "Give up waiting for the mbox locks after this long; the delivery is deferred (4xx), the IMAP command fails temporarily" },
	{ .name = "mbox_dotlock_change_timeout", .type = PARAM_TIME, .default_value = "300s",
	  .min = 1, .max = 86400, .time_unit = 's', .section = "Mail store",
	  .doc = "A FILE.lock dotlock not modified for this long is stale (its owner crashed) and is removed with a warning (Postfix: stale_lock_time)" },
	{ .name = NULL }
};
