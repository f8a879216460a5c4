"""The console's pages; each module adds its routes to the one `console` blueprint."""
