//! Reading a protocol back.
