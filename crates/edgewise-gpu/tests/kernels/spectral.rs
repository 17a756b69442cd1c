//! GPU against CPU for this family (being written).
