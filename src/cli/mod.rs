//! The command-line face: each subcommand is a thin layer over the library, so everything is scriptable.
