//! The pipeline: processor, exporter and the writer thread.
