pub mod proto;
pub mod storage;
