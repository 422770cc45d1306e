//! The store's own trait: its backend's name and a ping, written once for both
//! databases (see `crate::shared`).

/// Implements `houston_store::Store` for `$store`, expanded inside a backend's
/// module, where `super::dialect` is that backend's dialect.
macro_rules! store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl houston_store::Store for $store {
            fn backend(&self) -> &'static str {
                super::dialect::NAME
            }

            #[tracing::instrument(skip(self))]
            async fn ping(&self) -> Result<(), houston_store::StoreError> {
                sqlx::query("SELECT 1")
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(crate::backend_error)
            }
        }
    };
}
pub(crate) use store;
