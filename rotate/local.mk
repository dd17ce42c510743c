# rotate/: DNS propagation checks and the rotation policy engine.
