pub mod btf;
pub mod check;
pub mod inspect;
