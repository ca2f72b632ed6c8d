//! SQL for ActivityPub's tables (migration 0022), one file per table family. Both backends
//! share each text (`$n` placeholders, `ON CONFLICT`, BIGINT times).

pub mod actors;
pub mod deliveries;
pub mod followers;
pub mod reactions;
