pub mod proto;
pub mod tree;
