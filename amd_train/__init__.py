"""Everything that learns: data, losses, trainer, test-time adaptation, evaluation."""
