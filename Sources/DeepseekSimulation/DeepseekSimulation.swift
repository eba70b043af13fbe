// DeepseekSimulation: see docs/simulation.md.
