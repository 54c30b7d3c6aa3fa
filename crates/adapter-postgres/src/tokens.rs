//! Token look-ups, coalesced: the rest of the token store is the store core's.

use crate::batch::ReadMany;
use crate::error::store_error;
use crate::store::PgStore;
use absync_application::ports::TokenRecord;
use absync_store_core::rows::TokenRow;
use sqlx::PgPool;
use std::sync::Arc;

/// A [`TokenRow`] with the hash it was found by.
#[derive(sqlx::FromRow)]
struct HashedRow {
    token_hash: Vec<u8>,
    #[sqlx(flatten)]
    token: TokenRow,
}

/// Finds the active tokens of several hashes in one statement (the look-ups asked meanwhile,
/// coalesced: every call authenticates, and concurrent calls mostly carry the same few tokens). Each
/// statement starts after the calls it answers were made, so a token revoked before a call is
/// refused to it.
pub(crate) fn find_many(pool: PgPool) -> ReadMany<[u8; 32], Option<TokenRecord>> {
    Arc::new(move |hashes: Vec<[u8; 32]>| {
        let pool = pool.clone();
        Box::pin(async move {
            let keys: Vec<&[u8]> = hashes.iter().map(<[u8; 32]>::as_slice).collect();
            let rows: Vec<HashedRow> = sqlx::query_as(&format!(
                "SELECT token_hash, {} FROM api_tokens
                 WHERE token_hash = ANY($1::bytea[]) AND revoked_at IS NULL",
                absync_store_core::tokens::columns::<PgStore>()
            ))
            .bind(&keys)
            .fetch_all(&pool)
            .await
            .map_err(store_error)?;
            let mut found: Vec<Option<TokenRecord>> = hashes.iter().map(|_| None).collect();
            for row in rows {
                let hash = row.token_hash;
                let record = TokenRecord::try_from(row.token)?;
                for (asked, slot) in hashes.iter().zip(&mut found) {
                    if asked.as_slice() == hash.as_slice() {
                        *slot = Some(record.clone());
                    }
                }
            }
            Ok(found)
        })
    })
}
