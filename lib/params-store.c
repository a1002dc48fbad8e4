/*
 * params-store.c - parameters of the mail store and local delivery
 * (store/). Pure data: see params.h. Postfix names where Postfix has the
 * same meaning (recipient_delimiter, mailbox_size_limit), Dovecot names
 * otherwise (quota_full_tempfail, lda_mailbox_autocreate,
 * lmtp_save_to_detail_mailbox).
 */
#include "params-private.h"

const struct param_def params_store[] = {
	{ .name = "recipient_delimiter", .type = PARAM_STRING, .default_value = "+",
	  .section = "Mail store",
	  .doc = "Separator between a user name and an address extension (user+ext); empty: no extensions" },
	{ .name = "lmtp_save_to_detail_mailbox", .type = PARAM_BOOL, .default_value = "no",
	  .section = "Mail store",
	  .doc = "Deliver user+ext mail into the folder named ext (created if lda_mailbox_autocreate) instead of INBOX" },
	{ .name = "lda_mailbox_autocreate", .type = PARAM_BOOL, .default_value = "yes",
	  .section = "Mail store",
	  .doc = "Create a missing target folder on delivery; no: deliver into INBOX instead" },
	{ .name = "lda_mailbox_autosubscribe", .type = PARAM_BOOL, .default_value = "yes",
	  .section = "Mail store",
	  .doc = "Subscribe to a folder that delivery created" },
	{ .name = "mailbox_size_limit", .type = PARAM_SIZE, .default_value = "0",
	  .min = 0, .max = 0, .section = "Mail store",
	  .doc = "Quota: total bytes of a user's mail (0: unlimited); a userdb quota= overrides it" },
	{ .name = "mailbox_message_limit", .type = PARAM_INT, .default_value = "0",
	  .min = 0, .max = 2000000000, .section = "Mail store",
	  .doc = "Quota: number of messages a user may keep (0: unlimited)" },
	{ .name = "quota_full_tempfail", .type = PARAM_BOOL, .default_value = "no",
	  .section = "Mail store",
	  .doc = "Over quota on delivery: yes answers 4xx (try later), no 5xx (bounce), as Dovecot" },
	{ .name = NULL }
};
