//! Tests of the static linker.
