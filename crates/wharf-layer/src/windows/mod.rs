//! Windows layers (docs/windows-layer-format.md): the writer that follows every rule of the
//! Windows importer, the security-descriptor encoder it needs, the PAX
//! metadata records, the directory metadata of the layers below
//! ([`dir_index`], which new layers re-declare directories with), and the conversion to and from the layer folders that
//! Windows exports and imports ([`export`]).
//!
//! No Windows host is available where this is developed: the format is
//! verified by the tests and by an independent checker written in Python
//! (`tests/check_windows_layer.py`), not by importing layers into Windows.

pub mod dir_index;
pub mod export;
pub mod meta;
pub mod names;
pub mod sddl;
pub mod writer;
