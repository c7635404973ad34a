"""Development and demonstration tools: the simulator, the demo, the embedded broker and the local
production-like cluster. Nothing in production imports this layer (docs/architecture.md, "Layers")."""
