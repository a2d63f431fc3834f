"""Work that combines the core with the model: chat, chains, authoring."""
