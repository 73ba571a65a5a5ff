"""The inference hot path: in-memory routing state, target selection and the pipeline."""
