use actix_web::web;

use crate::problem::ApiError;

/// Runs a blocking use case (it talks to the database) on the blocking pool,
/// keeping the request's tracing span.
pub async fn blocking<T, E>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    let span = tracing::Span::current();
    web::block(move || span.in_scope(work))
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("blocking task failed: {e}")))?
        .map_err(Into::into)
}
