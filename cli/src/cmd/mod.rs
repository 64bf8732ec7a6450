pub mod btf;
pub mod check;
pub mod demo;
pub mod extract;
pub mod inspect;
pub mod kernel;
pub mod load;
pub mod run;
