"""The line of residents waiting for an operator: holding, or waiting for a callback."""
