/* Inside the store: rows of the column lists in statements.h read into the records of
 * store.h. Point queries and lists share them, so that both read a row alike. */
#ifndef PUSH_ROWS_H
#define PUSH_ROWS_H

#include "store/store.h"

void push_row_device(push_db_t *db, apr_dbd_row_t *row, void *out);     /* push_mf_device_t */
void push_row_tag(push_db_t *db, apr_dbd_row_t *row, void *out);        /* push_tag_t */
void push_row_tag_counted(push_db_t *db, apr_dbd_row_t *row, void *out);
void push_row_subscription(push_db_t *db, apr_dbd_row_t *row, void *out); /* push_subscription_t */
void push_row_app(push_db_t *db, apr_dbd_row_t *row, void *out);        /* push_app_t */
void push_row_webhook(push_db_t *db, apr_dbd_row_t *row, void *out);    /* push_webhook_t */

#endif
