/*
 * mbox-backend-private.h - what the two halves of the mbox backend share:
 * mbox-backend.c (settings, the user level and the mailbox tree, the
 * struct store_backend) and mbox-box.c (one open mailbox: locks, sync,
 * messages, UID state). Nothing else includes it.
 */
#ifndef POSTERN_MBOX_BACKEND_PRIVATE_H
#define POSTERN_MBOX_BACKEND_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/mbox-private.h"
#include "store/store-backend.h"

/* mbox_be_locks - the lock settings in force (mbox_backend_set_locks). */
const struct mbox_lock_settings *mbox_be_locks(void);

/* mbox_be_mkdir_parents - create the missing directories above path
 * (0700). 0 or -1 with errno. */
int mbox_be_mkdir_parents(const char *path);

/* mbox_be_create_empty - create path 0600 if missing: 1 created (and its
 * directory fsync'd), 0 it existed, -1 with errno. */
int mbox_be_create_empty(const char *path);

/* mbox_be_mailbox_path - the file of mailbox name, new memory; NULL for a
 * name that cannot be one (a level starting with '.', "*.lock"). */
char *mbox_be_mailbox_path(struct store_user *u, const char *name);

/* mbox_be_side_files - the expunge journal and the UID state file of the
 * mbox at path ("" when a name does not fit). */
void mbox_be_side_files(const char *path, char *journal, size_t jsize, char *uids, size_t usize);

/* The open-mailbox entries of struct store_backend (store-backend.h
 * documents each), in mbox-box.c. */
int mbox_box_open(struct store_mailbox *box, struct store_error *err);
void mbox_box_close(struct store_mailbox *box);
int mbox_box_lock(struct store_mailbox *box, bool exclusive, struct store_error *err);
void mbox_box_unlock(struct store_mailbox *box);
int mbox_box_sync_check(struct store_mailbox *box, const void *stamp, size_t len);
int mbox_box_sync_scan(struct store_mailbox *box, struct store_sync *sc, struct store_error *err);
int mbox_box_msg_open(struct store_mailbox *box, const struct store_backend_msg *m, int *fd_r,
		      off_t *offset_r, uint64_t *size_r, struct store_error *err);
int mbox_box_msg_append(struct store_mailbox *box, const struct store_source *src,
			const struct store_backend_msg *m, char **loc_r, uint64_t *physical_r,
			uint64_t *vsize_r, struct store_error *err);
int mbox_box_msg_append_undo(struct store_mailbox *box, const char *loc,
			      struct store_error *err);
int mbox_box_msg_set_flags(struct store_mailbox *box, const struct store_backend_msg *m,
			   unsigned new_flags, char **new_loc_r, struct store_error *err);
int mbox_box_msg_expunge(struct store_mailbox *box, const struct store_backend_msg *m,
			 struct store_error *err);
int mbox_box_expunge_finish(struct store_mailbox *box, struct store_error *err);
size_t mbox_box_watch_paths(struct store_mailbox *box, const char **paths, size_t max);
int mbox_box_uid_state_read(struct store_mailbox *box, uint32_t *uidvalidity_r,
			    uint32_t *uidnext_r, struct store_error *err);
int mbox_box_uid_state_write(struct store_mailbox *box, uint32_t uidvalidity, uint32_t uidnext,
			     struct store_error *err);

#endif
