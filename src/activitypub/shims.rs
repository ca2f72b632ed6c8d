// TEMPORARY: stands in for ap-delivery's `delivery::send` and ap-replies' comment functions until the merge.
use crate::store::DbResult;
pub async fn send(_: &mut sqlx::AnyConnection, _: &serde_json::Value, _: Vec<String>, _: i64) -> DbResult<()> {
    Ok(())
}
