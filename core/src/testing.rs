//! MockHost placeholder
