//! Integration tests of the loader against outside oracles and (later) the kernel.

mod oracle;
