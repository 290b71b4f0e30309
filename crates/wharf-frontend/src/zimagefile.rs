//! The ZImagefile (YAML) front end.
