/*
 * settings.c - struct store_settings from the configuration (the
 * parameters of lib/params-store.c plus mail_location, data_directory and
 * myhostname) or from the registry defaults for tests.
 *
 * Called by: the queue role and imap/pop3 at start-up, the CLI.
 */
#include <string.h>

#include "config.h"
#include "params.h"
#include "store/mbox-private.h"
#include "store/store.h"

int store_settings_from_config(struct store_settings *s, const struct config *cfg, char **error_r)
{
	memset(s, 0, sizeof(*s));
	s->mail_location = config_str(cfg, "mail_location");
	s->data_directory = config_str(cfg, "data_directory");
	s->hostname = config_str(cfg, "myhostname");
	s->recipient_delimiter = config_str(cfg, "recipient_delimiter");
	s->save_to_detail_mailbox = config_bool(cfg, "lmtp_save_to_detail_mailbox");
	s->mailbox_autocreate = config_bool(cfg, "lda_mailbox_autocreate");
	s->mailbox_autosubscribe = config_bool(cfg, "lda_mailbox_autosubscribe");
	s->quota_bytes = (uint64_t)config_size(cfg, "mailbox_size_limit");
	s->quota_messages = (uint64_t)config_int(cfg, "mailbox_message_limit");
	s->quota_full_tempfail = config_bool(cfg, "quota_full_tempfail");
	/* The mbox format keeps its lock settings itself; this also links it in. */
	return mbox_backend_configure(cfg, error_r) < 0 ? -1 : 0;
}

void store_settings_defaults(struct store_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->mail_location = "maildir:/var/vmail/%d/%n";
	s->data_directory = "/var/lib/postern";
	s->hostname = "localhost";
	s->recipient_delimiter = "+";
	s->save_to_detail_mailbox = false;
	s->mailbox_autocreate = true;
	s->mailbox_autosubscribe = true;
	s->quota_full_tempfail = false;
}
