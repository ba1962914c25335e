// Placeholder entry point; replaced by the real bootstrap.
export {};
