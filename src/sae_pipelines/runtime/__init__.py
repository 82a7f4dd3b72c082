"""What the person running the project sees: quiet start-up, progress, timings, input errors."""
