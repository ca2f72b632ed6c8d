// TEMPORARY: stands in for ap-delivery's `delivery::send` and ap-replies' comment functions until the merge.
use crate::store::{DbError, DbResult};
pub async fn send(_: &mut sqlx::AnyConnection, _: &serde_json::Value, _: Vec<String>, _: i64) -> DbResult<()> {
    Ok(())
}
pub struct RemoteReply {
    pub slug: String,
    pub parent_id: Option<i64>,
    pub remote_id: String,
    pub remote_actor: String,
    pub author_name: String,
    pub author_url: String,
    pub content_html: String,
    pub published_at: Option<i64>,
}
pub struct Submitted {
    pub status: crate::comments::model::CommentStatus,
}
#[derive(Debug, thiserror::Error)]
pub enum CommentError {
    #[error("x")]
    Invalid(Vec<(&'static str, String)>),
    #[error("db")]
    Db(DbError),
    #[error("o")]
    Other,
}
pub async fn submit_remote(
    _: &crate::store::Db,
    _: &crate::config::comments::CommentsConfig,
    _: RemoteReply,
) -> Result<Submitted, CommentError> {
    Err(CommentError::Other)
}
pub async fn delete_remote(_: &crate::store::Db, _: &str, _: &str) -> Result<bool, CommentError> {
    Ok(false)
}
