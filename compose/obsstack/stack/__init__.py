"""The bundle: configuration of the stack's components, the native runner, the on-call inbox."""
