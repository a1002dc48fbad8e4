/*
 * imap-private.h - what the files of the IMAP role share: the parsed
 * command, the session, the selected mailbox's view, the reply helpers and
 * the command handlers. Nothing outside imap/ includes it; the role's
 * public entry is imap/imap-role.h.
 *
 * Structure (STYLE.md, like smtp/): imap-parser.c turns input lines and
 * literals into a tree of arguments (struct imap_arg); imap-session.c owns
 * the session state, the output and the only function that changes the
 * state; imap-commands.c is the table pairing each command name with its
 * handler, allowed states and flags; cmd-<name>.c hold the handlers;
 * imap-sync.c sends the untagged EXISTS/RECENT/EXPUNGE/FETCH updates;
 * imap-fetch.c, imap-search.c, imap-list.c, imap-mutf7.c, imap-flags.c and
 * imap-seqset.c are the pure pieces the handlers use.
 *
 * RFCs: 3501 (IMAP4rev1) is the base; extensions as named on each handler.
 */
#ifndef POSTERN_IMAP_PRIVATE_H
#define POSTERN_IMAP_PRIVATE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "auth/auth-link.h"
#include "service.h"
#include "store/store.h"
#include "util.h"

struct conn;
struct config;
struct imap_role;
struct imap_session;
struct mime_message;

/* ---- limits ---- */

/* A command line (without literals) may be this long: RFC 7162 3 asks
 * servers to accept at least 8192 octets. */
#define IMAP_LINE_MAX 65536
/* A tag is at most this long (bytes); longer tags get an untagged BAD. */
#define IMAP_TAG_MAX 64
/* List nesting deeper than this is refused with BAD (no recursion on
 * input depth beyond it anywhere). */
#define IMAP_MAX_DEPTH 32
/* Arguments (atoms, strings, lists) per command. */
#define IMAP_MAX_ARGS 10000
/* Literals outside APPEND held in memory, summed per command. */
#define IMAP_MAX_MEMORY_LITERALS (256 * 1024)

/* ---- the parsed command (imap-parser.c) ---- */

enum imap_arg_type {
	IMAP_ARG_ATOM,     /* atom, incl. "NIL" as written, sequence sets, section specs */
	IMAP_ARG_STRING,   /* quoted string, unescaped */
	IMAP_ARG_LITERAL,  /* literal held in memory (data, len; may contain NULs) */
	IMAP_ARG_LITERAL_FD, /* APPEND message literal spooled to a file: fd, len */
	IMAP_ARG_LIST,     /* parenthesised list: children */
};

struct imap_arg {
	enum imap_arg_type type;
	char *data;                  /* ATOM/STRING/LITERAL: NUL-terminated (trust len) */
	size_t len;                  /* bytes in data, or the LITERAL_FD size */
	int fd;                      /* LITERAL_FD: read from offset 0; owned by the command */
	bool literal8;               /* ~{n} (RFC 3516 / 6855 later) */
	const struct imap_arg *list; /* LIST: children */
	size_t list_count;
	/* An atom that carries a bracketed part as one token: BODY[HEADER.FIELDS
	 * (A B)]<0.100> is a single ATOM whose data is the text exactly as sent
	 * (the parser keeps brackets balanced inside an atom, RFC 3501 9
	 * "fetch-att"). */
};

/* Helpers on arguments (imap-parser.c). */
bool imap_arg_is_atom(const struct imap_arg *a, const char *upper_name);
/* imap_arg_astring - atom, string or in-memory literal as a C string;
 * NULL for anything else or when it contains a NUL. */
const char *imap_arg_astring(const struct imap_arg *a);
/* imap_arg_is_nil - the atom NIL. */
bool imap_arg_is_nil(const struct imap_arg *a);

/* ---- the session (imap-session.c) ---- */

enum imap_state {
	IMAP_STATE_NOT_AUTH = 1 << 0,
	IMAP_STATE_AUTH = 1 << 1,
	IMAP_STATE_SELECTED = 1 << 2,
	IMAP_STATE_LOGOUT = 1 << 3,
};
#define IMAP_STATES_ANY (IMAP_STATE_NOT_AUTH | IMAP_STATE_AUTH | IMAP_STATE_SELECTED)
#define IMAP_STATES_AUTHED (IMAP_STATE_AUTH | IMAP_STATE_SELECTED)

