pub mod btf;
pub mod inspect;
