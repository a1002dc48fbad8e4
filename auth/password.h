/*
 * password.h - password hashes as stored in the user database.
 *
 * Stored form is Dovecot's "{SCHEME}hash", so that hashes exported from a
 * Dovecot passwd-file or SQL table can be imported unchanged:
 *   {ARGON2ID}$argon2id$v=19$m=...   libsodium crypto_pwhash_str (new hashes)
 *   {SHA512-CRYPT}$6$...             crypt(3) via libxcrypt (import only)
 *   {SHA256-CRYPT}$5$...             crypt(3) (import only)
 *   {BLF-CRYPT}$2y$... / $2b$ / $2a$ crypt(3) bcrypt (import only)
 * A hash that is not argon2id with the current cost is "weak": after the
 * next successful login passdb-virtual.c replaces it (password_needs_upgrade).
 *
 * Callers: passdb-virtual.c (verify, upgrade), cli/cmd-user.c (new hashes,
 * imported hashes). Verification and hashing are slow on purpose (argon2id
 * takes ~0.1 s and 64 MiB): the auth role calls them from worker threads.
 */
#ifndef POSTERN_AUTH_PASSWORD_H
#define POSTERN_AUTH_PASSWORD_H

#include <stdbool.h>

/* Longest password accepted anywhere (SASL data, prompts). */
#define PASSWORD_MAX_LEN 1024
/* Longest stored hash accepted (import and database records). */
#define PASSWORD_HASH_MAX_LEN 512

/* password_init - initialise libsodium once; 0, or -1 with *error_r. */
int password_init(const char **error_r);

/* password_hash - new "{ARGON2ID}..." hash of plain; new memory (caller
 * frees), or NULL with *error_r static (out of memory, too long). */
char *password_hash(const char *plain, const char **error_r);

/* password_verify - 1 when plain matches stored, 0 when it does not, -1
 * with *error_r static when stored is malformed or its scheme unknown.
 * The comparison is constant-time in the hash bytes. */
int password_verify(const char *stored, const char *plain, const char **error_r);

/* password_needs_upgrade - true when stored is not an argon2id hash with
 * the current parameters. */
bool password_needs_upgrade(const char *stored);

/* password_check_import - 0 when stored is a "{SCHEME}hash" this module
 * can verify; -1 with *error_r static naming the problem otherwise. */
int password_check_import(const char *stored, const char **error_r);

#endif