/* Capabilities the client turned on with ENABLE (RFC 5161). */
#define IMAP_ENABLED_CONDSTORE 0x01
#define IMAP_ENABLED_QRESYNC   0x02
#define IMAP_ENABLED_UTF8      0x04

/*
 * The selected mailbox as this session sees it. Message sequence number n
 * (1-based) is uids[n-1]; the array changes only when imap-sync.c reports
 * EXISTS (append at the end) or EXPUNGE (remove), so sequence numbers the
 * client knows stay right between those reports (RFC 3501 7.4.1).
 */
struct imap_selected {
	struct store_mailbox *box;
	char *name;                 /* UTF-8 store name */
	bool readonly;              /* EXAMINE or read-only store */
	uint32_t *uids;             /* ascending */
	uint32_t count;             /* messages the client knows about (last EXISTS) */
	uint32_t alloc;
	uint32_t recent;            /* last RECENT reported */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	/* UIDs this session holds \Recent for (RFC 3501 2.3.2: one session
	 * gets it); sorted, small. */
	uint32_t *recent_uids;
	uint32_t n_recent_uids;
	bool changed;               /* the store notified a change not yet synced */
};

/* What the session knows about its settings and the user. Fields are set
 * by the session code; handlers read them. */
struct imap_session {
	struct imap_role *role;
	struct conn *conn;
	const struct config *cfg;    /* the listener's view */
	char id[16];                 /* log id */
	enum imap_state state;
	bool tls;                    /* the connection is encrypted */
	bool loopback;               /* the client is on a loopback address */
	unsigned enabled;            /* IMAP_ENABLED_* */
	char *user;                  /* authenticated user, NULL before */
	struct store_user *store;    /* the user's store, NULL before login */
	struct imap_selected *sel;   /* NULL unless SELECTED */
	/* The store mailbox of the selection SELECT/EXAMINE just left
	 * (imap_select_close_keep), until imap_select_open takes it again
	 * (same name and mode: its change notification saves a rescan) or
	 * closes it; NULL otherwise. Never held past one command. */
	struct store_mailbox *parked_box;
	char *parked_name;
	bool parked_readonly, parked_notify;
	char hierarchy_sep;          /* '/' or '.' (imap_hierarchy_separator) */
	/* Counters for the logout log line. */
	uint64_t bytes_in, bytes_out;
	uint32_t fetched, appended, expunged;
	/* (added, imapcore) Session internals: owned by imap-session.c and
	 * the login/select code; handlers of other files do not touch them. */
	struct imap_session_priv *priv;
};

/* ---- one command in progress ---- */

/* Command flags in the table (imap-commands.c). */
#define IMAP_CMD_FLAG_USES_SEQS   0x01 /* takes message sequence numbers: with
					* sequence numbers (not UID) no EXPUNGE
					* may be sent before its reply (RFC 3501 7.4.1) */
#define IMAP_CMD_FLAG_NO_LITERAL_FD 0x02 /* literals must be in memory */
#define IMAP_CMD_FLAG_APPEND      0x04 /* big literals spool to a file (APPEND) */

enum imap_cmd_result {
	IMAP_CMD_DONE,     /* the tagged reply was sent; the next command may run */
	IMAP_CMD_PENDING,  /* not finished: resume/cancel set; no further input is
			    * parsed until it is DONE (except IDLE's DONE line) */
};

struct imap_cmd {
	struct imap_session *sess;
	char tag[IMAP_TAG_MAX + 1];
	char name[32];               /* upper case, "FETCH"; for UID FETCH "FETCH" with uid true */
	bool uid;                    /* UID prefix */
	const struct imap_arg *args; /* the arguments after the command name */
	size_t nargs;
	unsigned flags;              /* IMAP_CMD_FLAG_* from the table */
	/* A handler that returns IMAP_CMD_PENDING sets these: resume is called
	 * again when the output has drained (big FETCH, SEARCH over many
	 * messages) or when an asynchronous answer arrived (AUTHENTICATE);
	 * cancel (may be NULL) when the connection ends first, to free ctx. */
	enum imap_cmd_result (*resume)(struct imap_cmd *cmd);
	void (*cancel)(struct imap_cmd *cmd);
	void *ctx;
	/* (added, imapcore) A PENDING command that reads client lines itself
	 * (AUTHENTICATE responses, IDLE's DONE) sets this: while it is set the
	 * lines go here instead of to the parser. NULL for everything else. */
	enum imap_cmd_result (*input_line)(struct imap_cmd *cmd, const char *line, size_t len);
};

