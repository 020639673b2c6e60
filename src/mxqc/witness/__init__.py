"""Physical measurements per class on the raw frame, each able to say itself."""
