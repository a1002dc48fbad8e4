/*
 * mbox-quote.c - the mboxrd From_ quoting rule in one place, so the writer
 * (mbox-write.c adds a '>' to ^>*From_ lines) and the reader
 * (mbox-parse.c removes one from ^>+From_ lines) can never disagree. The
 * test is streamed byte by byte with no length limit: a bounded look-ahead
 * would make lines with a very long '>' run quote one way and unquote the
 * other.
 */
#include "mbox-private.h"

static const char from_[] = "From ";

void mbox_quote_init(struct mbox_quote *q)
{
	q->state = MBOX_QUOTE_UNDECIDED;
	q->run = 0;
	q->matched = 0;
}

size_t mbox_quote_feed(struct mbox_quote *q, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && q->state == MBOX_QUOTE_UNDECIDED) {
		char c = p[i++];

		if (q->matched == 0 && c == '>') {
			q->run++;
		} else if (c == from_[q->matched]) {
			if (++q->matched == sizeof(from_) - 1)
				q->state = MBOX_QUOTE_YES;
		} else {
			q->state = MBOX_QUOTE_NO;
		}
	}
	return i;
}

bool mbox_quote_test(const char *line, size_t n)
{
	struct mbox_quote q;

	mbox_quote_init(&q);
	mbox_quote_feed(&q, line, n);
	return q.state == MBOX_QUOTE_YES && q.run > 0;
}