typedef enum imap_cmd_result imap_cmd_fn(struct imap_cmd *cmd);

/* imap_cmd_async_done (added, imapcore) - a PENDING command whose
 * handler finished from an asynchronous callback (auth reply) after
 * sending its tagged reply: the session frees cmd and goes on with the
 * next command. cmd is invalid afterwards. */
void imap_cmd_async_done(struct imap_cmd *cmd);
/* imap_cmd_wake (added, imapcore) - call cmd->resume soon from the event
 * loop (a streaming handler whose output is already below the drain
 * mark, so no drain event would come). */
void imap_cmd_wake(struct imap_cmd *cmd);

/* ---- output (imap-session.c) ---- */

/* imap_send_untagged - "* " + formatted text + CRLF. Text must not
 * contain CR/LF except inside literals the caller wrote on purpose. */
void imap_send_untagged(struct imap_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* imap_write - raw bytes (a literal's data, a prebuilt FETCH line). */
void imap_write(struct imap_session *s, const void *data, size_t len);
/* imap_output_pending - bytes queued for the client; a handler streaming
 * a big response stops above IMAP_OUTPUT_HIGH and returns PENDING. */
size_t imap_output_pending(const struct imap_session *s);
#define IMAP_OUTPUT_HIGH (256 * 1024)

/*
 * imap_cmd_ok / imap_cmd_no / imap_cmd_bad - the tagged reply. code is a
 * response code without brackets ("READ-WRITE", "APPENDUID 1 5", NULL for
 * none); the text is formatted. imap_cmd_ok first sends the pending
 * untagged updates of the selected mailbox (imap_sync_report with
 * EXPUNGE allowed unless the command is a sequence-number
 * FETCH/STORE/SEARCH, RFC 3501 7.4.1); NO and BAD send the updates too
 * (EXPUNGE under the same rule). Always return IMAP_CMD_DONE after one.
 */
enum imap_cmd_result imap_cmd_ok(struct imap_cmd *cmd, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
enum imap_cmd_result imap_cmd_no(struct imap_cmd *cmd, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
enum imap_cmd_result imap_cmd_bad(struct imap_cmd *cmd, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* imap_cmd_store_error - NO with the RFC 5530 code a store error maps to
 * (TEMP -> UNAVAILABLE, NOTFOUND -> NONEXISTENT, EXISTS -> ALREADYEXISTS,
 * QUOTA -> OVERQUOTA, EXPUNGED -> EXPUNGEISSUED, PERM -> CANNOT) and its
 * text. */
enum imap_cmd_result imap_cmd_store_error(struct imap_cmd *cmd, const struct store_error *err);

/* imap_session_set_state - the only place the state changes (the login
 * deadline ends, the idle timeout starts). It logs nothing: of the state
 * changes only login and logout are logged, by their own code: the login
 * line ("imap-login: Login: user=<..>, method=..", imap_session_login) and
 * the disconnect line ("Disconnected: <reason>" with the byte counts, or
 * the failed-auth summary before login). SELECT/CLOSE are not logged. */
void imap_session_set_state(struct imap_session *s, enum imap_state state);

/* ---- the selected mailbox (imap-sync.c) ---- */

/* imap_select_open - open name (UTF-8 store name) for SELECT/EXAMINE,
 * replacing any selected mailbox (RFC 3501 6.3.1: the old one is closed
 * without expunge). On success the view holds every message and
 * notifications are on. 0, or -1 with err. */
int imap_select_open(struct imap_session *s, const char *name, bool readonly,
		     struct store_error *err);
/* imap_select_close - leave SELECTED (CLOSE expunges first: its caller);
 * also closes a parked mailbox. */
void imap_select_close(struct imap_session *s);
/* imap_select_close_keep - leave SELECTED for a SELECT/EXAMINE that
 * follows at once: the store mailbox stays open, parked, for
 * imap_select_open to take again if the same mailbox is selected in the
 * same mode (else it closes it). A failed SELECT calls imap_select_close. */
void imap_select_close_keep(struct imap_session *s);
/* imap_sync_report - sync the store and send EXPUNGE (when allowed),
 * EXISTS, RECENT and FETCH FLAGS for flag changes by others. */
void imap_sync_report(struct imap_session *s, bool allow_expunge);
/* imap_seq_to_uid / imap_uid_to_seq - 0 when out of range / not present. */
uint32_t imap_seq_to_uid(const struct imap_session *s, uint32_t seq);
uint32_t imap_uid_to_seq(const struct imap_session *s, uint32_t uid);
/* imap_has_recent - whether this session holds \Recent for uid. */
bool imap_has_recent(const struct imap_session *s, uint32_t uid);
/* imap_sync_own_change (added, imapcore) - STORE/COPY handlers tell the
 * sync that this session itself changed uid's flags to modseq, so the next
 * imap_sync_report does not echo it as an unsolicited FETCH (the handler
 * already answered, or was told .SILENT). Best effort: forgetting to call
 * it only costs a redundant FETCH (FLAGS) line. */
void imap_sync_own_change(struct imap_session *s, uint32_t uid, uint64_t modseq);
/* imap_session_base (added) - the worker's event loop, e.g. for timers. */
struct event_base *imap_session_base(const struct imap_session *s);

/* ---- sequence sets (imap-seqset.c) ---- */

struct imap_seq_range { uint32_t lo, hi; }; /* inclusive, lo <= hi */

/*
 * imap_seqset_resolve - parse a sequence-set ("1,3:5,7:*", ranges in any
 * order, '*' = the largest number in use, RFC 3501 9 "seq-number") for the
 * selected mailbox and turn it into the ascending, de-duplicated UIDs it
 * names (uid: the numbers are UIDs; '*' is then the highest UID, and UIDs
 * that do not exist are ignored, RFC 3501 6.4.8). Returns 0 with a new
 * array in *uids_r (caller frees; n may be 0), 1 when a sequence number is
 * out of range (BAD "Invalid messageset" for non-UID commands), -1 when
 * the text is not a sequence set or on OOM (*error_r static text).
 */
int imap_seqset_resolve(const struct imap_session *s, const char *text, bool uid,
			uint32_t **uids_r, size_t *n_r, const char **error_r);
/* imap_seqset_parse - the syntax only: ranges with '*' as UINT32_MAX,
 * into a new array (caller frees). 0 or -1. Used by SEARCH keys and for
 * formatting COPYUID sets. */
int imap_seqset_parse(const char *text, struct imap_seq_range **ranges_r, size_t *n_r);
/* imap_seqset_format - append UIDs (ascending) compactly as "1:3,7". */
int imap_seqset_format(struct strbuf *out, const uint32_t *uids, size_t n);

/* ---- flags (imap-flags.c) ---- */

/* imap_flags_format - "\Seen \Flagged kw1" (no parentheses); recent adds
 * \Recent. 0 or -1 when out is full. */
int imap_flags_format(struct strbuf *out, unsigned flags, const char *keywords, bool recent);
/* imap_flags_parse - a flag list argument (a LIST, or a single atom for
 * STORE's non-list form) into STORE_FLAG_* and a space-separated keyword
 * string (new memory, caller frees, "" when none). \Recent and unknown
 * system flags (\Foo) are errors, keywords must be atoms. 0 or -1 with
 * *error_r static text for BAD. */
int imap_flags_parse(const struct imap_arg *arg, unsigned *flags_r, char **keywords_r,
		     const char **error_r);

/* ---- mailbox names (imap-mutf7.c) ---- */

/* imap_mailbox_from_client - an IMAP mailbox argument (modified UTF-7,
 * RFC 3501 5.1.3; separator s->hierarchy_sep) to the store's UTF-8 name
 * with '/' separators; "inbox" in any case becomes "INBOX". New memory, or
 * NULL with *error_r for invalid modified UTF-7 or a name the store
 * refuses. */
char *imap_mailbox_from_client(const struct imap_session *s, const char *name,
			       const char **error_r);
/* imap_mailbox_to_client - the reverse; new memory or NULL on OOM. */
char *imap_mailbox_to_client(const struct imap_session *s, const char *name);
/* (added, imapmbox) imap_mailbox_pattern_from_client - a LIST reference or
 * pattern to the store's form like imap_mailbox_from_client, but '*', '%'
 * and empty levels are kept (no name checks). New memory or NULL with
 * *error_r (static text). */
char *imap_mailbox_pattern_from_client(const struct imap_session *s, const char *pattern,
				       const char **error_r);
/* (added) imap_mailbox_client_representable - false for a store name the
 * client cannot see faithfully (a '.' inside a level while the separator
 * is '.'); LIST leaves such names out. */
bool imap_mailbox_client_representable(const struct imap_session *s, const char *name);
/* (added) imap_mutf7_decode / imap_mutf7_encode - modified UTF-7 (RFC 3501
 * 5.1.3) to UTF-8 and back, appending to out, no separator or INBOX
 * handling. decode: 0, or -1 with *error_r (static text) for text that is
 * not canonical modified UTF-7 or does not fit out. encode: bytes that are
 * not UTF-8 become U+FFFD; 0, or -1 when out is full. */
int imap_mutf7_decode(const char *in, struct strbuf *out, const char **error_r);
int imap_mutf7_encode(const char *in, struct strbuf *out);

/* ---- LIST / LSUB (imap-list.c, added by imapmbox) ---- */

struct imap_list_pattern;

/* imap_list_pattern_new - reference + pattern (both in the store's form,
 * from imap_mailbox_pattern_from_client) compiled for matching with '*'
 * and '%' (RFC 3501 6.3.8) in bounded time. New object or NULL with
 * *error_r (static text: too long, OOM). */
struct imap_list_pattern *imap_list_pattern_new(const char *reference, const char *pattern,
						const char **error_r);
void imap_list_pattern_free(struct imap_list_pattern **p);
/* imap_list_pattern_match - whether the store name matches. Not
 * re-entrant for one pattern (uses its scratch space). */
bool imap_list_pattern_match(const struct imap_list_pattern *p, const char *name);
bool imap_list_pattern_has_pct(const struct imap_list_pattern *p);

/* One name the store knows (a copy of struct store_mailbox_info). */
struct imap_list_box {
	char *name;
	unsigned special_use;
	bool subscribed;
	bool exists;
};

/* What LIST/LSUB asked for (RFC 5258 selection and return options). */
struct imap_list_opts {
	bool lsub;             /* LSUB semantics (RFC 3501 6.3.9) */
	bool sel_subscribed;   /* (SUBSCRIBED) */
	bool sel_special_use;  /* (SPECIAL-USE), RFC 6154 */
	bool recursive;        /* (RECURSIVEMATCH) */
	bool ret_subscribed;   /* RETURN (SUBSCRIBED) */
	bool ret_special_use;  /* RETURN (SPECIAL-USE) */
	bool ret_children;     /* RETURN (CHILDREN) */
};

#define IMAP_LIST_NOSELECT      0x01
#define IMAP_LIST_NONEXISTENT   0x02
#define IMAP_LIST_HASCHILDREN   0x04
#define IMAP_LIST_HASNOCHILDREN 0x08
#define IMAP_LIST_SUBSCRIBED    0x10

struct imap_list_entry {
	char *name;            /* store form, owned */
	unsigned attrs;        /* IMAP_LIST_* */
	unsigned special_use;  /* STORE_SPECIAL_* */
	bool childinfo_subscribed; /* RECURSIVEMATCH: ("CHILDINFO" ("SUBSCRIBED")) */
};

/* imap_list_select - the names to answer with, in store order (INBOX
 * first), with their attributes. 0 with a new array (free with
 * imap_list_entries_free), or -1 on OOM. */
int imap_list_select(const struct imap_list_box *boxes, size_t nboxes,
		     struct imap_list_pattern *const *pats, size_t npats,
		     const struct imap_list_opts *o, struct imap_list_entry **out_r,
		     size_t *nout_r);
void imap_list_entries_free(struct imap_list_entry *v, size_t n);
/* imap_list_format - `VERB (attrs) "sep" "name"[ childinfo]` without
 * "* " and CRLF into out; special_use adds the RFC 6154 attributes.
 * 0 or -1 when out is full. */
int imap_list_format(struct strbuf *out, const char *verb, const struct imap_list_entry *e,
		     const char *client_name, char sep, bool special_use);
/* imap_list_quote - s as a quoted string ('"' and '\' escaped). 0 or -1. */
int imap_list_quote(struct strbuf *out, const char *s);
/* imap_special_use_from_name - "\Sent" (any case) -> STORE_SPECIAL_SENT; 0
 * if unknown. imap_special_use_format - the attribute names of the flags,
 * space-separated (a space first unless out is empty or ends in '('). */
unsigned imap_special_use_from_name(const char *name);
int imap_special_use_format(struct strbuf *out, unsigned special_use);

/* ---- APPEND date-time (imap-datetime.c, added by imapmbox) ---- */

/* imap_datetime_parse - RFC 3501 9 "date-time" without the quotes
 * ("17-Jul-1996 02:44:25 -0700", day may be space-padded) to a time_t.
 * 0, or -1 with *error_r (static text for BAD). */
int imap_datetime_parse(const char *s, time_t *t_r, const char **error_r);

/* ---- login hooks (cmd-list.c / imap-special-use.c) ---- */

/* imap_special_use_autocreate - after login: create Sent, Drafts, Trash,
 * Junk and Archive with their special-use flags (and subscribe them) when
 * the user has no mailbox with that flag yet (imap_autocreate_special_use).
 * Failures are logged, never fatal. */
void imap_special_use_autocreate(struct imap_session *s);

/* ---- capabilities (imap-session.c) ---- */

/* imap_capability_string - the CAPABILITY list for the session's state
 * (STARTTLS/LOGINDISABLED before TLS, AUTH=... from the auth role). */
void imap_capability_string(const struct imap_session *s, struct strbuf *out);

/* ---- handlers (cmd-*.c), paired with names in imap-commands.c ---- */

imap_cmd_fn imap_cmd_capability, imap_cmd_noop, imap_cmd_logout, imap_cmd_starttls,
	imap_cmd_authenticate, imap_cmd_login, imap_cmd_id, imap_cmd_enable;        /* cmd-auth.c, cmd-misc.c */
imap_cmd_fn imap_cmd_select, imap_cmd_examine, imap_cmd_close, imap_cmd_unselect,
	imap_cmd_check, imap_cmd_expunge, imap_cmd_idle;                           /* cmd-select.c, cmd-idle.c */
imap_cmd_fn imap_cmd_list, imap_cmd_lsub, imap_cmd_namespace, imap_cmd_create,
	imap_cmd_delete, imap_cmd_rename, imap_cmd_subscribe, imap_cmd_unsubscribe,
	imap_cmd_status, imap_cmd_append;                                          /* cmd-list.c, cmd-mailbox.c, cmd-status.c, cmd-append.c */
imap_cmd_fn imap_cmd_fetch, imap_cmd_store, imap_cmd_copy, imap_cmd_move;        /* cmd-fetch.c, cmd-store.c, cmd-copy.c */
imap_cmd_fn imap_cmd_search;                                                      /* cmd-search.c */

/* ==== (added, imapcore) the parser, the role and the session glue ==== */

/* ---- parser (imap-parser.c) ---- */

struct imap_parser;

/* How the parser learns a command's table flags as soon as it has read
 * the name (literals of APPEND spool to a file, others stay in memory):
 * IMAP_CMD_FLAG_* for name (upper case) with/without the UID prefix, or
 * -1 when there is no such command (or no UID form of it). */
typedef int imap_parser_flags_fn(const char *name, bool uid, void *ctx);

struct imap_parser_settings {
	imap_parser_flags_fn *flags_fn;
	void *flags_ctx;
	uint64_t literal_size_limit; /* APPEND message literals; 0: no limit */
	const char *tmp_dir;         /* where APPEND literals > 64 KiB spool (unlinked at once) */
};

/* Literals of APPEND above this size spool to a file. */
#define IMAP_LITERAL_SPOOL_MIN (64 * 1024)

enum imap_parse_result {
	IMAP_PARSE_DONE,    /* a command is complete: imap_parser_command() */
	IMAP_PARSE_LITERAL, /* a literal follows: out->literal_size bytes; when
			     * out->literal_sync the caller sends "+ OK" first;
			     * then feed them with imap_parser_literal() */
	IMAP_PARSE_ERROR,   /* send the reply imap_parser_error() describes; then,
			     * when out->discard > 0, read and drop that many bytes */
	IMAP_PARSE_IGNORE,  /* nothing to do (empty line, rest of a refused
			     * command); out->discard as for ERROR */
};

struct imap_parse_out {
	uint64_t literal_size;
	bool literal_sync;
	uint64_t discard;
};

/* imap_parser_new - a parser; NULL on OOM. settings are copied (tmp_dir
 * must outlive the parser). Free with imap_parser_free (sets NULL). */
struct imap_parser *imap_parser_new(const struct imap_parser_settings *set);
void imap_parser_free(struct imap_parser **p);
/* imap_parser_line - one input line without CRLF (may contain NULs). */
enum imap_parse_result imap_parser_line(struct imap_parser *p, const char *line, size_t len,
					struct imap_parse_out *out);
/* imap_parser_literal - len bytes of the announced literal (in chunks).
 * 0, or -1 when the spool file cannot be written (the parser then reports
 * IMAP_PARSE_ERROR "NO [UNAVAILABLE]" on the next line). */
int imap_parser_literal(struct imap_parser *p, const void *data, size_t len);
/* imap_parser_command - the complete command (after IMAP_PARSE_DONE):
 * pointers into the parser, valid until imap_parser_reset. */
void imap_parser_command(const struct imap_parser *p, const char **tag_r, const char **name_r,
			 bool *uid_r, const struct imap_arg **args_r, size_t *nargs_r);
/* imap_parser_error - the reply for IMAP_PARSE_ERROR: *tag_r "" for an
 * untagged "* BAD", *bad_r BAD or NO, *code_r response code or NULL,
 * *text_r the text. Static or parser memory, valid until the next call. */
void imap_parser_error(const struct imap_parser *p, const char **tag_r, bool *bad_r,
		       const char **code_r, const char **text_r);
/* imap_parser_reset - forget the command (frees its arguments, closes its
 * spool files). Also after a too-long line. */
void imap_parser_reset(struct imap_parser *p);
/* imap_parser_memory - bytes the parser holds now (tests, memory checks). */
size_t imap_parser_memory(const struct imap_parser *p);

/* ---- the command table (imap-commands.c) ---- */

struct imap_command_def {
	const char *name;        /* upper case */
	imap_cmd_fn *fn;
	unsigned states;         /* IMAP_STATE_* where it is allowed */
	unsigned flags;          /* IMAP_CMD_FLAG_* */
	bool uid_ok;             /* UID <name> exists */
};

/* imap_command_lookup - the table entry for name (case-insensitive), or
 * NULL. */
const struct imap_command_def *imap_command_lookup(const char *name);

/* ---- role (imap-role.c) and session (imap-session.c) glue ---- */

struct server;
struct auth_client;
struct event_base;
typedef struct ssl_ctx_st SSL_CTX;

/* Settings of one listener, read from its view (NAME/param overrides). */
struct imap_settings {
	uint64_t max_line;
	uint64_t literal_size_limit;
	long long login_timeout, idle_timeout, idle_notify_interval;
	long long max_userip;
	bool allow_plaintext_auth;
	bool autocreate_special_use;
	char hierarchy_sep;
	char mechs[256];            /* "PLAIN LOGIN SCRAM-SHA-256" */
	const char *auth_socket, *userdb_socket;
};

struct imap_listener {
	struct imap_role *role;
	const struct config_listener *cl;
	const struct config *view;
	SSL_CTX *ssl_ctx;           /* NULL: no TLS on this listener */
	bool implicit_tls;
	struct server *server;
	struct imap_settings set;
};

struct imap_role {
	struct event_base *base;
	const struct config *cfg;
	struct store_settings store_set;
	struct imap_listener *listeners;
	size_t n_listeners;
	struct auth_link auth;             /* SASL and userdb, connected lazily, again after a failure */
	struct imap_session *sessions;     /* every session of this worker */
	unsigned n_sessions;
	struct service svc;                /* SIGTERM and the stop sequence */
	char *tmp_dir;                     /* APPEND spool directory */
	unsigned worker;                   /* 1..imap_processes */
};

/* imap_role_auth / imap_role_userdb - the worker's auth clients,
 * connected on first use; NULL (logged) when the auth role is
 * unreachable. imap_role_auth_broken - forget a client that failed. */
struct auth_client *imap_role_auth(struct imap_role *role, const char *path);
struct auth_client *imap_role_userdb(struct imap_role *role, const char *path);
void imap_role_auth_broken(struct imap_role *role, struct auth_client *c);
/* imap_role_session_gone - a session ended (stop when the last one did). */
void imap_role_session_gone(struct imap_role *role);

/* imap_session_accept - a new connection on l (imap-role.c calls it). */
void imap_session_accept(struct imap_listener *l, struct conn *conn);
/* imap_session_shutdown - "* BYE Server shutting down." and close. */
void imap_session_shutdown(struct imap_session *s);
/* imap_session_shutdown_all - imap_session_shutdown for every session. */
void imap_session_shutdown_all(struct imap_role *role);
/* imap_session_free_all - end every session of role now (role exit). */
void imap_session_free_all(struct imap_role *role);
/* imap_session_listener - the session's listener (settings). */
const struct imap_listener *imap_session_listener(const struct imap_session *s);
/* imap_session_close - end after the output is flushed (LOGOUT, BYE). */
void imap_session_close(struct imap_session *s);
/* imap_session_login - a successful authentication as user (canonical
 * name) by method: userdb lookup, store open, limits, special-use
 * folders, then the tagged OK/NO for cmd and imap_cmd_async_done. */
void imap_session_login(struct imap_cmd *cmd, const char *user, const char *method);
/* imap_session_plaintext_ok - PLAIN/LOGIN and the LOGIN command are
 * allowed now (TLS, loopback or imap_allow_plaintext_auth). */
bool imap_session_plaintext_ok(const struct imap_session *s);
/* imap_session_tls_ctx - the listener's TLS context for STARTTLS or NULL. */
SSL_CTX *imap_session_tls_ctx(const struct imap_session *s);
/* imap_session_auth_failed - count a failed attempt (user may be NULL)
 * for the disconnect log line. */
void imap_session_auth_failed(struct imap_session *s, const char *user, const char *method);
/* imap_session_logout - LOGOUT was the reason the session ends. */
void imap_session_logout(struct imap_session *s);
/* imap_session_rip - the client's address (static per session). */
const char *imap_session_rip(const struct imap_session *s);

/* The system flags in FLAGS / PERMANENTFLAGS, in Dovecot's order. */
#define IMAP_SYSTEM_FLAGS "\\Answered \\Flagged \\Deleted \\Seen \\Draft"
/* imap_select_keywords - " kw1 kw2" (or ""): the keywords of the selected
 * mailbox the client was told about; valid until the next sync. */
const char *imap_select_keywords(const struct imap_session *s);
/* imap_select_first_unseen - sequence number of the first message without
 * \Seen at SELECT time, 0 when none. */
uint32_t imap_select_first_unseen(const struct imap_session *s);
/* imap_sync_send_flags - untagged FLAGS and OK [PERMANENTFLAGS] for the
 * selected mailbox (SELECT, and when a new keyword appears). */
void imap_sync_send_flags(struct imap_session *s);

/* ---- IDLE and the sync (cmd-idle.c, imap-sync.c) ---- */
/* imap_sync_set_idle - while cmd is IDLE, changes are reported at once. */
void imap_sync_set_idle(struct imap_session *s, struct imap_cmd *idle_cmd);
/* imap_sync_poke_others - s changed its selected mailbox: other sessions
 * of this worker with the same mailbox selected sync at their next reply,
 * idling ones at once (index-only changes such as keywords raise no
 * inotify event). */
void imap_sync_poke_others(struct imap_session *s);
/* imap_session_first / imap_session_next - the worker's sessions. */
struct imap_session *imap_session_first(struct imap_role *role);
struct imap_session *imap_session_next(struct imap_session *s);
/* imap_sync_poll_needed - true when no change notification works for the
 * selected mailbox (IDLE then polls every second). */
bool imap_sync_poll_needed(const struct imap_session *s);

#endif
